"""The PromQL engine: Prometheus 3 semantics over a snapshot's DuckDB tables.

    evaluate(node, conn, time_range) -> nlq.results.Result

`node` is a PromQL AST (`nlq.dialects.promql.ast`, or text, parsed first),
`conn` a DuckDB connection with `prom_series`/`prom_samples` (or a
`Storage`), `time_range` an `nlq.results.TimeRange`: an instant query gives a
`vector`, `scalar`, `string` or (for a range-vector expression) `matrix`; a
range query gives a `matrix` (or `scalar`... as Prometheus: always a matrix).
"""

from __future__ import annotations

import numpy as np

from nlq.engine.promql.evaluator import (
    LOOKBACK_MS,
    Context,
    Evaluator,
    Matrix,
    PromQLError,
    Scalar,
    String,
    Vector,
    kind,
    merge_series,
    unwrap,
)
from nlq.engine.promql.storage import Storage, StorageError
from nlq.results import Result, Series, TimeRange

META = ("__name__", "__type__", "__unit__")
ORDERING_FUNCS = {"sort", "sort_desc", "sort_by_label", "sort_by_label_desc"}
ORDERING_AGGS = {"topk", "bottomk"}


def parse(text: str):
    """Parse PromQL with nlq's own parser (the one grammar file is the only syntax)."""
    from nlq import dialects

    return dialects.get("promql").parse(text)


def is_ordered(node) -> bool:
    """Does the query itself order its output (only then is order compared)?"""
    node = unwrap(node)
    if kind(node) == "Call":
        return node.func in ORDERING_FUNCS
    if kind(node) == "Aggregation":
        return node.op.lower() in ORDERING_AGGS
    return False


def evaluate(node, conn, time_range: TimeRange, lookback_ms: int = LOOKBACK_MS) -> Result:
    if isinstance(node, str):
        node = parse(node)
    storage = conn if isinstance(conn, Storage) else Storage(conn)
    ctx = Context(storage, time_range.start_ms, time_range.end_ms, time_range.step_ms, lookback_ms)
    times = np.asarray(time_range.steps(), dtype=np.int64)
    value = Evaluator(ctx).eval(node, times)
    instant = time_range.is_instant
    if isinstance(value, String):
        if not instant:
            raise PromQLError('invalid expression type "string" for range query, must be Scalar or instant Vector')
        return Result.of_string(value.value, int(times[0]))
    if isinstance(value, Scalar):
        if instant:
            return Result("scalar", [Series({}, [(int(times[0]), float(value.values[0]))])], warnings=ctx.warnings)
        return Result("matrix", [Series({}, [(int(t), float(v)) for t, v in zip(times, value.values, strict=True)])],
                      warnings=ctx.warnings)
    if isinstance(value, Matrix):
        if not instant:
            raise PromQLError('invalid expression type "range vector" for range query, must be Scalar or instant Vector')
        series = []
        for s in value.series:
            lo = np.searchsorted(s.ts, value.ends[0] - value.range_ms, side="right")
            hi = np.searchsorted(s.ts, value.ends[0], side="right")
            if hi > lo:
                labels = {k: v for k, v in s.labels.items() if not (s.drop_name and k in META)}
                series.append(Series(labels, [(int(t), float(v)) for t, v in zip(s.ts[lo:hi], s.values[lo:hi],
                                                                                   strict=True)]))
        return Result("matrix", series, warnings=ctx.warnings)
    assert isinstance(value, Vector)
    if instant:
        out = []
        seen = set()
        for s in value.series:
            if not s.present[0]:
                continue
            labels = {k: v for k, v in s.labels.items() if v != "" and not (s.drop_name and k in META)}
            key = tuple(sorted(labels.items()))
            if key in seen:
                raise PromQLError("vector cannot contain metrics with the same labelset")
            seen.add(key)
            out.append(Series(labels, [(int(times[0]), float(s.values[0]))]))
        return Result("vector", out, ordered=is_ordered(node), warnings=ctx.warnings)
    merged = merge_series(value.series, drop=True)
    out = []
    for s in merged:
        idx = np.nonzero(s.present)[0]
        if len(idx):
            out.append(Series(s.labels, [(int(times[i]), float(s.values[i])) for i in idx]))
    out.sort(key=lambda s: sorted(s.labels.items()))
    return Result("matrix", out, warnings=ctx.warnings)


__all__ = ["PromQLError", "Storage", "StorageError", "evaluate", "is_ordered", "parse"]
