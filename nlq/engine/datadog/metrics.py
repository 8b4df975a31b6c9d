"""Datadog metric queries over a snapshot's dd_metrics / dd_series / dd_points.

The steps follow Datadog's documentation, in its order:

1. Rollup interval.  Datadog keeps a graph under ~300 points ("Datadog's backend
   tries to keep the number of intervals to a number below ~300"; a one-day view
   has 288 buckets of 5 minutes), so the interval is the smallest standard step
   giving at most 300 buckets; a `.rollup(method, N)` with a larger N wins.
   https://docs.datadoghq.com/metrics/guide/what-is-the-granularity-of-my-graphs-am-i-seeing-raw-data-or-aggregates-on-my-graph/
2. Time aggregation per series into buckets aligned to UNIX time ("the start and
   end of rollup intervals are aligned to UNIX time"); the default method is
   `avg` (https://docs.datadoghq.com/dashboards/functions/rollup/).
   `as_count()`/`as_rate()` per metric type
   (https://docs.datadoghq.com/metrics/custom_metrics/type_modifiers/):
   COUNT: sum; `.as_rate()` divides by the interval.  RATE: per-second values,
   averaged; `.as_count()` sums value x submission interval.  GAUGE: no effect.
   A COUNT queried without a modifier is summed, as the UI appends `.as_count()`.
   Distributions are aggregated over time and space at once (percentiles).
3. Interpolation of gaps before space aggregation: linear up to 300 s after a
   real sample by default, none for `as_count()`/`as_rate()` on counts and rates,
   `.fill(mode, limit)` to choose (https://docs.datadoghq.com/metrics/guide/interpolation-the-fill-modifier-explained/).
4. Space aggregation across the series of each `by {...}` group with the query's
   aggregator (avg when absent).
5. Functions, then arithmetic between queries (series matched by their group tags;
   a single series or a number applies to every series of the other side).

Dashboard template variables (`$host`) in a scope match every series, as an unset
template variable does.
"""

from __future__ import annotations

import fnmatch
import math
from dataclasses import dataclass, field

import duckdb
import numpy as np

from nlq.dialects.datadog_metrics import ast
from nlq.dialects.datadog_metrics.parser import parse
from nlq.errors import NlqError

MAX_POINTS = 300
STANDARD_INTERVALS_S = (
    1,
    2,
    5,
    10,
    15,
    20,
    30,
    60,
    120,
    300,
    600,
    900,
    1200,
    1800,
    3600,
    7200,
    14400,
    21600,
    43200,
    86400,
    172800,
    604800,
)
DEFAULT_FILL_LIMIT_S = 300
SHIFTS_S = {
    "hour_before": 3600,
    "day_before": 86400,
    "week_before": 604800,
    "month_before": 28 * 86400,
}


@dataclass
class Series:
    """One line of a result: its group tags (`("host:a",)`, `()` ungrouped) and one
    value per bucket of the result's grid (NaN where there is none)."""

    group: tuple[str, ...]
    values: np.ndarray

    @property
    def tags(self) -> dict[str, str]:
        return dict(t.split(":", 1) if ":" in t else (t, "") for t in self.group)


@dataclass
class MetricResult:
    """Series on a common grid of bucket start times (ms since the epoch)."""

    times: np.ndarray
    interval_s: int
    series: list[Series] = field(default_factory=list)

    def by_group(self) -> dict[tuple[str, ...], list[float | None]]:
        return {
            s.group: [None if math.isnan(v) else float(v) for v in s.values] for s in self.series
        }


def default_interval(start_ms: int, end_ms: int) -> int:
    """The smallest standard interval that keeps [start, end) at most 300 buckets."""
    span_s = max(1, (end_ms - start_ms) / 1000)
    for step in STANDARD_INTERVALS_S:
        if span_s / step <= MAX_POINTS:
            return step
    return STANDARD_INTERVALS_S[-1]


def query_metrics(
    con: duckdb.DuckDBPyConnection, query, start_ms: int, end_ms: int, interval_s: int | None = None
) -> MetricResult:
    """Evaluate a metric query or formula over [start_ms, end_ms), at `interval_s`
    (default: `default_interval`) unless a query asks for a coarser rollup.

    >>> query_metrics(con, "sum:trace.http.request.hits{service:cart} by {resource_name}", s, e)
    MetricResult(times=array([...]), interval_s=60, series=[Series(group=('resource_name:...',), ...)])
    """
    node = parse(query) if isinstance(query, str) else query
    if isinstance(node, ast.QueryList | ast.MetricMonitor | ast.SourceMonitor):
        raise NlqError(
            "the metrics engine evaluates one query or formula, not a query list or a monitor"
        )
    # A `.rollup(_, N)` coarser than the chosen interval wins; a finer one does not.
    interval = max([interval_s or default_interval(start_ms, end_ms), *_rollup_intervals(node)])
    interval_ms = interval * 1000
    first = (start_ms // interval_ms) * interval_ms
    times = np.arange(first, end_ms, interval_ms, dtype=np.int64)
    engine = _Engine(con, times, interval)
    value = engine.eval(node, 0)
    if isinstance(value, float):
        value = [Series((), np.full(len(times), value))]
    return MetricResult(times, interval, value)


def _rollup_intervals(node) -> list[int]:
    out = []
    if isinstance(node, ast.MetricQuery):
        rollup = node.modifier(ast.Rollup)
        if rollup is not None and isinstance(rollup.interval, float):
            out.append(int(rollup.interval))
    for child in getattr(node, "args", ()) or ():
        out.extend(_rollup_intervals(child))
    for attr in ("left", "right", "operand"):
        if hasattr(node, attr):
            out.extend(_rollup_intervals(getattr(node, attr)))
    return out


# ---- scope filters ----------------------------------------------------------
def scope_matches(node, tags: list[str]) -> bool:
    """Whether a series with `tags` ("key:value" strings) is in the scope `node`."""
    if isinstance(node, ast.AllScope | ast.TemplateVar):
        return True
    if isinstance(node, ast.FilterAnd):
        return all(scope_matches(op, tags) for op in node.operands)
    if isinstance(node, ast.FilterOr):
        return any(scope_matches(op, tags) for op in node.operands)
    if isinstance(node, ast.FilterNot):
        return not scope_matches(node.operand, tags)
    if isinstance(node, ast.TagFilter):
        if node.value is None:
            return node.key in tags
        if node.value.startswith("$"):
            return True
        return any(_tag_match(tag, node.key, node.value) for tag in tags)
    if isinstance(node, ast.TagIn):
        found = any(_tag_match(tag, node.key, v) for tag in tags for v in node.values)
        return found != node.negated
    raise TypeError(f"not a scope filter: {node!r}")


def _tag_match(tag: str, key: str, pattern: str) -> bool:
    tag_key, _, value = tag.partition(":")
    if tag_key != key:
        return False
    if "*" in pattern or "?" in pattern:
        return fnmatch.fnmatchcase(value, pattern)
    return value == pattern


# ---- evaluation -------------------------------------------------------------
class _Engine:
    def __init__(self, con, times: np.ndarray, interval_s: int):
        self.con = con
        self.times = times
        self.interval_s = interval_s
        self.interval_ms = interval_s * 1000
        self._meta: dict[str, tuple[str, int]] = {
            m: (t, i)
            for m, t, i in con.execute("SELECT metric, type, interval_s FROM dd_metrics").fetchall()
        }

    def eval(self, node, shift_s: int):
        if isinstance(node, ast.Number):
            return float(node.value)
        if isinstance(node, ast.MetricQuery):
            return self.metric_query(node, shift_s)
        if isinstance(node, ast.Negate):
            return _combine("*", -1.0, self.eval(node.operand, shift_s))
        if isinstance(node, ast.Binary):
            return _combine(node.op, self.eval(node.left, shift_s), self.eval(node.right, shift_s))
        if isinstance(node, ast.Function):
            return self.function(node, shift_s)
        raise NlqError(f"cannot evaluate {type(node).__name__} in the Datadog metrics engine")

    # ---- one metric query
    def metric_query(self, q: ast.MetricQuery, shift_s: int) -> list[Series]:
        if q.metric not in self._meta:
            raise NlqError(f"unknown metric {q.metric!r} in this snapshot")
        mtype, submit_s = self._meta[q.metric]
        shift_ms = shift_s * 1000
        start = int(self.times[0]) + shift_ms if len(self.times) else 0
        end = int(self.times[-1]) + self.interval_ms + shift_ms if len(self.times) else 0
        rows = self.con.execute(
            "SELECT s.series_id, s.tags, p.ts, p.value FROM dd_series s JOIN dd_points p USING (series_id) "
            "WHERE s.metric = ? AND p.ts >= ? AND p.ts < ? ORDER BY s.series_id, p.ts",
            [q.metric, start, end],
        ).fetchall()
        by_series: dict[int, tuple[list[str], list[int], list[float]]] = {}
        for sid, tags, ts, value in rows:
            entry = by_series.setdefault(sid, (list(tags), [], []))
            entry[1].append(ts - shift_ms)
            entry[2].append(value)
        selected = [v for v in by_series.values() if scope_matches(q.scope, v[0])]
        aggregator = q.aggregator or "avg"
        groups: dict[tuple[str, ...], list] = {}
        for tags, ts, values in selected:
            groups.setdefault(_group_of(tags, q.group_by), []).append(
                (np.array(ts, dtype=np.int64), np.array(values))
            )

        rollup = q.modifier(ast.Rollup)
        as_count, as_rate = q.has("as_count"), q.has("as_rate")
        if mtype == "distribution":
            method = aggregator
            return [
                Series(g, self._bucket_all(members, method))
                for g, members in sorted(groups.items())
            ]

        method, scale, interpolate = "avg", None, True
        if mtype == "count":
            method, interpolate = "sum", False
            if as_rate:
                scale = 1.0 / self.interval_s
        elif mtype == "rate":
            if as_count:
                method, interpolate, scale = "sum", False, float(submit_s)
            elif as_rate:
                interpolate = False
        if rollup is not None and rollup.method is not None:
            method = rollup.method
        fill = q.modifier(ast.Fill)
        fill_mode, limit = ("linear" if interpolate else None), DEFAULT_FILL_LIMIT_S
        if fill is not None:
            fill_mode = None if fill.mode == "null" else (fill.mode or "linear")
            limit = fill.limit if fill.limit is not None else DEFAULT_FILL_LIMIT_S

        out = []
        for group, members in sorted(groups.items()):
            rows_ = []
            for ts, values in members:
                bucketed = self._bucket(
                    ts, values * (scale if scale and mtype == "rate" else 1.0), method
                )
                if scale and mtype == "count":
                    bucketed = bucketed * scale
                rows_.append(_fill(bucketed, fill_mode, limit, self.interval_s))
            values = _space(aggregator, np.vstack(rows_))
            if not interpolate and fill is None:
                # COUNT and RATE queried as counts or rates "are always aligned as 0"
                # (https://docs.datadoghq.com/dashboards/functions/interpolation/#default-zero)
                values = np.where(np.isnan(values), 0.0, values)
            out.append(Series(group, values))
        return out

    def _bucket(self, ts: np.ndarray, values: np.ndarray, method: str) -> np.ndarray:
        n = len(self.times)
        idx = (ts - self.times[0]) // self.interval_ms
        keep = (idx >= 0) & (idx < n)
        idx, values = idx[keep], values[keep]
        out = np.full(n, np.nan)
        if not len(idx):
            return out
        counts = np.bincount(idx, minlength=n).astype(float)
        if method in ("sum", "avg", "count"):
            sums = np.bincount(idx, weights=values, minlength=n)
            if method == "sum":
                out = np.where(counts > 0, sums, np.nan)
            elif method == "avg":
                out = np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)
            else:
                out = np.where(counts > 0, counts, np.nan)
        elif method in ("min", "max"):
            init = np.inf if method == "min" else -np.inf
            acc = np.full(n, init)
            (np.minimum if method == "min" else np.maximum).at(acc, idx, values)
            out = np.where(counts > 0, acc, np.nan)
        else:
            raise NlqError(f"unknown rollup method {method!r}")
        return out

    def _bucket_all(self, members, method: str) -> np.ndarray:
        """Distributions: every raw value of the group in a bucket, aggregated at once."""
        ts = np.concatenate([m[0] for m in members]) if members else np.array([], dtype=np.int64)
        values = np.concatenate([m[1] for m in members]) if members else np.array([])
        if method.startswith("p"):
            quantile = float(method[1:]) / 100
            n = len(self.times)
            idx = (ts - self.times[0]) // self.interval_ms
            out = np.full(n, np.nan)
            for i in range(n):
                chosen = values[idx == i]
                if len(chosen):
                    out[i] = float(np.quantile(chosen, quantile))
            return out
        return self._bucket(ts, values, method)

    # ---- functions
    def function(self, node: ast.Function, shift_s: int):
        name = node.name
        if name == "timeshift":
            return self.eval(node.args[0], shift_s + int(_number_arg(node.args[1])))
        if name in SHIFTS_S:
            return self.eval(node.args[0], shift_s - SHIFTS_S[name])
        series = self.eval(node.args[0], shift_s)
        if isinstance(series, float):
            series = [Series((), np.full(len(self.times), series))]
        if name == "top" or name.startswith(("top", "bottom")):
            return _top(name, series, node.args[1:])
        if name in ("count_nonzero", "count_not_null"):
            matrix = (
                np.vstack([s.values for s in series])
                if series
                else np.full((1, len(self.times)), np.nan)
            )
            test = (
                (matrix != 0) & ~np.isnan(matrix) if name == "count_nonzero" else ~np.isnan(matrix)
            )
            return [Series((), test.sum(axis=0).astype(float))]
        transform = _TRANSFORMS.get(name)
        if transform is None:
            raise NlqError(f"{name}() is not evaluated by nlq's Datadog engine")
        extra = [_number_arg(a) for a in node.args[1:]]
        return [Series(s.group, transform(s.values, self.interval_s, *extra)) for s in series]


def _number_arg(node) -> float:
    if isinstance(node, ast.Number):
        return node.value
    if isinstance(node, ast.Negate) and isinstance(node.operand, ast.Number):
        return -node.operand.value
    raise NlqError("expected a number argument")


def _group_of(tags: list[str], group_by: tuple[str, ...]) -> tuple[str, ...]:
    if not group_by or group_by == ("*",):
        return tuple(sorted(tags)) if group_by == ("*",) else ()
    found = dict(t.split(":", 1) for t in tags if ":" in t)
    return tuple(f"{key}:{found.get(key, 'N/A')}" for key in group_by)


def _fill(values: np.ndarray, mode: str | None, limit_s: float, interval_s: int) -> np.ndarray:
    """Fill gaps up to `limit_s` seconds after a real value."""
    if mode is None:
        return values
    out = values.copy()
    real = np.flatnonzero(~np.isnan(values))
    max_steps = int(limit_s // interval_s)
    for a, b in zip(real[:-1], real[1:], strict=False):
        for k in range(a + 1, min(b, a + 1 + max_steps)):
            if mode == "linear":
                out[k] = values[a] + (values[b] - values[a]) * (k - a) / (b - a)
            elif mode == "last":
                out[k] = values[a]
            elif mode == "zero":
                out[k] = 0.0
    if len(real) and mode in ("last", "zero"):
        a = real[-1]
        for k in range(a + 1, min(len(values), a + 1 + max_steps)):
            out[k] = values[a] if mode == "last" else 0.0
    return out


def _space(aggregator: str, matrix: np.ndarray) -> np.ndarray:
    present = ~np.isnan(matrix)
    any_present = present.any(axis=0)
    with np.errstate(all="ignore"):
        if aggregator == "sum":
            result = np.nansum(matrix, axis=0)
        elif aggregator == "avg":
            result = np.nansum(matrix, axis=0) / np.maximum(present.sum(axis=0), 1)
        elif aggregator == "min":
            result = np.min(np.where(present, matrix, np.inf), axis=0)
        elif aggregator == "max":
            result = np.max(np.where(present, matrix, -np.inf), axis=0)
        elif aggregator == "count":
            result = present.sum(axis=0).astype(float)
        else:
            raise NlqError(
                f"space aggregator {aggregator!r} is not evaluated by nlq's Datadog engine"
            )
    return np.where(any_present, result, np.nan)


def _combine(op: str, left, right):
    fn = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": _divide}[op]
    if isinstance(left, float) and isinstance(right, float):
        return float(fn(np.array([left]), np.array([right]))[0])
    if isinstance(left, float):
        return [Series(s.group, fn(np.full(len(s.values), left), s.values)) for s in right]
    if isinstance(right, float):
        return [Series(s.group, fn(s.values, np.full(len(s.values), right))) for s in left]
    # An ungrouped query applies to every series of the other side; grouped ones
    # pair up by their group tags, and a series without a partner is dropped.
    if len(right) == 1 and right[0].group == ():
        return [Series(s.group, fn(s.values, right[0].values)) for s in left]
    if len(left) == 1 and left[0].group == ():
        return [Series(s.group, fn(left[0].values, s.values)) for s in right]
    by_group = {s.group: s for s in right}
    return [
        Series(s.group, fn(s.values, by_group[s.group].values)) for s in left if s.group in by_group
    ]


def _divide(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.where(b == 0, np.nan, a / np.where(b == 0, 1, b))


def _diff(values: np.ndarray, interval_s: int) -> np.ndarray:
    out = np.full(len(values), np.nan)
    out[1:] = values[1:] - values[:-1]
    return out


_TRANSFORMS = {
    "abs": lambda v, i: np.abs(v),
    "log2": lambda v, i: np.log2(np.where(v > 0, v, np.nan)),
    "log10": lambda v, i: np.log10(np.where(v > 0, v, np.nan)),
    "cumsum": lambda v, i: np.where(np.isnan(v), np.nan, np.nancumsum(v)),
    "diff": _diff,
    "per_second": lambda v, i: _diff(v, i) / i,
    "derivative": lambda v, i: _diff(v, i) / i,
    "per_minute": lambda v, i: _diff(v, i) / i * 60,
    "per_hour": lambda v, i: _diff(v, i) / i * 3600,
    "default_zero": lambda v, i: np.where(np.isnan(v), 0.0, v),
    "clamp_min": lambda v, i, t: np.where(np.isnan(v), np.nan, np.maximum(v, t)),
    "clamp_max": lambda v, i, t: np.where(np.isnan(v), np.nan, np.minimum(v, t)),
    "cutoff_min": lambda v, i, t: np.where(v < t, np.nan, v),
    "cutoff_max": lambda v, i, t: np.where(v > t, np.nan, v),
}

_RANKERS = {
    "mean": np.nanmean,
    "avg": np.nanmean,
    "min": np.nanmin,
    "max": np.nanmax,
    "sum": np.nansum,
    "area": np.nansum,
    "last": lambda v: v[~np.isnan(v)][-1] if (~np.isnan(v)).any() else np.nan,
    "l2norm": lambda v: float(np.sqrt(np.nansum(v * v))),
    "norm": lambda v: float(np.sqrt(np.nansum(v * v))),
}


def _top(name: str, series: list[Series], args) -> list[Series]:
    """top(q, N, 'mean', 'desc') and the shorthands top10(), bottom5_max()."""
    if name == "top":
        limit = int(_number_arg(args[0])) if args else 10
        by = args[1].value if len(args) > 1 else "mean"
        descending = (args[2].value if len(args) > 2 else "desc") == "desc"
    else:
        descending = name.startswith("top")
        body = name[3:] if descending else name[6:]
        count, _, by = body.partition("_")
        limit, by = int(count), by or "mean"
    ranker = _RANKERS[by]

    def score(s: Series) -> float:
        if np.isnan(s.values).all():
            return -math.inf if descending else math.inf
        return float(ranker(s.values))

    ranked = sorted(series, key=score, reverse=descending)
    return ranked[:limit]
