"""nlq's LogQL engine: Loki's query semantics over the snapshot's DuckDB log tables.

    >>> from nlq.results import TimeRange
    >>> evaluate(parse('count_over_time({app="api"}[5m])'), conn, TimeRange.instant(t_ms))

Log queries return `streams` (the lines of each label set after the
pipeline, newest first as Loki returns them, limited to `LOG_LIMIT`); metric
queries return a `vector` (instant) or `matrix` (range), or a `scalar`.
"""

from __future__ import annotations

import duckdb

from nlq.dialects.logql import ast
from nlq.engine.logql.evaluator import EvaluationError, Evaluator, Scalar, Vectors
from nlq.engine.logql.storage import LogStore
from nlq.results import Result, Series, TimeRange

MS = 1_000_000  # ns per ms
LOG_LIMIT = 1000
LOG_LOOKBACK_NS = 3600 * 1_000_000_000  # an instant log query looks back one hour


def evaluate(node: ast.Expr, conn: duckdb.DuckDBPyConnection, time_range: TimeRange) -> Result:
    engine = Evaluator(LogStore(conn))
    steps_ns = [t * MS for t in time_range.steps()]
    if isinstance(node, ast.LogQuery):
        start = steps_ns[0] - (LOG_LOOKBACK_NS if time_range.is_instant else 0)
        streams = engine.log_lines(node, start, steps_ns[-1])
        series = []
        for key, lines in sorted(streams.items()):
            lines = sorted(lines, key=lambda e: e[0], reverse=True)[:LOG_LIMIT]
            series.append(Series(dict(key), lines=lines))
        return Result("streams", series)
    value = engine.eval(node, steps_ns, instant=time_range.is_instant)
    times = time_range.steps()
    if isinstance(value, Scalar):
        return Result.scalar(zip(times, value.values, strict=True))
    ordered = isinstance(node, ast.VectorAggregation) and node.op in (
        "sort",
        "sort_desc",
        "topk",
        "bottomk",
    )
    by_key: dict[tuple, Series] = {}
    for t, vector in zip(times, value.steps, strict=True):
        for key, v in vector.items():
            by_key.setdefault(key, Series(dict(key))).samples.append((t, v))
    return Result(
        "vector" if time_range.is_instant else "matrix", list(by_key.values()), ordered=ordered
    )


__all__ = ["EvaluationError", "Evaluator", "LogStore", "Vectors", "evaluate"]
