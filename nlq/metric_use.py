"""PromQL that names no metric, or uses one against what the catalog says it is: valid, and
probably not the answer.

Three mistakes a small model makes that parse, pass the catalog check (every
name exists) and still answer a different question:

* **a selector with no metric name.**  `{service="search"}` selects every metric
  of those series (117 series on the snapshot, histogram buckets and all); no
  question about a service means that.  People write it to explore, with
  `__name__` when they mean a set of metrics (`{__name__=~"node_.*"}`), which
  stays allowed.
* **a rate of a gauge.**  `rate(up[30m])`, `increase(node_load1[1h])`: rate(),
  irate() and increase() assume a counter that only goes up and treat every
  fall as a reset, so over a gauge they return noise.  Prometheus itself warns
  ("PromQL info: metric might not be a counter"); it can only guess from the
  name, the catalog knows the type.
* **a grouping label the series never carry.**  `sum by (node) (rate(
  node_cpu_seconds_total[5m]))` where no series has a `node` label: Prometheus
  groups them all under an empty `node` and returns one series, the answer to
  "in total", not "per node".  The labels an expression's result carries follow
  from the catalog's labels per metric (`labels_of`).

`misused_metric(ast, catalog)` returns the first of them as a `nlq.degenerate.Finding`;
`nlq.doubts` lists it, so translate() retries such an answer with the reason fed back
and keeps it, with a warning, only when no retry does better.  After a lost grouping,
`regroup_labels` gives the labels the query's metrics do carry, and the retries group
by those alone (nlq.constrain.regroup).  Without a PromQL
catalog nothing is judged, and nothing about a metric the catalog does not know.

    >>> from nlq.catalog import Catalog, Metric
    >>> from nlq.dialects import get
    >>> catalog = Catalog("promql", metrics={"up": Metric("up", "gauge", labels={"job": ["api"]})})
    >>> misused_metric(get("promql").parse("rate(up[5m])"), catalog).message
    'up is a gauge: rate() reads its falls as counter resets; use the value itself, or deriv() for its trend'
    >>> misused_metric(get("promql").parse("sum by (node) (up)"), catalog).message
    'no series of up carries the label node: `by (node)` puts them all in one group'
    >>> misused_metric(get("promql").parse('{job="api"}'), catalog).message
    '`{job="api"}` names no metric: it selects every metric those series have'
"""

from __future__ import annotations

from typing import Any

from nlq import dialects
from nlq.degenerate import Finding, ast_nodes, span_of

#: functions that assume a counter: every fall is read as a reset
COUNTER_FUNCTIONS = frozenset({"rate", "irate", "increase"})
#: calls whose result drops a label of their argument
_DROPS = {"histogram_quantile": frozenset({"le"})}
#: calls whose result carries no label of their arguments
_LABEL_FREE_CALLS = frozenset({"vector", "time", "scalar", "pi", "day_of_month", "day_of_week", "day_of_year",
                               "days_in_month", "hour", "minute", "month", "year", "step", "range", "start", "end"})
#: calls that add a label named by a string argument (`label_replace(v, "dst", ...)`)
_LABEL_MAKERS = frozenset({"label_replace", "label_join"})


def misused_metric(node: Any, catalog: Any) -> Finding | None:
    """The first nameless selector, rate of a gauge or grouping label no series carries in the
    PromQL AST `node`, judged by `catalog` (None without a PromQL catalog)."""
    metrics = _promql_metrics(catalog)
    if not metrics:
        return None
    for item in ast_nodes(node):
        kind = type(item).__name__
        if kind == "VectorSelector" and _nameless(item):
            shown = dialects.get("promql").format(item)
            return Finding(f"`{shown}` names no metric: it selects every metric those series have", span_of(item))
        if kind == "Call" and item.func in COUNTER_FUNCTIONS and (finding := _rate_of_gauge(item, metrics)):
            return finding
        if kind == "Aggregation" and (finding := _lost_group(item, metrics)):
            return finding
    return None


def regroup_labels(node: Any, catalog: Any) -> frozenset[str] | None:
    """Where the PromQL AST `node` groups by a label none of its series carry: every label its
    metrics do carry, all a retry may group by (nlq.constrain.regroup); None otherwise.

    >>> from nlq.catalog import Catalog, Metric
    >>> catalog = Catalog("promql", metrics={"up": Metric("up", "gauge", labels={"job": [], "instance": []})})
    >>> sorted(regroup_labels(dialects.get("promql").parse("sum by (node) (up)"), catalog))
    ['instance', 'job']
    >>> regroup_labels(dialects.get("promql").parse("sum by (job) (up)"), catalog) is None
    True
    """
    metrics = _promql_metrics(catalog)
    lost = metrics and any(type(item).__name__ == "Aggregation" and _lost_group(item, metrics)
                           for item in ast_nodes(node))
    if not lost:
        return None
    named = [metrics[s.name] for s in _selectors((node,)) if s.name in metrics]
    return frozenset(label for metric in named for label in metric.labels) or None


def _promql_metrics(catalog: Any) -> dict:
    """The catalog's metrics when it is a PromQL catalog, else {} (nothing is judged)."""
    metrics = getattr(catalog, "metrics", None) or {}
    return metrics if getattr(catalog, "dialect", "promql") == "promql" else {}


def _nameless(selector: Any) -> bool:
    return not selector.name and not any(m.name == "__name__" for m in selector.matchers)


def _rate_of_gauge(call: Any, metrics: dict) -> Finding | None:
    for selector in _selectors(call.args[:1]):
        metric = metrics.get(selector.name) if selector.name else None
        if metric is not None and metric.type == "gauge":
            return Finding(f"{selector.name} is a gauge: {call.func}() reads its falls as counter resets; "
                           "use the value itself, or deriv() for its trend", span_of(call))
    return None


def _lost_group(aggregation: Any, metrics: dict) -> Finding | None:
    if not aggregation.grouping or aggregation.without:
        return None
    carried = labels_of(aggregation.expr, metrics)
    if carried is None:
        return None
    for label in aggregation.grouping:
        if label not in carried:
            names = sorted({s.name for s in _selectors((aggregation.expr,)) if s.name})
            return Finding(f"no series of {', '.join(names) or 'the expression'} carries the label {label}: "
                           f"`by ({label})` puts them all in one group", span_of(aggregation))
    return None


def labels_of(node: Any, metrics: dict) -> frozenset[str] | None:
    """The label names the result of PromQL expression `node` may carry, by the catalog's
    labels per metric; None when that cannot be known (an unknown metric, a selector with no name)."""
    kind = type(node).__name__
    if kind == "VectorSelector":
        metric = metrics.get(node.name) if node.name else None
        return None if metric is None else frozenset(metric.labels)
    if kind == "MatrixSelector":
        return labels_of(node.vector, metrics)
    if kind in ("Subquery", "Paren", "Unary"):
        return labels_of(node.expr, metrics)
    if kind in ("NumberLiteral", "StringLiteral"):
        return frozenset()
    if kind == "Aggregation":
        inner = labels_of(node.expr, metrics)
        if node.op == "count_values":
            return None  # adds the label its string parameter names
        if inner is None or node.op in ("topk", "bottomk", "limitk", "limit_ratio"):
            return inner
        if node.without:
            return inner - set(node.grouping)
        return inner & set(node.grouping)
    if kind == "Binary":
        sides = [labels_of(side, metrics) for side in (node.lhs, node.rhs)]
        if any(side is None for side in sides):
            return None
        return sides[0] | sides[1]  # at most: matching on() keeps fewer, group_left copies some across
    if kind == "Call":
        if node.func in _LABEL_FREE_CALLS:
            return frozenset()
        if node.func in _LABEL_MAKERS:
            return None
        parts = [labels_of(arg, metrics) for arg in node.args]
        if any(part is None for part in parts):
            return None
        return frozenset().union(*parts) - _DROPS.get(node.func, frozenset())
    return None


def _selectors(nodes: tuple) -> list[Any]:
    return [item for item in ast_nodes(nodes) if type(item).__name__ == "VectorSelector"]


__all__ = ["COUNTER_FUNCTIONS", "labels_of", "misused_metric"]
