"""Datadog engines, in the shape `nlq.engine` expects:

    evaluate_metrics(node, conn, time_range) -> nlq.results.Result   (type "matrix")
    evaluate_logs(node, conn, time_range) -> nlq.results.Result      (type "streams")

`metrics` holds the metric query evaluator, `search` the log search matcher and
`logs` its use over the `dd_logs` table.  A range query's step is the rollup
interval (rounded to whole seconds); an instant query at t evaluates the hour
before t at the default interval and keeps each series' last value (a vector).
Log results are one stream per (service, host, status, source), lines as
(ts in ns, message): a bag of events.
"""

from __future__ import annotations

import math

from nlq.dialects.datadog_metrics import ast as metrics_ast
from nlq.engine.datadog.logs import search_logs
from nlq.engine.datadog.metrics import default_interval, query_metrics
from nlq.results import Result, Series, TimeRange

INSTANT_WINDOW_MS = 3_600_000


def evaluate_metrics(node, conn, time_range: TimeRange) -> Result:
    ordered = isinstance(node, metrics_ast.Function) and node.name.startswith(("top", "bottom"))
    if time_range.is_instant:
        end = time_range.end_ms + 1
        start = end - INSTANT_WINDOW_MS
        result = query_metrics(conn, node, start, end, default_interval(start, end))
        series = []
        for s in result.series:
            present = [
                (int(t), float(v))
                for t, v in zip(result.times, s.values, strict=True)
                if not math.isnan(v)
            ]
            if present:
                series.append(Series(s.tags, [(time_range.end_ms, present[-1][1])]))
        return Result("vector", series, ordered=ordered)
    interval_s = max(1, round(time_range.step_ms / 1000))
    result = query_metrics(conn, node, time_range.start_ms, time_range.end_ms + 1, interval_s)
    series = [
        Series(
            s.tags,
            [
                (int(t), float(v))
                for t, v in zip(result.times, s.values, strict=True)
                if not math.isnan(v)
            ],
        )
        for s in result.series
    ]
    return Result("matrix", series, ordered=ordered)


def evaluate_logs(node, conn, time_range: TimeRange) -> Result:
    events = search_logs(conn, node, time_range.start_ms, time_range.end_ms + 1)
    streams: dict[tuple, list[tuple[int, str]]] = {}
    for event in events:
        key = tuple(
            (k, str(event[k])) for k in ("host", "service", "source", "status") if k in event
        )
        streams.setdefault(key, []).append(
            (int(event["timestamp"]) * 1_000_000, str(event.get("message", "")))
        )
    return Result("streams", [Series(dict(k), [], lines) for k, lines in sorted(streams.items())])


__all__ = ["evaluate_logs", "evaluate_metrics"]
