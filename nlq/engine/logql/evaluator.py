"""Evaluating LogQL metric and log queries over a `LogStore`, with Loki's semantics.

* A range aggregation at time t looks at the half-open window (t-offset-range,
  t-offset]: a line exactly at the window's start is out, one at its end is in.
* A range query evaluates at start, start+step, ... up to end, each step on
  its own; an instant query is the one step at its time.
* The pipeline runs once per line; a metric query over lines that still carry
  `__error__` fails, as in Loki.
* Vector matching, `bool`, `on`/`ignoring`, `group_left`/`group_right` follow
  Prometheus; division and modulo by zero give NaN, as in Loki.
"""

from __future__ import annotations

import bisect
import math
import re
from collections import defaultdict
from dataclasses import dataclass

from nlq.dialects.logql import ast
from nlq.dialects.logql.checks import go_regex
from nlq.engine.logql.pipeline import ERROR, ERROR_DETAILS, Labels, label_filter, run_stage
from nlq.engine.logql.storage import LogStore
from nlq.engine.logql.units import parse_bytes, parse_duration_seconds, parse_go_duration
from nlq.errors import NlqError

NS = 1_000_000_000
Key = tuple[tuple[str, str], ...]


class EvaluationError(NlqError):
    """Loki would refuse this query while running it (not while parsing it)."""


@dataclass
class Scalar:
    values: list[float]  # one per step


@dataclass
class Vectors:
    steps: list[dict[Key, float]]  # one vector per step, in result order


def key_of(labels: dict[str, str]) -> Key:
    return tuple(sorted(labels.items()))


def duration_ns(text: str) -> int:
    return round(parse_duration_seconds(text) * NS)


class Evaluator:
    def __init__(self, store: LogStore):
        self.store = store

    def log_lines(
        self, node: ast.LogQuery, start_ns: int, end_ns: int
    ) -> dict[Key, list[tuple[int, str]]]:
        """A log query: its streams (label sets after the pipeline), each a list of (ts, line)."""
        streams: dict[Key, list[tuple[int, str]]] = defaultdict(list)
        for entry, labels, line in self._processed(node.selector, node.stages, start_ns, end_ns):
            streams[key_of(labels.values)].append((entry.ts, line))
        return dict(streams)

    # -- dispatch
    def eval(self, node, steps: list[int], instant: bool):
        if isinstance(node, ast.NumberLiteral):
            return Scalar([node.value] * len(steps))
        if isinstance(node, ast.VectorExpr):
            return Vectors([{(): node.value} for _ in steps])
        if isinstance(node, ast.RangeAggregation):
            return self.range_aggregation(node, steps)
        if isinstance(node, ast.VectorAggregation):
            if node.op == "approx_topk" and not instant:
                raise EvaluationError("approx_topk is only supported on instant queries")
            inner = self.eval(node.expr, steps, instant)
            return self.vector_aggregation(node, inner)
        if isinstance(node, ast.BinaryOp):
            return self.binary(
                node, self.eval(node.left, steps, instant), self.eval(node.right, steps, instant)
            )
        if isinstance(node, ast.LabelReplace):
            return self.label_replace(node, self.eval(node.expr, steps, instant))
        if isinstance(node, ast.LogQuery):
            raise EvaluationError("a log query cannot be used where a metric is needed")
        raise EvaluationError(f"cannot evaluate {type(node).__name__}")

    # -- the log side
    def _processed(self, selector: ast.Selector, stages, start_ns: int, end_ns: int):
        pushed = []
        for stage in stages:
            if (
                isinstance(stage, ast.LineFilter)
                and stage.op in ("|=", "!=", "|~", "!~")
                and not any(v.ip for v in stage.values)
            ):
                pushed.append(stage)
            else:
                break
        rest = stages[len(pushed) :]
        for entry in self.store.select(selector, pushed, start_ns, end_ns):
            labels = Labels(dict(entry.stream))
            for k, v in entry.metadata:
                labels.add_metadata(k, v)
            line: str | None = entry.line
            for stage in rest:
                line = run_stage(stage, line, labels, entry.ts)
                if line is None:
                    break
            if line is not None:
                yield entry, labels, line

    def _samples(self, rng: ast.LogRange, start_ns: int, end_ns: int, op: str):
        """Per series, the (ts, value) samples a range aggregation reads, sorted by time."""
        series: dict[Key, list[tuple[int, float]]] = defaultdict(list)
        unwrap = rng.unwrap
        for entry, labels, line in self._processed(rng.selector, rng.stages, start_ns, end_ns):
            if unwrap is not None:
                if unwrap.name not in labels.values:
                    continue  # Loki takes no sample from a line without the label
                raw = labels.values[unwrap.name]
                try:
                    value = _convert(raw, unwrap.conversion)
                except ValueError as exc:
                    value = 0.0
                    labels.set_error("SampleExtractionErr", str(exc))
                if any(not label_filter(f, labels) for f in unwrap.post_filters):
                    continue
                labels.values.pop(unwrap.name, None)
            elif op in ("bytes_over_time", "bytes_rate"):
                value = float(len(line.encode()))
            else:
                value = 1.0
            if labels.values.get(ERROR):
                raise EvaluationError(
                    f"{labels.values[ERROR]}: {labels.values.get(ERROR_DETAILS, '')}".rstrip(": ")
                    + ' (drop such lines with | __error__="")'
                )
            labels.values.pop(ERROR, None)
            labels.values.pop(ERROR_DETAILS, None)
            series[key_of(labels.values)].append((entry.ts, value))
        for samples in series.values():
            samples.sort(key=lambda s: s[0])
        return series

    def range_aggregation(self, node: ast.RangeAggregation, steps: list[int]) -> Vectors:
        rng = node.range
        width = duration_ns(rng.range)
        offset = duration_ns(rng.offset) if rng.offset else 0
        series = self._samples(rng, steps[0] - offset - width, steps[-1] - offset, node.op)
        if node.grouping is not None:
            grouped: dict[Key, list[tuple[int, float]]] = defaultdict(list)
            for key, samples in series.items():
                grouped[_group_key(key, node.grouping)].extend(samples)
            series = {k: sorted(v, key=lambda s: s[0]) for k, v in grouped.items()}
        times = {k: [s[0] for s in v] for k, v in series.items()}
        out: list[dict[Key, float]] = []
        for t in steps:
            end = t - offset
            start = end - width
            vector: dict[Key, float] = {}
            for key, samples in series.items():
                lo = bisect.bisect_right(times[key], start)
                hi = bisect.bisect_right(times[key], end)
                window = samples[lo:hi]
                if not window:
                    continue
                value = _range_function(node, window, start, end, width)
                if value is not None:
                    vector[key] = value
            if node.op == "absent_over_time":
                vector = {} if vector else {_absent_key(rng.selector): 1.0}
            out.append(vector)
        return Vectors(out)

    # -- vectors
    def vector_aggregation(self, node: ast.VectorAggregation, inner) -> Vectors:
        if isinstance(inner, Scalar):
            raise EvaluationError(f"{node.op} needs a vector, not a scalar")
        out = []
        for vector in inner.steps:
            if node.op in ("sort", "sort_desc"):
                desc = node.op == "sort_desc"
                items = sorted(vector.items(), key=lambda kv: _rank(kv[1], desc), reverse=desc)
                out.append(dict(items))
                continue
            groups: dict[Key, list[tuple[Key, float]]] = defaultdict(list)
            for key, value in vector.items():
                groups[_group_key(key, node.grouping) if node.grouping else ()].append((key, value))
            result: dict[Key, float] = {}
            for gkey, members in groups.items():
                values = [v for _, v in members]
                if node.op in ("topk", "bottomk", "approx_topk"):
                    k = int(node.param or 0)
                    desc = node.op != "bottomk"
                    ranked = sorted(members, key=lambda kv: _rank(kv[1], desc), reverse=desc)
                    for key, value in ranked[:k]:
                        result[key] = value
                    continue
                result[gkey] = _aggregate(node.op, values)
            out.append(result)
        return Vectors(out)

    def label_replace(self, node: ast.LabelReplace, inner) -> Vectors:
        regex = go_regex(f"^(?:{node.regex})$")
        template = _go_template_to_python(node.replacement)
        out = []
        for vector in inner.steps:
            result: dict[Key, float] = {}
            for key, value in vector.items():
                labels = dict(key)
                m = regex.match(labels.get(node.src, ""))
                if m:
                    new = m.expand(template)
                    if new:
                        labels[node.dst] = new
                    else:
                        labels.pop(node.dst, None)
                new_key = key_of(labels)
                if new_key in result:
                    raise EvaluationError("vector cannot contain metrics with the same labelset")
                result[new_key] = value
            out.append(result)
        return Vectors(out)

    def binary(self, node: ast.BinaryOp, left, right):
        op = node.op
        if isinstance(left, Scalar) and isinstance(right, Scalar):
            return Scalar(
                [_arith(op, a, b, True) for a, b in zip(left.values, right.values, strict=True)]
            )
        if isinstance(left, Scalar) or isinstance(right, Scalar):
            out = []
            scalar_left = isinstance(left, Scalar)
            scalars = (left if scalar_left else right).values
            vectors = (right if scalar_left else left).steps
            for s, vector in zip(scalars, vectors, strict=True):
                result = {}
                for key, v in vector.items():
                    a, b = (s, v) if scalar_left else (v, s)
                    if op in ast.COMPARISON_OPS:
                        hit = _compare(op, a, b)
                        if node.return_bool:
                            result[key] = 1.0 if hit else 0.0
                        elif hit:
                            result[key] = v
                    else:
                        result[key] = _arith(op, a, b, False)
                out.append(result)
            return Vectors(out)
        return Vectors(
            [
                self._vector_vector(node, lv, rv)
                for lv, rv in zip(left.steps, right.steps, strict=True)
            ]
        )

    def _vector_vector(self, node: ast.BinaryOp, left: dict, right: dict) -> dict:
        op = node.op
        m = node.matching

        def sig(key: Key) -> Key:
            if m is None:
                return key
            if m.on:
                return tuple((k, v) for k, v in key if k in m.labels)
            return tuple((k, v) for k, v in key if k not in m.labels)

        if op in ast.SET_OPS:
            right_sigs = {sig(k) for k in right}
            if op == "and":
                return {k: v for k, v in left.items() if sig(k) in right_sigs}
            if op == "unless":
                return {k: v for k, v in left.items() if sig(k) not in right_sigs}
            left_sigs = {sig(k) for k in left}
            result = dict(left)
            for k, v in right.items():
                if sig(k) not in left_sigs:
                    result[k] = v
            return result

        card = m.card if m is not None else "one-to-one"
        many, one = (right, left) if card == "group_right" else (left, right)
        one_by_sig: dict[Key, tuple[Key, float]] = {}
        for k, v in one.items():
            s = sig(k)
            if s in one_by_sig:
                if card == "one-to-one":
                    raise EvaluationError(
                        "found duplicate series for the match group on the right hand-side of the operation: "
                        "many-to-many matching not allowed"
                    )
                raise EvaluationError(
                    "found duplicate series for the match group: many-to-many matching not allowed"
                )
            one_by_sig[s] = (k, v)
        result: dict[Key, float] = {}
        seen_sigs: set[Key] = set()
        for k, v in many.items():
            s = sig(k)
            if s not in one_by_sig:
                continue
            if card == "one-to-one":
                if s in seen_sigs:
                    raise EvaluationError(
                        "multiple matches for labels: many-to-one matching must be explicit (group_left/group_right)"
                    )
                seen_sigs.add(s)
            ok, ov = one_by_sig[s]
            lv, rv = (ov, v) if card == "group_right" else (v, ov)
            if op in ast.COMPARISON_OPS:
                hit = _compare(op, lv, rv)
                if not node.return_bool and not hit:
                    continue
                value = (1.0 if hit else 0.0) if node.return_bool else lv
            else:
                value = _arith(op, lv, rv, False)
            labels = dict(k)
            if card == "one-to-one":
                if m is not None and m.on:
                    labels = {n: x for n, x in labels.items() if n in m.labels}
                elif m is not None:
                    labels = {n: x for n, x in labels.items() if n not in m.labels}
            else:
                other = dict(ok)
                for name in m.include:
                    if other.get(name):
                        labels[name] = other[name]
                    else:
                        labels.pop(name, None)
            rkey = key_of(labels)
            if rkey in result:
                raise EvaluationError(
                    "found duplicate series for the match group: multiple matches for labels"
                )
            result[rkey] = value
        return result


# ---------------------------------------------------------------- helpers
def _convert(raw: str, conversion: str | None) -> float:
    if conversion in ("duration", "duration_seconds"):
        return parse_go_duration(raw)
    if conversion == "bytes":
        return parse_bytes(raw)
    return float(raw.strip())


def _group_key(key: Key, grouping: ast.Grouping) -> Key:
    if grouping.without:
        return tuple((k, v) for k, v in key if k not in grouping.labels)
    return tuple((k, v) for k, v in key if k in grouping.labels)


def _absent_key(selector: ast.Selector) -> Key:
    labels = {}
    for m in selector.matchers:
        if m.op == "=":
            labels[m.name] = m.value
    return key_of(labels)


def _rank(v: float, descending: bool) -> tuple:
    """Sort key that puts NaN last whichever the direction (Prometheus's sort, topk, bottomk)."""
    if math.isnan(v):
        return (0, 0.0) if descending else (1, 0.0)
    return (1, v) if descending else (0, v)


def _quantile(q: float, values: list[float]) -> float:
    if not values:
        return math.nan
    if q < 0:
        return -math.inf
    if q > 1:
        return math.inf
    values = sorted(values)
    rank = q * (len(values) - 1)
    lo = math.floor(rank)
    hi = min(lo + 1, len(values) - 1)
    weight = rank - lo
    return values[lo] * (1 - weight) + values[hi] * weight


def _variance(values: list[float]) -> float:
    mean = sum(values) / len(values)
    return sum((v - mean) ** 2 for v in values) / len(values)


def _range_function(
    node: ast.RangeAggregation, window, start: int, end: int, width: int
) -> float | None:
    op = node.op
    values = [v for _, v in window]
    seconds = width / NS
    if op == "count_over_time":
        return float(len(values))
    if op == "rate":
        return (sum(values) if node.range.unwrap is not None else len(values)) / seconds
    if op == "bytes_over_time":
        return sum(values)
    if op == "bytes_rate":
        return sum(values) / seconds
    if op == "sum_over_time":
        return sum(values)
    if op == "avg_over_time":
        return sum(values) / len(values)
    if op == "min_over_time":
        return (
            math.nan
            if any(math.isnan(v) for v in values) and all(math.isnan(v) for v in values)
            else min(v for v in values if not math.isnan(v))
        )
    if op == "max_over_time":
        return (
            math.nan
            if all(math.isnan(v) for v in values)
            else max(v for v in values if not math.isnan(v))
        )
    if op == "stdvar_over_time":
        return _variance(values)
    if op == "stddev_over_time":
        return math.sqrt(_variance(values))
    if op == "quantile_over_time":
        return _quantile(node.param if node.param is not None else 0.5, values)
    if op == "first_over_time":
        return values[0]
    if op == "last_over_time":
        return values[-1]
    if op == "absent_over_time":
        return 1.0
    if op == "rate_counter":
        return _extrapolated_rate(window, start, end)
    raise EvaluationError(f"unknown range aggregation {op}")


def _extrapolated_rate(window, start: int, end: int) -> float:
    """Prometheus 3's extrapolatedRate for counters, which Loki's rate_counter follows.

    A window with one sample has no rate: 0.  The extrapolation to the window's
    edges is clamped to half the average sample interval when the edge lies
    beyond 1.1 intervals, and only then shortened to where the counter was zero.
    """
    if len(window) < 2:
        return 0.0
    result = window[-1][1] - window[0][1]
    prev = window[0][1]
    for _, v in window[1:]:
        if v < prev:
            result += prev
        prev = v
    first_t, last_t = window[0][0], window[-1][0]
    duration_to_start = (first_t - start) / NS
    duration_to_end = (end - last_t) / NS
    sampled = (last_t - first_t) / NS
    avg_interval = sampled / (len(window) - 1)
    threshold = avg_interval * 1.1
    if duration_to_start >= threshold:
        duration_to_start = avg_interval / 2
    if result > 0 and window[0][1] >= 0:
        duration_to_zero = sampled * (window[0][1] / result)
        duration_to_start = min(duration_to_start, duration_to_zero)
    if duration_to_end >= threshold:
        duration_to_end = avg_interval / 2
    result = result * ((sampled + duration_to_start + duration_to_end) / sampled)
    return result / ((end - start) / NS)


def _aggregate(op: str, values: list[float]) -> float:
    if op == "sum":
        return sum(values)
    if op == "avg":
        return sum(values) / len(values)
    if op == "count":
        return float(len(values))
    if op == "min":
        clean = [v for v in values if not math.isnan(v)]
        return min(clean) if clean else math.nan
    if op == "max":
        clean = [v for v in values if not math.isnan(v)]
        return max(clean) if clean else math.nan
    if op == "stdvar":
        return _variance(values)
    if op == "stddev":
        return math.sqrt(_variance(values))
    raise EvaluationError(f"unknown aggregation {op}")


def _compare(op: str, a: float, b: float) -> bool:
    return {
        "==": a == b,
        "!=": a != b,
        ">": a > b,
        ">=": a >= b,
        "<": a < b,
        "<=": a <= b,
    }[op]


def _arith(op: str, a: float, b: float, scalars: bool) -> float:
    if op in ast.COMPARISON_OPS:
        return 1.0 if _compare(op, a, b) else 0.0
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    if op == "/":
        return math.nan if b == 0 else a / b
    if op == "%":
        return math.nan if b == 0 else math.fmod(a, b)
    if op == "^":
        if a == 0 and b < 0:
            odd = b == int(b) and int(b) % 2 == 1
            return math.copysign(math.inf, a) if odd else math.inf
        try:
            return math.pow(a, b)
        except (OverflowError, ValueError):
            return math.inf if a > 0 else math.nan
    raise EvaluationError(f"unknown operator {op}")


def _go_template_to_python(replacement: str) -> str:
    """label_replace's $1 / ${1} / $name into Python's \\g<1>."""
    out = replacement.replace("\\", "\\\\")
    out = re.sub(r"\$\{(\w+)\}", r"\\g<\1>", out)
    out = re.sub(r"\$(\w+)", r"\\g<\1>", out)
    return out


__all__ = ["EvaluationError", "Evaluator", "Scalar", "Vectors", "duration_ns"]
