"""Differential test: nlq's PromQL engine against the real Prometheus, over the snapshots.

Each query is evaluated on every variant as instant queries at a few fixed times
(the window's end and moments inside the incidents) and as one range query, by
both engines; `nlq.results.compare` decides agreement.  A query agrees when it
agrees everywhere.

nlq's engine reads the snapshot through `engine_connection`, which hides the
staleness markers: the reference cannot import them (docs/prometheus-versions.md,
row 9), so both engines see the same samples.  Evaluation times are whole
seconds and every sample lies off whole seconds, so the 2.x/3.x window-boundary
difference (rows 1 and 2) never decides a result.  Evaluation times also lie
7 s before a whole minute: a subquery's inner steps are multiples of its step
since the epoch, so an evaluation time on a whole minute would put an inner
step exactly on the window's start, which 2.x includes and 3.x does not.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import duckdb

from nlq.results import Result, TimeRange, compare
from nlq.snapshot.store import TABLE_ORDER, snapshot_path

RANGE_MINUTES = 30
RANGE_STEP_S = 60
# Evaluation times are whole minutes less this, never a multiple of a subquery step.
OFF_STEP_MS = 7_000


def engine_connection(name: str) -> duckdb.DuckDBPyConnection:
    """The snapshot's tables, read-only, with `prom_samples` free of staleness markers."""
    from nlq.snapshot import open_snapshot

    open_snapshot(name).close()  # builds on first use
    con = duckdb.connect(":memory:")
    con.execute(f"ATTACH '{snapshot_path(name)}' AS snap (READ_ONLY)")
    for table in TABLE_ORDER:
        where = " WHERE NOT stale" if table == "prom_samples" else ""
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM snap.{table}{where}")
    return con


def evaluation_times(con, edges: bool = False) -> tuple[list[int], TimeRange]:
    """Instant times (ms, whole seconds) and the range of one variant.

    By default the window's end and 10 minutes into the error spike.  `edges=True`
    adds 15 minutes after the deploy and 3 minutes after the cart restart: there
    windows hold series that start, where rate() differs between 2.x and 3.x
    (docs/prometheus-versions.md, row 11), so disagreements are expected there.
    """
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    start, end, step = int(meta["start_ms"]), int(meta["end_ms"]), int(meta["step_ms"])
    inc = json.loads(meta["incidents"])
    at = lambda steps, minutes: start + steps * step + minutes * 60_000  # noqa: E731
    instants = [end, at(inc["error_start"], 10)]
    if edges:
        instants += [at(inc["deploy_step"], 15), at(inc["restart_step"], 3)]
    instants = sorted({t - t % 60_000 - OFF_STEP_MS for t in instants if start + 3_600_000 <= t <= end})
    window = at(inc["error_start"], 0) - at(inc["error_start"], 0) % 60_000 - OFF_STEP_MS
    return instants, TimeRange.range(window, window + RANGE_MINUTES * 60_000, RANGE_STEP_S * 1000)


@dataclass
class Outcome:
    query: str
    agree: bool = True
    reasons: list[str] = field(default_factory=list)
    engine_s: list[float] = field(default_factory=list)
    reference_s: list[float] = field(default_factory=list)


def _reference(name: str, query: str, tr: TimeRange) -> Result:
    from nlq.reference import prometheus as ref

    if tr.is_instant:
        return ref.query(name, query, tr.start_ms / 1000)
    return ref.query_range(name, query, tr.start_ms / 1000, tr.end_ms / 1000, tr.step_ms / 1000)


def run_differential(names: list[str], queries: list[str], instants_first: int = 2, instants_others: int = 1,
                     range_variants: int = 1, edges: bool = False) -> list[Outcome]:
    """Evaluate every query with both engines; one Outcome per query.

    Instant queries at the window's end (just before it, see above) and, up to
    `instants_first` on the first variant and `instants_others` on the others, at the
    incident times `evaluation_times` offers, earliest first; on the first
    `range_variants` variants also the 30-minute range query through the error spike.
    """
    from nlq.engine import engine_for

    outcomes = [Outcome(q) for q in queries]
    for index, name in enumerate(names):
        con = engine_connection(name)
        instants, span = evaluation_times(con, edges)
        wanted = instants_first if index == 0 else instants_others
        chosen = [instants[-1]] + instants[:-1][: max(wanted - 1, 0)]
        ranges = [TimeRange.instant(t) for t in chosen] + ([span] if index < range_variants else [])
        for outcome in outcomes:
            for tr in ranges:
                where = f"{name} @ {tr.start_ms}" + ("" if tr.is_instant else f"..{tr.end_ms}/{tr.step_ms}")
                t0 = time.perf_counter()
                try:
                    expected = _reference(name, outcome.query, tr)
                except Exception as exc:  # noqa: BLE001 - recorded, the run goes on
                    outcome.agree = False
                    outcome.reasons.append(f"{where}: reference error: {exc}")
                    continue
                t1 = time.perf_counter()
                try:
                    got = engine_for("promql")(outcome.query, con, tr)
                except Exception as exc:  # noqa: BLE001
                    outcome.agree = False
                    outcome.reasons.append(f"{where}: engine error: {type(exc).__name__}: {exc}")
                    continue
                t2 = time.perf_counter()
                outcome.reference_s.append(t1 - t0)
                outcome.engine_s.append(t2 - t1)
                equal, reason = compare(got, expected)
                if not equal:
                    outcome.agree = False
                    outcome.reasons.append(f"{where}: {reason}")
        con.close()
    return outcomes


def summary(outcomes: list[Outcome]) -> str:
    agreeing = sum(o.agree for o in outcomes)
    lines = [f"agreement: {agreeing}/{len(outcomes)} queries ({100 * agreeing / max(len(outcomes), 1):.1f}%)"]
    for o in outcomes:
        if not o.agree:
            lines.append(f"DIFF {o.query}\n     {o.reasons[0][:400]}")
    return "\n".join(lines)
