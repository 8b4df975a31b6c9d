"""Execution-guided choice: run several candidate queries on a snapshot, keep the answer most agree on.

A small model's greedy query is often close but wrong; sampling a few more
under the grammar and running each shows which ones *mean* the same thing.
`choose` takes the candidates (the greedy query first), then

1. validates each (parse + dialect checks + catalog), dropping the invalid;
2. runs each distinct valid query once on the snapshot, under a time budget per
   candidate and a cap on the result's size, dropping those that error, time
   out, or return nothing where the question expects something (a question
   such as "are there any 5xx?" may legitimately be answered by nothing);
3. groups the survivors whose results `nlq.results.compare` finds equal: each
   group's votes are the number of candidates in it (a query sampled twice
   votes twice);
4. picks the group with the most votes; a tie goes to the group holding the
   greedy query (the model's own first choice; the backends report no
   log-probabilities to break it finer), then to the earliest candidate.  Inside
   the group the greedy query, else its most frequent text, is the answer.

The queries run on a *local snapshot*: the fixed, generated DuckDB data in
.cache/snapshots (the default variant shop-a) or a world synthesized from the
catalog under the nlq cache.  Nothing here ever contacts a
live Prometheus, Loki or Datadog: nlq never runs queries against a live system.
A team's own catalog runs on the world synthesized from it
(`nlq.snapshot.worlds`: generated local data shaped by each metric's type);
where none can be built, choice is skipped with a warning and the greedy
query stands.

    >>> choice = choose("5xx rate of checkout", "promql", ["sum(rate(...))", "rate(...)"], catalog)  # doctest: +SKIP
    >>> choice.chosen_query, [c.votes for c in choice.candidates]                                      # doctest: +SKIP
"""

from __future__ import annotations

import functools
import re
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from nlq import dialects
from nlq.catalog import Catalog
from nlq.errors import NlqError, QueryError
from nlq.results import Result, TimeRange, compare

#: greedy: the model's answer as it is; exec: always sample candidates and vote; exec-if-empty:
#: run the greedy answer on the snapshot first, and sample and vote only when it fails or
#: returns nothing where the question expects something (most answers skip the sampling)
CHOICE_MODES = ("greedy", "exec", "exec-if-empty")
DEFAULT_CANDIDATES = 4
DEFAULT_TEMPERATURE = 0.7
#: seconds one candidate may run on the snapshot before it is interrupted and dropped
DEFAULT_BUDGET_S = 2.0
#: samples (points or log lines) above which a result is dropped: no question an SRE asks
#: needs more, and comparing such results would cost more than the choice is worth
MAX_RESULT_SAMPLES = 200_000
DEFAULT_VARIANT = "shop-a"
#: how far back candidates are evaluated, as the benchmark does by default (1h at 1m steps)
DEFAULT_RANGE_MS = 3_600_000
DEFAULT_STEP_MS = 60_000

# Questions that ask whether something exists or happened: an empty answer is an answer.
_EXISTENCE = re.compile(
    r"\b(any|anything|is there|are there|was there|were there|did|whether|ever|zero|none|absent|missing)\b",
    re.IGNORECASE,
)


_connections: dict[str, Any] = {}
_connections_lock = threading.Lock()


class ChoiceUnavailable(NlqError):
    """No snapshot holds data for this catalog, so candidates cannot be run."""


@dataclass
class Candidate:
    """One candidate query and what became of it."""

    query: str
    #: "greedy" (the translation's own answer) or "sample"
    source: str
    valid: bool = False
    #: "answer", "empty" (nothing, where the question expects something), "error", "timeout",
    #: "too-large", "invalid" (did not validate); a repeated query shares its first run's outcome
    outcome: str = "invalid"
    error: str | None = None
    canonical: str | None = None
    samples: int = 0
    run_s: float = 0.0
    #: index of the agreement group (None when dropped)
    group: int | None = None
    votes: int = 0
    ast: Any = field(default=None, repr=False)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "source": self.source,
            "valid": self.valid,
            "outcome": self.outcome,
            "error": self.error,
            "samples": self.samples,
            "run_s": round(self.run_s, 6),
            "group": self.group,
            "votes": self.votes,
        }


@dataclass
class Choice:
    """The candidates, how they voted, and which one won."""

    candidates: list[Candidate] = field(default_factory=list)
    #: index into `candidates` of the winner (None when none survived)
    chosen: int | None = None
    snapshot: str = ""
    expects_answer: bool = True
    #: why the choice was not made (no snapshot for the catalog...), else None
    skipped: str | None = None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def chosen_candidate(self) -> Candidate | None:
        return None if self.chosen is None else self.candidates[self.chosen]

    @property
    def chosen_query(self) -> str | None:
        winner = self.chosen_candidate
        return winner.query if winner else None

    def to_dict(self) -> dict:
        groups = Counter(c.group for c in self.candidates if c.group is not None)
        return {
            "snapshot": self.snapshot,
            "expects_answer": self.expects_answer,
            "skipped": self.skipped,
            "chosen": self.chosen,
            "query": self.chosen_query,
            "votes": {str(g): n for g, n in sorted(groups.items())},
            "candidates": [c.to_dict() for c in self.candidates],
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }


def expects_answer(question: str) -> bool:
    """False for questions an empty result can answer ("any 5xx?", "did checkout restart?")."""
    return not _EXISTENCE.search(question)


def default_time_range() -> TimeRange:
    """The last hour of the snapshots at one-minute steps (the benchmark's default window)."""
    from nlq.snapshot.world import load_world

    end = load_world().end_ms
    return TimeRange.range(end - DEFAULT_RANGE_MS, end, DEFAULT_STEP_MS)


def snapshot_for(catalog: Catalog | None, dialect: str, queries: list[str] | tuple[str, ...] = ()) -> tuple[Any, str]:
    """(connection, name) of the local snapshot holding data for `catalog`.

    No catalog, or a benchmark world's own (the shop's, the renamed shop's:
    `nlq.evaluation.scoring.WORLDS`), runs on that world's first variant, real
    data.  Another catalog runs on the first variant of the world synthesized
    from it (`nlq.snapshot.worlds`, built once and cached, the same file the
    eval scores that catalog's cases on); past the size a world holds whole, on
    the slice of it that `queries` name.  Where no world can be built,
    `ChoiceUnavailable`.
    """
    from nlq import snapshot
    from nlq.constrain.narrow import catalog_fingerprint
    from nlq.evaluation.scoring import open_variant

    variant = DEFAULT_VARIANT if catalog is None else _world_variants(dialect).get(catalog_fingerprint(catalog))
    if variant is not None:
        return _connection(variant, lambda: open_variant(variant)), variant
    try:
        from nlq.snapshot.worlds import catalog_world, world_catalog

        world = world_catalog(catalog, "\n".join(queries))
        name, path = next(iter(catalog_world([world], variants=1).items()))
    except Exception as exc:  # noqa: BLE001 - no world means no choice, never a failed translation
        raise ChoiceUnavailable(f"execution-guided choice skipped: no local world could be synthesized for this "
                                f"catalog ({type(exc).__name__}: {exc}); the greedy query stands") from exc
    return _connection(str(path), lambda: snapshot.open_snapshot(path)), f"{name}:{path.parent.name}"


@functools.cache
def _world_variants(dialect: str) -> dict[str, str]:
    """Catalog fingerprint -> first variant, for every benchmark world with real data."""
    from nlq.catalog import load_catalog
    from nlq.constrain.narrow import catalog_fingerprint
    from nlq.evaluation.scoring import WORLDS, world_defaults

    out = {}
    for world in WORLDS:
        variants, folder = world_defaults(world)
        path = folder / f"{dialect}.json"
        if path.is_file():
            out[catalog_fingerprint(load_catalog(path, dialect))] = variants[0]
    return out


def _connection(key: str, opener: Any) -> Any:
    """One read-only connection per snapshot file and process; each run takes its own cursor."""
    with _connections_lock:
        if key not in _connections:
            _connections[key] = opener()
        return _connections[key]


def run_bounded(dialect: str, ast: Any, conn: Any, time_range: TimeRange,
                budget_s: float = DEFAULT_BUDGET_S) -> tuple[Result | None, str, str | None, float]:
    """(result, outcome, error, seconds) of one query on `conn`, interrupted after `budget_s`.

    The query runs on its own cursor so that the interrupt reaches only it; a
    watchdog keeps interrupting past the budget because an engine may issue
    several SQL statements in turn.  DuckDB interrupts SQL, not the engine's
    Python between statements, so a candidate can overrun by that much; it is
    dropped as "timeout" all the same.
    """
    from nlq.engine import run_query

    cursor = conn.cursor()
    done = threading.Event()

    def watchdog() -> None:
        if done.wait(budget_s):
            return
        while not done.is_set():
            cursor.interrupt()
            done.wait(0.02)

    guard = threading.Thread(target=watchdog, daemon=True)
    started = time.perf_counter()
    guard.start()
    try:
        result = run_query(dialect, ast, cursor, time_range)
        outcome, error = "answer", None
    except Exception as exc:  # noqa: BLE001 - an engine failure drops the candidate, never the translation
        result, outcome, error = None, "error", f"{type(exc).__name__}: {exc}".splitlines()[0]
    finally:
        done.set()
        guard.join()
        elapsed = time.perf_counter() - started
        cursor.close()
    if elapsed > budget_s:
        return None, "timeout", f"ran past the {budget_s:g} s budget", elapsed
    return result, outcome, error, elapsed


def judged_run(dialect: str, ast: Any, conn: Any, time_range: TimeRange, *, expects: bool,
               budget_s: float = DEFAULT_BUDGET_S,
               max_samples: int = MAX_RESULT_SAMPLES) -> tuple[Result | None, str, str | None, int, float]:
    """`run_bounded`, judged as a candidate: (result, outcome, error, samples, seconds).  A result
    over `max_samples` is dropped ("too-large"); none at all is "empty" where the question
    `expects` an answer."""
    result, outcome, error, elapsed = run_bounded(dialect, ast, conn, time_range, budget_s)
    samples = result.sample_count() if result is not None else 0
    if samples > max_samples:
        result, outcome, error = None, "too-large", f"{samples} samples (cap {max_samples})"
    elif result is not None and samples == 0 and expects:
        outcome = "empty"
    return result, outcome, error, samples, elapsed


def can_vote(outcome: str, expects: bool) -> bool:
    """Whether a candidate with this outcome takes part in the vote."""
    return outcome == "answer" or (outcome == "empty" and not expects)


def answers(question: str, dialect: str, ast: Any, conn: Any, time_range: TimeRange | None = None,
            budget_s: float = DEFAULT_BUDGET_S, max_samples: int = MAX_RESULT_SAMPLES) -> dict:
    """How one valid query fares on the snapshot, as choose() would judge it as a candidate:
    {"outcome": "answer" | "empty" | "error" | "timeout" | "too-large", "samples", "run_s", "answers"},
    where "answers" is True when choose() would let it vote."""
    expects = expects_answer(question)
    _, outcome, error, samples, elapsed = judged_run(dialect, ast, conn, time_range or default_time_range(),
                                                     expects=expects, budget_s=budget_s, max_samples=max_samples)
    return {"outcome": outcome, "error": error, "samples": samples, "run_s": round(elapsed, 6),
            "answers": can_vote(outcome, expects)}


def vote(results: list[Result | None], greedy: int | None = 0) -> tuple[list[int | None], int | None]:
    """Group equal results and pick the winning group.

    `results[i]` is candidate i's answer (None: dropped).  Returns each
    candidate's group (None when dropped) and the index of the chosen
    candidate: the most-voted group, ties to the group holding `greedy`, then
    to the group whose first candidate comes first; inside the group `greedy`
    when it is there, else its first candidate.
    """
    groups: list[int | None] = [None] * len(results)
    representatives: list[int] = []
    for i, result in enumerate(results):
        if result is None:
            continue
        for g, rep in enumerate(representatives):
            if compare(results[rep], result)[0]:
                groups[i] = g
                break
        else:
            groups[i] = len(representatives)
            representatives.append(i)
    if not representatives:
        return groups, None
    votes = Counter(g for g in groups if g is not None)
    greedy_group = groups[greedy] if greedy is not None and 0 <= greedy < len(groups) else None
    best = min(range(len(representatives)),
               key=lambda g: (-votes[g], g != greedy_group, representatives[g]))
    if best == greedy_group:
        return groups, greedy
    return groups, representatives[best]


def choose(
    question: str,
    dialect: str,
    queries: list[str],
    catalog: Catalog | None = None,
    *,
    greedy: int | None = 0,
    checked: list[tuple[Any, str | None]] | None = None,
    conn: Any = None,
    snapshot: str = "",
    time_range: TimeRange | None = None,
    budget_s: float = DEFAULT_BUDGET_S,
    max_samples: int = MAX_RESULT_SAMPLES,
) -> Choice:
    """Validate, run and vote over candidate `queries` (index `greedy` is the model's greedy one,
    None when there is none).  `checked[i]`, where given, is candidate i already validated by
    the caller, (AST, None) or (None, error), so it is not parsed again.  `conn` defaults to the snapshot
    for `catalog` (`snapshot_for`); where there is none the choice is skipped, not raised."""
    started = time.perf_counter()
    spec = dialects.get(dialect)
    choice = Choice(expects_answer=expects_answer(question))
    choice.candidates = [Candidate(q.strip(), "greedy" if i == greedy else "sample") for i, q in enumerate(queries)]
    if conn is None:
        try:
            conn, snapshot = snapshot_for(catalog, dialect, queries)
        except ChoiceUnavailable as exc:
            choice.skipped = str(exc)
            choice.chosen = greedy if greedy is not None and greedy < len(queries) else None
            choice.timings["total_s"] = time.perf_counter() - started
            return choice
    choice.snapshot = snapshot
    time_range = time_range or default_time_range()

    t0 = time.perf_counter()
    for i, candidate in enumerate(choice.candidates):
        known = checked[i] if checked and i < len(checked) else None
        if known is not None and known[1]:
            candidate.error = known[1]
            continue
        try:
            candidate.ast = known[0] if known is not None else spec.validate(candidate.query, catalog)
            candidate.valid = True
            candidate.canonical = spec.format(candidate.ast)
        except QueryError as exc:
            candidate.error = exc.headline()
        except Exception as exc:  # noqa: BLE001 - a formatter gap must not lose a valid candidate
            if candidate.ast is None:
                candidate.error = f"{type(exc).__name__}: {exc}"
            else:
                candidate.valid, candidate.canonical = True, candidate.query
    choice.timings["validate_s"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    ran: dict[str, tuple[Result | None, str, str | None, int]] = {}
    results: list[Result | None] = []
    for candidate in choice.candidates:
        if not candidate.valid:
            results.append(None)
            continue
        key = candidate.canonical or candidate.query
        if key in ran:  # the same query again: its vote counts, its run does not repeat
            result, outcome, error, samples = ran[key]
        else:
            result, outcome, error, samples, candidate.run_s = judged_run(
                dialect, candidate.ast, conn, time_range, expects=choice.expects_answer, budget_s=budget_s,
                max_samples=max_samples)
            ran[key] = (result, outcome, error, samples)
        candidate.outcome, candidate.error, candidate.samples = outcome, error, samples
        results.append(result if can_vote(outcome, choice.expects_answer) else None)
    choice.timings["run_s"] = time.perf_counter() - t0

    groups, chosen = vote(results, greedy)
    for candidate, group in zip(choice.candidates, groups, strict=True):
        candidate.group = group
    votes = Counter(g for g in groups if g is not None)
    for candidate in choice.candidates:
        candidate.votes = votes[candidate.group] if candidate.group is not None else 0
    greedy_group = groups[greedy] if greedy is not None and greedy < len(groups) else None
    if chosen is not None and groups[chosen] != greedy_group:
        # a sampled winner: the group's most frequent text speaks for it
        members = [i for i, g in enumerate(groups) if g == groups[chosen]]
        texts = Counter(choice.candidates[i].canonical for i in members)
        chosen = min(members, key=lambda i: (-texts[choice.candidates[i].canonical], i))
    if chosen is None:
        # nothing survived: keep the greedy query (valid) rather than nothing
        chosen = greedy if greedy is not None and greedy < len(queries) and choice.candidates[greedy].valid else None
    choice.chosen = chosen
    choice.timings["total_s"] = time.perf_counter() - started
    return choice
