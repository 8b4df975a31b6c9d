"""Explain a LogQL AST (nlq.dialects.logql.ast) in one sentence.

    sum by (level) (count_over_time({service="cart"} |= "timeout" | logfmt [5m]))
    -> Number of log lines from service cart containing "timeout" (parsed as logfmt),
       per 5-minute window, summed by level.
"""

from __future__ import annotations

from typing import Any

from nlq.catalog import Catalog
from nlq.explain import Facts
from nlq.explain.words import AGGREGATIONS, duration, join, label, matcher_phrase

RANGE_OPS = {
    "count_over_time": "number of log lines",
    "rate": "per-second rate of log lines",
    "bytes_over_time": "bytes of log lines",
    "bytes_rate": "per-second rate of log bytes",
    "sum_over_time": "sum of {field}",
    "avg_over_time": "average {field}",
    "min_over_time": "minimum {field}",
    "max_over_time": "maximum {field}",
    "stddev_over_time": "standard deviation of {field}",
    "stdvar_over_time": "variance of {field}",
    "quantile_over_time": "{q} quantile of {field}",
    "first_over_time": "first {field}",
    "last_over_time": "last {field}",
    "absent_over_time": "whether no log lines exist",
    "rate_counter": "per-second rate of the counter {field}",
}
LINE_OPS = {"|=": "containing", "!=": "not containing", "|~": "matching", "!~": "not matching",
            "|>": "matching the pattern", "!>": "not matching the pattern"}
CMP = {"==": "=", "=": "=", "!=": "≠", ">": ">", ">=": "≥", "<": "<", "<=": "≤"}


def _selector(selector: Any) -> str:
    parts = [matcher_phrase(m.name, m.op, m.value) for m in selector.matchers]
    return "from " + join(parts) if parts else "from all streams"


def _label_filter(f: Any) -> str:
    kind = type(f).__name__
    if kind in ("AndFilter", "OrFilter"):
        word = "and" if kind == "AndFilter" else "or"
        return f"{_label_filter(f.left)} {word} {_label_filter(f.right)}"
    if kind == "StringFilter":
        return matcher_phrase(f.name, f.op, f.value)
    if kind == "NumberFilter":
        return f"{label(f.name)} {CMP.get(f.op, f.op)} {f.value:g}"
    if kind in ("DurationFilter", "BytesFilter"):
        return f"{label(f.name)} {CMP.get(f.op, f.op)} {f.text}"
    if kind == "IpFilter":
        return f"{label(f.name)} {'in' if f.op == '=' else 'not in'} {f.pattern}"
    return kind


def _stages(stages: tuple) -> str:
    parts = []
    for stage in stages:
        kind = type(stage).__name__
        if kind == "LineFilter":
            values = join([f'"{v.value}"' for v in stage.values], "or")
            parts.append(f"{LINE_OPS.get(stage.op, stage.op)} {values}")
        elif kind in ("JsonParser", "LogfmtParser"):
            parts.append("parsed as " + ("JSON" if kind == "JsonParser" else "logfmt"))
        elif kind in ("RegexpParser", "PatternParser", "UnpackParser"):
            parts.append("parsed with " + kind.replace("Parser", "").lower())
        elif kind == "LabelFilterStage":
            parts.append("where " + _label_filter(stage.filter))
        elif kind == "Drop":
            parts.append("dropping " + join([i.name for i in stage.items]))
        elif kind == "Keep":
            parts.append("keeping only " + join([i.name for i in stage.items]))
    return ", ".join(parts)


def _log_query(q: Any) -> str:
    text = "log lines " + _selector(q.selector)
    stages = _stages(q.stages)
    return f"{text}, {stages}" if stages else text


def _describe(node: Any, facts: Facts) -> str:
    kind = type(node).__name__
    if kind == "LogQuery":
        return _log_query(node)
    if kind == "RangeAggregation":
        r = node.range
        facts.windows.append(r.range)
        field = label(r.unwrap.name) if r.unwrap else "the values"
        q = f"{node.param:g}" if node.param is not None else ""
        what = RANGE_OPS.get(node.op, node.op).format(field=field, q=q)
        source = _selector(r.selector)
        stages = _stages(r.stages)
        text = f"{what} {source}" + (f", {stages}" if stages else "")
        text += f", per {duration(r.range)} window"
        if r.offset:
            text += f", {r.offset} ago"
        if node.grouping:
            text += _grouping(node.grouping, facts)
        return text
    if kind == "VectorAggregation":
        facts.aggregations.append(node.op)
        inner = _describe(node.expr, facts)
        if node.op in ("topk", "bottomk") and node.param is not None:
            text = f"the {'top' if node.op == 'topk' else 'bottom'} {node.param:g} series of {inner}"
        else:
            text = f"{inner}, {AGGREGATIONS.get(node.op, node.op)}"
        if node.grouping:
            text += _grouping(node.grouping, facts, after=True)
        return text
    if kind == "BinaryOp":
        left, right = _describe(node.left, facts), _describe(node.right, facts)
        if node.op == "/":
            return f"{left}, divided by {right}"
        return f"{left} {node.op} {right}"
    if kind in ("NumberLiteral", "VectorExpr"):
        return f"{node.value:g}"
    if kind == "LabelReplace":
        return _describe(node.expr, facts)
    return kind


def _grouping(g: Any, facts: Facts, after: bool = False) -> str:
    labels = [label(name) for name in g.labels]
    if g.without:
        return f" without {join(labels)}" if labels else ""
    facts.grouping.extend(g.labels)
    return f" by {join(labels)}" if labels else " into one series"


def describe(ast: Any, catalog: Catalog | None = None) -> tuple[str, Facts]:
    facts = Facts()
    return _describe(ast, facts), facts
