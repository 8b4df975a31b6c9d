"""Checks a grammar cannot make: names of aggregators, rollup methods, functions
and modifiers, their arity, boolean syntax mixing, and the catalog rules
(unknown metric or tag, as_count/as_rate and percentiles against metric types).

Sources:
  space aggregators      https://docs.datadoghq.com/metrics/#space-aggregation
  percentiles            https://docs.datadoghq.com/metrics/distributions/
  rollup                 https://docs.datadoghq.com/dashboards/functions/rollup/
  fill                   https://docs.datadoghq.com/dashboards/functions/interpolation/
  as_count / as_rate     https://docs.datadoghq.com/metrics/custom_metrics/type_modifiers/
  boolean filters        https://docs.datadoghq.com/metrics/advanced-filtering/
  functions              https://docs.datadoghq.com/dashboards/functions/
"""

from __future__ import annotations

import itertools
import re

from nlq.catalog import Catalog
from nlq.dialects.datadog_common import did_you_mean, semantic_error
from nlq.dialects.datadog_metrics import ast
from nlq.errors import QueryError

SPACE_AGGREGATORS = ("avg", "sum", "min", "max", "count")
# Seen in Datadog's own material though not in the aggregator table: `histogram:`
# (API client fixtures, APM trace metrics) and `stddev:` (integration dashboards).
EXTRA_AGGREGATORS = ("histogram", "stddev")
PERCENTILE = re.compile(r"^p(?:[0-9]{1,2}|99\.?9+|999)$")
ROLLUP_METHODS = ("avg", "sum", "min", "max", "count")
CALENDAR_INTERVALS = ("daily", "weekly", "monthly")
FILL_MODES = ("null", "zero", "linear", "last")
MAX_FILL_LIMIT = 600

#: modifier name -> (min args, max args)
MODIFIERS = {
    "as_count": (0, 0),
    "as_rate": (0, 0),
    "weighted": (0, 0),
    "timeshift": (1, 1),
    "label": (1, 1),
}

_ONE = (1, 1)
#: function name -> (min, max) positional arguments, the series included
FUNCTIONS: dict[str, tuple[int, int]] = {
    **{
        name: _ONE
        for name in (
            "abs",
            "log2",
            "log10",
            "cumsum",
            "integral",
            "per_second",
            "per_minute",
            "per_hour",
            "dt",
            "diff",
            "monotonic_diff",
            "derivative",
            "throughput",
            "hour_before",
            "day_before",
            "week_before",
            "month_before",
            "count_nonzero",
            "count_not_null",
            "default_zero",
            "exclude_null",
            "robust_trend",
            "trend_line",
            "piecewise_constant",
            "autosmooth",
            "ewma_3",
            "ewma_5",
            "ewma_7",
            "ewma_10",
            "ewma_20",
            "median_3",
            "median_5",
            "median_7",
            "median_9",
            "rollingavg_5",
            "rollingavg_13",
            "rollingavg_21",
            "rollingavg_29",
            "as_count",
            "as_rate",
        )
    },
    "timeshift": (2, 2),
    "calendar_shift": (2, 3),
    "clamp_min": (2, 2),
    "clamp_max": (2, 2),
    "cutoff_min": (2, 2),
    "cutoff_max": (2, 2),
    "top": (2, 4),
    "top_offset": (5, 5),
    "bottom": (2, 4),
    "anomalies": (3, 3),
    "outliers": (3, 4),
    "forecast": (3, 3),
    "moving_rollup": (3, 3),
    "rollup": (2, 3),
    "reduce": (2, 2),
    "fill": (2, 3),
}
# top5_mean(), bottom10_min(), top10(): https://docs.datadoghq.com/dashboards/functions/rank/
RANK_FUNCTIONS = frozenset(
    f"{side}{count}{suffix}"
    for side, count, suffix in itertools.product(
        ("top", "bottom"), (5, 10, 15, 20), ("", "_mean", "_min", "_max", "_last", "_area", "_l2norm", "_norm"))
)
KEYWORD_FUNCTIONS = ("anomalies", "outliers", "forecast")
TIME_AGGREGATIONS = ("avg", "sum", "min", "max", "change", "pct_change")


class _At:
    """A stand-in node for the first `length` characters of `node`: the caret
    then points at a name (an aggregator, a function) rather than the whole query."""

    def __init__(self, node, length: int):
        span = getattr(node, "span", None)
        self.span = (span[0], span[0] + length) if span else None


def check(node, text: str, catalog: Catalog | None = None) -> list[QueryError]:
    problems: list[QueryError] = []
    _Checker(text, catalog, problems).visit(node)
    return problems


class _Checker:
    def __init__(self, text: str, catalog: Catalog | None, problems: list[QueryError]):
        self.text = text
        self.catalog = catalog
        self.problems = problems

    def error(self, message, node, hint=None, kind="semantic"):
        self.problems.append(semantic_error(message, self.text, node, hint, kind))

    def visit(self, node) -> None:
        if isinstance(node, ast.QueryList):
            for q in node.queries:
                self.visit(q)
        elif isinstance(node, ast.MetricMonitor):
            self.time_aggregation(node.time_aggregation)
            self.visit(node.query)
        elif isinstance(node, ast.MetricQuery):
            self.metric_query(node)
        elif isinstance(node, ast.Binary):
            self.visit(node.left)
            self.visit(node.right)
        elif isinstance(node, ast.Negate):
            self.visit(node.operand)
        elif isinstance(node, ast.Function):
            self.function(node)
        elif isinstance(node, ast.Keyword):
            self.visit(node.value)

    # ---- functions
    def function(self, node: ast.Function) -> None:
        positional = [a for a in node.args if not isinstance(a, ast.Keyword)]
        keywords = [a for a in node.args if isinstance(a, ast.Keyword)]
        arity = FUNCTIONS.get(node.name)
        if arity is None and node.name in RANK_FUNCTIONS:
            arity = _ONE
        if arity is None:
            self.error(
                f"unknown function {node.name}()",
                _At(node, len(node.name)),
                did_you_mean(node.name, FUNCTIONS)
                or "see https://docs.datadoghq.com/dashboards/functions/",
            )
        else:
            low, high = arity
            if not low <= len(positional) <= high:
                want = str(low) if low == high else f"{low} to {high}"
                self.error(f"{node.name}() takes {want} argument(s), got {len(positional)}", node)
            if keywords and node.name not in KEYWORD_FUNCTIONS:
                self.error(f"{node.name}() takes no keyword arguments", keywords[0])
        for arg in node.args:
            self.visit(arg)

    # ---- monitors
    def time_aggregation(self, node: ast.TimeAggregation) -> None:
        if node.name not in TIME_AGGREGATIONS:
            self.error(
                f"unknown monitor time aggregation {node.name}()",
                node,
                did_you_mean(node.name, TIME_AGGREGATIONS)
                or "use avg, sum, min, max, change or pct_change",
            )
        for arg in node.args:
            if isinstance(arg, ast.TimeAggregation):
                self.time_aggregation(arg)

    # ---- metric queries
    def metric_query(self, node: ast.MetricQuery) -> None:
        metric = self.catalog.metric(node.metric) if self.catalog else None
        if self.catalog and self.catalog.metrics and metric is None:
            self.error(
                f"unknown metric {node.metric!r}",
                node,
                did_you_mean(node.metric, self.catalog.metrics)
                or "the catalog knows no such metric",
                kind="catalog",
            )
        agg = node.aggregator
        if agg is not None:
            if PERCENTILE.match(agg):
                if metric is not None and metric.type not in ("distribution", "unknown"):
                    self.error(
                        f"percentile aggregator {agg} needs a distribution metric; "
                        f"{node.metric} is a {metric.type}",
                        _At(node, len(agg)),
                        "use avg, sum, min or max",
                        kind="type",
                    )
            elif agg not in SPACE_AGGREGATORS + EXTRA_AGGREGATORS:
                self.error(
                    f"unknown space aggregator {agg!r}",
                    _At(node, len(agg)),
                    did_you_mean(agg, SPACE_AGGREGATORS)
                    or "use avg, sum, min, max, count or p50..p99",
                )
        self.scope(node.scope, metric)
        if metric is not None:
            for key in node.group_by:
                if key != "*" and metric.labels and key not in metric.labels:
                    self.error(
                        f"metric {node.metric} has no tag {key!r}",
                        node,
                        did_you_mean(key, metric.labels) or "group by one of its tags",
                        kind="catalog",
                    )
        for modifier in node.modifiers:
            self.modifier(modifier, node, metric)

    def modifier(self, mod, query: ast.MetricQuery, metric) -> None:
        if isinstance(mod, ast.Rollup):
            if mod.method is not None and mod.method not in ROLLUP_METHODS:
                self.error(
                    f"unknown rollup method {mod.method!r}",
                    mod,
                    did_you_mean(mod.method, ROLLUP_METHODS) or "use avg, sum, min, max or count",
                )
            interval = mod.interval
            if isinstance(interval, float) and (interval <= 0 or interval != int(interval)):
                self.error("the rollup interval must be a whole number of seconds above 0", mod)
            elif isinstance(interval, str) and interval not in CALENDAR_INTERVALS:
                self.error(
                    f"unknown rollup interval {interval!r}",
                    mod,
                    "give seconds (60) or daily, weekly, monthly",
                )
            return
        if isinstance(mod, ast.Fill):
            if mod.mode is not None and mod.mode not in FILL_MODES:
                self.error(
                    f"unknown fill mode {mod.mode!r}",
                    mod,
                    did_you_mean(mod.mode, FILL_MODES) or "use null, zero, linear or last",
                )
            if mod.limit is not None and not 0 <= mod.limit <= MAX_FILL_LIMIT:
                self.error(f"the fill limit must be between 0 and {MAX_FILL_LIMIT} seconds", mod)
            return
        arity = MODIFIERS.get(mod.name)
        if arity is None:
            hint = did_you_mean(mod.name, [*MODIFIERS, "rollup", "fill"])
            if mod.name in ("rollup", "fill"):
                hint = "e.g. .rollup(avg, 60) or .fill(zero, 300)"
            self.error(f"unknown or malformed modifier .{mod.name}()", mod, hint)
            return
        if not arity[0] <= len(mod.args) <= arity[1]:
            self.error(f".{mod.name}() takes {arity[1]} argument(s), got {len(mod.args)}", mod)
        if mod.name in ("as_count", "as_rate") and metric is not None:
            if metric.type in ("gauge", "distribution"):
                self.error(
                    f".{mod.name}() has no effect on {metric.type} metrics such as {query.metric}; "
                    "it applies to count and rate metrics",
                    mod,
                    "remove it, or use .rollup(sum) to add up the values in each interval",
                    kind="type",
                )

    # ---- scopes
    def scope(self, node, metric) -> None:
        symbolic, functional = [], []
        self._scope_walk(node, metric, symbolic, functional)
        if symbolic and functional:
            self.error(
                "`!` and `,` cannot be mixed with AND, OR, NOT or IN in one scope",
                node,
                "write `env:prod AND NOT host:a` or `env:prod,!host:a`",
            )

    def _scope_walk(self, node, metric, symbolic, functional) -> None:
        if isinstance(node, ast.FilterAnd):
            for symbol in node.symbols:
                (symbolic if symbol == "," else functional).append(symbol)
            for op in node.operands:
                self._scope_walk(op, metric, symbolic, functional)
        elif isinstance(node, ast.FilterOr):
            functional.append("OR")
            for op in node.operands:
                self._scope_walk(op, metric, symbolic, functional)
        elif isinstance(node, ast.FilterNot):
            (symbolic if node.symbol == "!" else functional).append(node.symbol)
            self._scope_walk(node.operand, metric, symbolic, functional)
        elif isinstance(node, ast.TagIn):
            functional.append("IN")
            self._tag(node.key, node.values, node, metric)
        elif isinstance(node, ast.TagFilter):
            self._tag(node.key, (node.value,) if node.value is not None else (), node, metric)

    def _tag(self, key: str, values, node, metric) -> None:
        if metric is None or not metric.labels or key.startswith("$"):
            return
        if key not in metric.labels:
            if not values:
                return  # a bare tag (`{production}`) need not be key:value
            self.error(
                f"metric {metric.name} has no tag {key!r}",
                node,
                did_you_mean(key, metric.labels) or "filter on one of its tags",
                kind="catalog",
            )
            return
        known = metric.labels[key]
        if not known or key in metric.high_cardinality:
            return
        for value in values:
            if value.startswith("$") or "*" in value or "?" in value or value in known:
                continue
            self.error(
                f"tag {key} has no value {value!r} on {metric.name}",
                node,
                did_you_mean(value, known) or f"known values: {', '.join(sorted(known)[:8])}",
                kind="catalog",
            )
