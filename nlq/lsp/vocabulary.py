"""The functions and keywords of each dialect, with the one-line docs hover shows.

PromQL's come from `nlq.dialects.promql.functions` (Prometheus's own table);
Datadog's function names from the metric dialect's checks.  LogQL's are listed
here from Loki's documentation (range and vector aggregations, parsers).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Word:
    name: str
    kind: str  # "function" | "aggregation" | "keyword"
    doc: str
    #: what to insert: "rate($1)" style snippets are left to the client; plain text here
    insert: str = ""


_LOGQL_RANGE = {
    "rate": "log lines per second over the range",
    "count_over_time": "number of log lines in the range, per stream",
    "bytes_rate": "bytes of log lines per second over the range",
    "bytes_over_time": "bytes of log lines in the range",
    "absent_over_time": "1 when the range has no log lines, else nothing",
    "sum_over_time": "sum of the unwrapped values in the range",
    "avg_over_time": "average of the unwrapped values in the range",
    "min_over_time": "minimum of the unwrapped values in the range",
    "max_over_time": "maximum of the unwrapped values in the range",
    "stddev_over_time": "standard deviation of the unwrapped values in the range",
    "stdvar_over_time": "variance of the unwrapped values in the range",
    "quantile_over_time": "φ-quantile of the unwrapped values in the range",
    "first_over_time": "first unwrapped value in the range",
    "last_over_time": "last unwrapped value in the range",
    "rate_counter": "per-second rate of an unwrapped counter",
}
_LOGQL_AGGREGATIONS = {
    "sum": "sum over labels", "avg": "average over labels", "min": "minimum over labels",
    "max": "maximum over labels", "count": "number of series", "stddev": "standard deviation",
    "stdvar": "variance", "topk": "the k largest series", "bottomk": "the k smallest series",
    "sort": "series sorted ascending by value", "sort_desc": "series sorted descending by value",
}
_LOGQL_STAGES = {
    "json": "parser stage: extract labels from JSON log lines",
    "logfmt": "parser stage: extract labels from logfmt log lines",
    "regexp": "parser stage: extract labels with named regular-expression groups",
    "pattern": "parser stage: extract labels with a <_> pattern",
    "unpack": "parser stage: unpack labels packed by Promtail's pack stage",
    "line_format": "rewrite the log line with a Go template",
    "label_format": "rename or template labels",
    "unwrap": "use a label's value as the sample value of a range aggregation",
    "decolorize": "strip ANSI colour codes from lines",
    "drop": "drop labels",
    "keep": "keep only these labels",
}
_DATADOG_LOG_KEYWORDS = {
    "AND": "both terms must match", "OR": "either term matches", "NOT": "the term must not match",
}


@cache
def words(dialect: str) -> dict[str, Word]:
    """name -> `Word` for `dialect` (functions, aggregations, keywords)."""
    out: dict[str, Word] = {}
    if dialect == "promql":
        from nlq.dialects.promql.functions import AGGREGATIONS, FUNCTIONS

        for name, fn in FUNCTIONS.items():
            signature = fn.signature() if hasattr(fn, "signature") else name
            out[name] = Word(name, "function", f"`{signature}`: {fn.doc}")
        for name, agg in AGGREGATIONS.items():
            out[name] = Word(name, "aggregation", f"aggregation operator: {agg.doc}")
        for kw in ("by", "without", "on", "ignoring", "group_left", "group_right", "offset", "bool",
                   "and", "or", "unless"):
            out.setdefault(kw, Word(kw, "keyword", "PromQL keyword"))
    elif dialect == "logql":
        for name, doc in _LOGQL_RANGE.items():
            out[name] = Word(name, "function", f"range aggregation: {doc}")
        for name, doc in _LOGQL_AGGREGATIONS.items():
            out.setdefault(name, Word(name, "aggregation", f"aggregation operator: {doc}"))
        for name, doc in _LOGQL_STAGES.items():
            out[name] = Word(name, "keyword", doc)
    elif dialect == "datadog-metrics":
        from nlq.dialects.datadog_metrics.checks import FUNCTIONS, SPACE_AGGREGATORS

        for name, (low, high) in FUNCTIONS.items():
            arity = f"{low}" if low == high else f"{low}-{high}"
            out[name] = Word(name, "function", f"Datadog function, {arity} argument(s) with the series")
        for name in SPACE_AGGREGATORS:
            out[name] = Word(name, "aggregation", f"space aggregation: `{name}:metric{{scope}}`")
    elif dialect == "datadog-logs":
        for name, doc in _DATADOG_LOG_KEYWORDS.items():
            out[name] = Word(name, "keyword", doc)
    return out
