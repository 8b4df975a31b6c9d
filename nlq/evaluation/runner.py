"""Run eval configurations over cases: translate, score, and account for the seconds.

One `EvalRun` serves a whole `nlq eval`: one `Scorer` (snapshots opened once,
each gold answer computed once per case and variant, whatever the number of
configurations), one loaded model per model spec, and a memo of scores per
(case, predicted query), so configurations that predict the same query are
scored once.  A configuration that is another's first attempt (`no-retry` of
`default`, see `nlq.evaluation.ablations`) is read off that translation instead
of generating again.

    >>> run = EvalRun(TimedScorer(), resolve(["k0"], None), model_translator(None))  # doctest: +SKIP
    >>> rows = run.case_rows(case, run.configs)                                       # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

from nlq.catalog import Catalog
from nlq.errors import UsageError
from nlq.evaluation.ablations import Config
from nlq.evaluation.cases import Case
from nlq.evaluation.gold_cache import GoldCache
from nlq.evaluation.report import Row
from nlq.evaluation.scoring import Score, Scorer

#: (case, catalog, configuration) -> a `nlq.translate.Translation`
Translator = Callable[[Case, Catalog, Config], Any]


class TimedScorer(Scorer):
    """A `Scorer` that adds up the seconds spent on gold answers and on predictions' answers."""

    def __init__(self, *args: Any, gold_cache: GoldCache | None = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.gold_s = 0.0  # computing gold answers (each once per case and variant)
        self.gold_runs = 0
        self.open_s = 0.0  # opening the shop snapshots
        #: gold answers kept across runs (None: compute every one)
        self.gold_cache = gold_cache

    def open(self) -> None:
        """Open the snapshot variants now, so the time is counted apart from scoring."""
        t0 = time.perf_counter()
        _ = self.connections
        self.open_s += time.perf_counter() - t0

    def run(self, case: Case, query: Any, variant: str):
        """As `Scorer.run`; the gold's answer comes from the disk cache when it holds it."""
        is_gold = self.gold_cache is not None and isinstance(query, str) and query == case.gold \
            and case.catalog is None
        if is_gold:
            answer = self.gold_cache.get(case, variant)
            if answer is not None:
                return answer
        answer = super().run(case, query, variant)
        if is_gold:
            self.gold_cache.put(case, variant, answer)
        return answer

    def gold(self, case: Case, variant: str):
        known = len(self._gold)
        t0 = time.perf_counter()
        try:
            return super().gold(case, variant)
        finally:
            if len(self._gold) > known:  # computed now, not read from the cache
                self.gold_s += time.perf_counter() - t0
                self.gold_runs += 1


def model_translator(run_model: str | None, adapter: str = "shop") -> Translator:
    """A translator over the real backends: one loaded model per spec, kwargs from the config.

    `adapter` (a name under adapters/ or a directory) is the one configurations marked
    `tuned` load on the run's engine.
    """
    from nlq.models import load_model
    from nlq.translate import translate

    backends: dict[str | None, Any] = {}

    def run(case: Case, catalog: Catalog, config: Config):
        spec = config.model_spec(run_model, adapter)
        if spec not in backends:
            backends[spec] = load_model(spec)
        return translate(case.question, case.dialect, catalog, backends[spec], **config.translate_kwargs())

    return run


def stratified_sample(cases: list[Case], n: int) -> list[Case]:
    """About `n` cases spread evenly over each (dialect, stratum) group, in the cases' order.

    Each group gets a share proportional to its size (largest remainders), at
    least one while `n` allows, and its picks are evenly spaced through it.
    """
    if n >= len(cases):
        return list(cases)
    groups: dict[tuple[str, str], list[int]] = defaultdict(list)
    for index, case in enumerate(cases):
        groups[(case.dialect, case.stratum)].append(index)
    quotas = {key: n * len(members) / len(cases) for key, members in groups.items()}
    take = {key: int(q) for key, q in quotas.items()}
    if n >= len(groups):
        for key in take:
            take[key] = max(1, take[key])
    by_remainder = sorted(groups, key=lambda k: (take[k] - quotas[k], -len(groups[k])))
    for key in by_remainder:
        if sum(take.values()) >= n:
            break
        if take[key] < len(groups[key]):
            take[key] += 1
    chosen: list[int] = []
    for key, members in groups.items():
        k = min(take[key], len(members))
        chosen += [members[int((i + 0.5) * len(members) / k)] for i in range(k)]
    return [cases[i] for i in sorted(chosen)]


#: QueryError kinds raised after the text parsed (types, names, semantics)
_PARSED_KINDS = ("type", "catalog", "semantic")


def first_attempt_checks(attempts: list[Any]) -> dict[str, bool]:
    """Did the model's first generation parse, and pass every check?  (Before any retry.)"""
    if not attempts:
        return {}
    first = attempts[0]
    return {"first_parsed": bool(first.valid or first.error_kind in _PARSED_KINDS),
            "first_valid": bool(first.valid)}


def spread_order(cases: list[Case]) -> list[Case]:
    """The cases reordered so that every prefix is spread over the (dialect, stratum) groups.

    Each case is placed by its relative position within its group; a run cut short
    (a time budget) has then done about the same share of every group.
    """
    groups: dict[tuple[str, str], list[Case]] = defaultdict(list)
    for case in cases:
        groups[(case.dialect, case.stratum)].append(case)
    order = list(groups)
    placed = [
        ((i + 0.5) / len(members), order.index(key), i, case)
        for key, members in groups.items()
        for i, case in enumerate(members)
    ]
    return [case for *_, case in sorted(placed, key=lambda p: p[:3])]


@dataclasses.dataclass
class ConfigTiming:
    translations: int = 0
    derived: int = 0
    model_s: float = 0.0  # translate() wall time, the model's share of it
    score_s: float = 0.0  # parsing, checking and running predictions (gold answers apart)
    scored: int = 0  # predictions actually run (not read from the memo)


class EvalRun:
    """Translate and score cases under several configurations; see the module docstring."""

    def __init__(
        self,
        scorer: TimedScorer,
        configs: list[Config],
        translator: Translator | None,
        derive: bool = True,
    ):
        self.scorer = scorer
        self.configs = configs
        self.translator = translator  # None: score the golds
        self.derive = derive
        self.timing: dict[str, ConfigTiming] = {c.name: ConfigTiming() for c in configs}
        self._scores: dict[tuple[str, str, str | None], Score] = {}
        self._translations: dict[str, dict[str, Any]] = {}

    # -- scoring with a memo
    def score(self, case: Case, query: str | None, config: str) -> tuple[Score, float]:
        key = (self.scorer.world_of(case) if hasattr(self.scorer, "world_of") else "", case.id, query)
        t0 = time.perf_counter()
        memo = self._scores.get(key)
        if memo is None:
            gold_before = self.scorer.gold_s
            memo = self._scores[key] = self.scorer.score(case, query)
            seconds = time.perf_counter() - t0 - (self.scorer.gold_s - gold_before)
            self.timing[config].scored += 1
        else:
            seconds = time.perf_counter() - t0
        self.timing[config].score_s += seconds
        return dataclasses.replace(memo, per_variant=dict(memo.per_variant)), seconds

    # -- a whole run
    def run_all(
        self,
        cases: list[Case],
        ablation_cases: list[Case],
        rows: list[Row],
        on_row: Callable[[Row], None] | None = None,
        budget_s: float | None = None,
    ) -> str:
        """The best configuration (the first) on `cases`, then the others on `ablation_cases`.

        Rows are appended to `rows` as they come (an interrupted run keeps what it did).
        With `budget_s`, the ablations stop before a case that would overrun it, estimated
        from the cases done; the sentence returned says so ("" when all ran).
        """
        started = time.perf_counter()
        best, others = self.configs[:1], self.configs[1:]
        for case in cases:
            rows += self.case_rows(case, best, on_row)
        if not others:
            return ""
        best_s = (time.perf_counter() - started) / max(1, len(cases))
        spent: list[float] = []  # seconds per case for all the ablations
        for index, case in enumerate(ablation_cases):
            estimate = statistics.fmean(spent) if spent else best_s * len(others)
            if budget_s is not None and time.perf_counter() - started + estimate > budget_s:
                return (
                    f"the time budget left time for the ablations on {index} of the "
                    f"{len(ablation_cases)} sampled cases (about {estimate:.0f} s a case)"
                )
            t0 = time.perf_counter()
            rows += self.case_rows(case, others, on_row)
            spent.append(time.perf_counter() - t0)
        return ""

    # -- one case under every configuration asked for
    def case_rows(
        self, case: Case, configs: list[Config], on_row: Callable[[Row], None] | None = None
    ) -> list[Row]:
        rows: list[Row] = []
        # kept per case, so a configuration run later can still be read off an earlier one
        translations = self._translations.setdefault(case.id, {})
        for config in configs:
            if self.translator is None:
                score, seconds = self.score(case, case.gold, config.name)
                row = Row(case, score, status="gold", config=config.name, score_s=seconds)
            else:
                row = self._translated_row(case, config, translations)
            rows.append(row)
            if on_row:
                on_row(row)
        return rows

    def _catalog(self, case: Case) -> Catalog:
        if hasattr(self.scorer, "catalog_for"):
            return self.scorer.catalog_for(case)
        return self.scorer.catalog(case.dialect)

    def _translated_row(self, case: Case, config: Config, translations: dict[str, Any]) -> Row:
        timing = self.timing[config.name]
        source = translations.get(config.first_attempt_of or "")
        if self.derive and source is not None:
            timing.derived += 1
            return self._first_attempt_row(case, config, source)
        catalog = self._catalog(case)
        t0 = time.perf_counter()
        try:
            result = self.translator(case, catalog, config)
        except UsageError:
            # a setup mistake (a model backend not installed, an adapter that does not load)
            # fails every case alike: stop with its message rather than report 0% (seen:
            # `--model llama-cpp` without llama-cpp-python scored 120 "errors" in 8 s)
            raise
        except Exception as exc:  # noqa: BLE001 - one failing case must not end the run
            latency = time.perf_counter() - t0
            timing.model_s += latency
            timing.translations += 1
            score, seconds = self.score(case, None, config.name)
            return Row(case, score, status="error", latency_s=latency, config=config.name,
                       score_s=seconds, message=f"{type(exc).__name__}: {exc}")
        latency = time.perf_counter() - t0
        timing.model_s += latency
        timing.translations += 1
        translations[config.name] = result
        score, seconds = self.score(case, result.query, config.name)
        tokens = result.tokens
        return Row(
            case,
            score,
            status=result.status,
            retries=max(0, len(result.attempts) - 1),
            prompt_tokens=tokens.get("prompt", 0),
            completion_tokens=tokens.get("completion", 0),
            latency_s=latency,
            message=result.message or "",
            config=config.name,
            score_s=seconds,
            extra={"model": result.model, "attempts": len(result.attempts),
                   # how many candidates execution-guided choice ran (0: it did not sample)
                   "choice_candidates": len((result.choice or {}).get("candidates", [])),
                   **first_attempt_checks(result.attempts)},
        )

    def _first_attempt_row(self, case: Case, config: Config, source: Any) -> Row:
        """The row `config` would get: the first attempt of `source`'s translation, alone."""
        if not source.attempts:  # refused before generation: the same with or without retries
            score, seconds = self.score(case, None, config.name)
            return Row(case, score, status=source.status, config=config.name, score_s=seconds,
                       message=source.message or "", derived_from=config.first_attempt_of,
                       extra={"model": source.model, "attempts": 0})
        first = source.attempts[0]
        query = source.query if first.valid and len(source.attempts) == 1 else None
        if first.valid and query is None:
            query = self._formatted(case, first.query)
        status = "ok" if first.valid else ("refused" if source.status == "refused" else "failed")
        latency = (
            source.timings.get("load_s", 0.0)
            + source.timings.get("grammar_s", 0.0)
            + sum(first.timings.get(k, 0.0) for k in ("retrieve_s", "total_s", "validate_s"))
        )
        score, seconds = self.score(case, query, config.name)
        message = "" if first.valid else f"no valid query in 1 attempt: {first.query!r}: {first.error}"
        return Row(
            case,
            score,
            status=status,
            prompt_tokens=first.prompt_tokens,
            completion_tokens=first.tokens,
            latency_s=latency,
            message=message,
            config=config.name,
            score_s=seconds,
            derived_from=config.first_attempt_of,
            extra={"model": source.model, "attempts": 1, **first_attempt_checks(source.attempts)},
        )

    def _formatted(self, case: Case, text: str) -> str:
        from nlq import dialects

        spec = dialects.get(case.dialect)
        try:
            return spec.format(spec.validate(text, self._catalog(case)))
        except Exception:  # noqa: BLE001 - the text as generated when the formatter trips
            return text


__all__ = ["ConfigTiming", "EvalRun", "TimedScorer", "Translator", "model_translator", "spread_order",
           "stratified_sample"]
