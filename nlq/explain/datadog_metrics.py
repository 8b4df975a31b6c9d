"""Explain a Datadog metric query AST (nlq.dialects.datadog_metrics.ast) in one sentence.

    avg:system.cpu.user{env:prod,!host:web-1} by {host}.rollup(avg, 60)
    -> Percent of CPU time spent in user space (system.cpu.user) in environment prod and
       host other than web-1, averaged by host, rolled up as the average over 1-minute intervals.
"""

from __future__ import annotations

from typing import Any

from nlq.catalog import Catalog
from nlq.explain import Facts
from nlq.explain.words import AGGREGATIONS, join, label, seconds_to_duration

SPACE = {"avg": "averaged", "sum": "summed", "min": "the minimum", "max": "the maximum"}
MODIFIERS = {"as_count": "as counts per interval", "as_rate": "as a per-second rate"}


def _scope(node: Any) -> str:
    kind = type(node).__name__
    if kind == "AllScope":
        return ""
    if kind == "TagFilter":
        if node.value is None:
            return f"tagged {node.key}"
        return f"{label(node.key)} {node.value}"
    if kind == "TagIn":
        return f"{label(node.key)} {'not ' if node.negated else ''}in {join(list(node.values), 'or')}"
    if kind == "FilterNot":
        inner = node.operand
        if type(inner).__name__ == "TagFilter" and inner.value is not None:
            return f"{label(inner.key)} other than {inner.value}"
        return f"not {_scope(inner)}"
    if kind == "FilterAnd":
        return join([_scope(o) for o in node.operands])
    if kind == "FilterOr":
        return join([_scope(o) for o in node.operands], "or")
    if kind == "TemplateVar":
        return f"the dashboard's {node.name}"
    return kind


def _metric(node: Any, catalog: Catalog | None, facts: Facts) -> str:
    metric = catalog.metric(node.metric) if catalog else None
    text = f"{metric.help.rstrip('.')} ({node.metric})" if metric and metric.help else f"metric {node.metric}"
    scope = _scope(node.scope)
    if scope:
        text += f" in {scope}"
    if node.aggregator:
        facts.aggregations.append(node.aggregator)
        text += ", " + SPACE.get(node.aggregator, AGGREGATIONS.get(node.aggregator, node.aggregator))
        if node.group_by:
            facts.grouping.extend(node.group_by)
            text += " by " + join([label(g) for g in node.group_by])
        else:
            text += " across all sources"
    for mod in node.modifiers:
        kind = type(mod).__name__
        if kind == "Rollup":
            if mod.interval is not None and not isinstance(mod.interval, str):
                window = seconds_to_duration(float(mod.interval))
                facts.windows.append(window)
                how = {"avg": "average", "min": "minimum", "max": "maximum"}.get(mod.method or "avg", mod.method)
                text += f", rolled up as the {how} over {window} intervals"
            elif mod.method:
                text += f", rolled up as the {mod.method}"
        elif kind == "Modifier" and mod.name in MODIFIERS:
            text += ", " + MODIFIERS[mod.name]
        elif kind == "Fill":
            text += f", gaps filled with {mod.mode}"
    return text


def _describe(node: Any, catalog: Catalog | None, facts: Facts) -> str:
    kind = type(node).__name__
    if kind == "MetricQuery":
        return _metric(node, catalog, facts)
    if kind == "Binary":
        words = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}
        return f"{_describe(node.left, catalog, facts)} {words.get(node.op, node.op)} " \
               f"{_describe(node.right, catalog, facts)}"
    if kind == "Number":
        return f"{node.value:g}"
    if kind == "Function":
        args = ", ".join(_describe(a, catalog, facts) for a in node.args)
        return f"{node.name} of {args}"
    if kind == "QueryList":
        return "; ".join(_describe(q, catalog, facts) for q in node.queries)
    if kind == "MetricMonitor":
        inner = _describe(node.query, catalog, facts)
        return f"alert when {inner} {node.comparator} {node.threshold:g}"
    if kind == "Negate":
        return f"minus {_describe(node.operand, catalog, facts)}"
    return kind


def describe(ast: Any, catalog: Catalog | None = None) -> tuple[str, Facts]:
    facts = Facts()
    return _describe(ast, catalog, facts), facts
