"""Evaluating PromQL over `Storage` with Prometheus 3's semantics.

Every expression is evaluated for a whole array of evaluation times at once
(one per step; an instant query has one):

* an instant vector is a list of `VSeries`: labels, one value per step and a
  mask of the steps where the series has a sample;
* a range vector is a `Matrix`: raw samples per series plus, per step, the end
  of its window `(t - range, t]` (left-open, as in Prometheus 3);
* a scalar is one value per step.

Rules kept from Prometheus: 5-minute lookback for instant selectors, staleness
markers end a series (and never enter a range), `offset` and `@` (incl.
`start()`/`end()`), subqueries aligned to multiples of their step, the
extrapolation of rate/increase/delta, delayed removal of `__name__` (functions
mark a series, the name goes at the very end; arithmetic between vectors drops it
at once), and the engine errors for duplicate label sets and ambiguous matching.
"""

from __future__ import annotations

import calendar
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from nlq.engine.promql.storage import Storage
from nlq.errors import NlqError

LOOKBACK_MS = 5 * 60 * 1000
DEFAULT_SUBQUERY_STEP_MS = 60 * 1000
NAME = "__name__"


class PromQLError(NlqError):
    """Prometheus would refuse this query while evaluating it."""


# --------------------------------------------------------------------------- values
@dataclass
class VSeries:
    labels: dict[str, str]
    values: np.ndarray
    present: np.ndarray
    drop_name: bool = False
    ts: np.ndarray | None = None  # the samples' own timestamps (instant selectors only)


@dataclass
class Vector:
    series: list[VSeries]


@dataclass
class MSeries:
    labels: dict[str, str]
    ts: np.ndarray
    values: np.ndarray
    drop_name: bool = False


@dataclass
class Matrix:
    series: list[MSeries]
    ends: np.ndarray  # window end per step (after offset and @)
    range_ms: int
    selector: object = None  # the VectorSelector for absent_over_time
    modifier: str | None = None  # "anchored" | "smoothed" (Prometheus 3 extended range selectors)


@dataclass
class Scalar:
    values: np.ndarray


@dataclass
class String:
    value: str


@dataclass
class Context:
    storage: Storage
    start_ms: int
    end_ms: int
    step_ms: int
    lookback_ms: int = LOOKBACK_MS
    warnings: list[str] = field(default_factory=list)


def kind(node) -> str:
    return type(node).__name__


def unwrap(node):
    while kind(node) == "Paren":
        node = node.expr
    return node


# --------------------------------------------------------------------------- helpers
def trunc_div(a: int, b: int) -> int:
    """Go's integer division (truncates toward zero)."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def label_key(labels: dict[str, str]) -> tuple:
    return tuple(sorted((k, v) for k, v in labels.items() if v != ""))


def clean(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if v != ""}


def without_name(labels: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in labels.items() if k not in (NAME, "__type__", "__unit__")}


def format_labels(labels: dict[str, str]) -> str:
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
    return "{" + inner + "}"


def kahan_sum(values) -> float:
    s = 0.0
    c = 0.0
    for v in values:
        t = s + v
        if math.isinf(t):
            c = 0.0
        elif abs(s) >= abs(v):
            c += (s - t) + v
        else:
            c += (v - t) + s
        s = t
    return s + c


def kahan_rows(matrix: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Compensated column sums of `matrix` (rows = series) over `mask`."""
    s = np.zeros(matrix.shape[1])
    c = np.zeros(matrix.shape[1])
    with np.errstate(invalid="ignore", over="ignore"):
        for row, m in zip(matrix, mask, strict=True):
            v = np.where(m, row, 0.0)
            t = s + v
            big = np.abs(s) >= np.abs(v)
            comp = np.where(big, (s - t) + v, (v - t) + s)
            c = np.where(np.isinf(t), 0.0, c + np.where(np.isfinite(comp), comp, 0.0))
            s = t
        return s + c


def go_format_float(f: float) -> str:
    """strconv.FormatFloat(f, 'f', -1, 64)."""
    if math.isnan(f):
        return "NaN"
    if math.isinf(f):
        return "+Inf" if f > 0 else "-Inf"
    text = repr(float(f))
    if "e" in text or "E" in text:
        from decimal import Decimal

        text = format(Decimal(text), "f")
    if text.endswith(".0"):
        text = text[:-2]
    if text == "-0":
        text = "-0"
    return text


def parse_go_float(text: str) -> float:
    t = text.strip()
    low = t.lower()
    if low in ("+inf", "inf", "+infinity", "infinity"):
        return math.inf
    if low in ("-inf", "-infinity"):
        return -math.inf
    if low == "nan":
        return math.nan
    if "_" in t:
        raise ValueError(text)
    return float(t)


# --------------------------------------------------------------------------- evaluator
class Evaluator:
    def __init__(self, ctx: Context):
        self.ctx = ctx

    # -- dispatch
    def eval(self, node, times: np.ndarray):
        k = kind(node)
        method = getattr(self, "eval_" + k, None)
        if method is None:
            raise PromQLError(f"unsupported expression: {k}")
        return method(node, times)

    def eval_Paren(self, node, times):
        return self.eval(node.expr, times)

    def eval_NumberLiteral(self, node, times):
        return Scalar(np.full(len(times), float(node.value)))

    def eval_StringLiteral(self, node, times):
        return String(node.value)

    def eval_Unary(self, node, times):
        value = self.eval(node.expr, times)
        if node.op == "+":
            return value
        if isinstance(value, Scalar):
            return Scalar(-value.values)
        if isinstance(value, Vector):
            return Vector([VSeries(s.labels, -s.values, s.present, True) for s in value.series])
        raise PromQLError("unary minus needs a scalar or an instant vector")

    # -- time
    def _resolve_at(self, at) -> int | None:
        if at is None:
            return None
        if at == "start":
            return self.ctx.start_ms
        if at == "end":
            return self.ctx.end_ms
        return round(float(at) * 1000)

    def duration_ms(self, expr, constant: int | None) -> int:
        """A duration field: its constant, or its `DurationExpr` evaluated (step()/range() known here)."""
        if expr is None:
            return int(constant or 0)
        seconds = self._duration_seconds(expr)
        if math.isnan(seconds) or math.isinf(seconds):
            raise PromQLError("duration expression is not a finite number")
        return round(seconds * 1000)

    def _duration_seconds(self, e) -> float:
        op = e.op
        if op == "num":
            return float(e.value)
        if op == "dur":
            return float(e.value) / 1000
        if op == "step":
            return self.ctx.step_ms / 1000
        if op == "range":
            return (self.ctx.end_ms - self.ctx.start_ms) / 1000
        if op in ("paren", "pos"):
            return self._duration_seconds(e.lhs if e.lhs is not None else e.rhs)
        if op == "neg":
            return -self._duration_seconds(e.lhs if e.lhs is not None else e.rhs)
        a = self._duration_seconds(e.lhs)
        b = self._duration_seconds(e.rhs)
        if op == "min_of":
            return min(a, b)
        if op == "max_of":
            return max(a, b)
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            if b == 0:
                raise PromQLError("division by zero in duration expression")
            return a / b
        if op == "%":
            if b == 0:
                raise PromQLError("modulo by zero in duration expression")
            return math.fmod(a, b)
        if op == "^":
            return a**b
        raise PromQLError(f"unknown duration operator {op!r}")

    def _times(self, at, offset_ms: int, times: np.ndarray) -> np.ndarray:
        at_ms = self._resolve_at(at)
        base = np.full(len(times), at_ms, dtype=np.int64) if at_ms is not None else times
        return base - int(offset_ms or 0)

    # -- selectors
    def _matchers(self, sel) -> tuple:
        out = [(m.name, m.op, m.value) for m in sel.matchers]
        if sel.name is not None:
            out.append((NAME, "=", sel.name))
        return tuple(out)

    def eval_VectorSelector(self, node, times):
        modifier = getattr(node, "modifier", None)
        if modifier == "anchored":
            raise PromQLError("the anchored modifier is only allowed on range selectors")
        offset = self.duration_ms(getattr(node, "offset_expr", None), node.offset_ms)
        t = self._times(node.at, offset, times)
        lb = self.ctx.lookback_ms
        if modifier == "smoothed":
            return self._smoothed(node, t)
        stored = self.ctx.storage.select(self._matchers(node), int(t.min()) - lb, int(t.max()))
        out = []
        for s in stored:
            if len(s.ts) == 0:
                continue
            idx = np.searchsorted(s.ts, t, side="right") - 1
            ok = idx >= 0
            safe = np.where(ok, idx, 0)
            ok &= s.ts[safe] > t - lb
            ok &= ~s.stale[safe]
            if not ok.any():
                continue
            out.append(VSeries(dict(s.labels), np.where(ok, s.values[safe], np.nan), ok, False,
                               np.where(ok, s.ts[safe], 0)))
        return Vector(out)

    def _smoothed(self, node, t):
        """`x smoothed`: the value at t interpolated between the samples around it (within the lookback)."""
        lb = self.ctx.lookback_ms
        stored = self.ctx.storage.select(self._matchers(node), int(t.min()) - lb, int(t.max()) + lb)
        out = []
        for s in stored:
            keep = ~s.stale
            ts, vs = s.ts[keep], s.values[keep]
            vals = np.full(len(t), np.nan)
            present = np.zeros(len(t), dtype=bool)
            for i, dt in enumerate(t):
                a = np.searchsorted(ts, dt - lb, side="right")
                b = np.searchsorted(ts, dt + lb, side="right")
                wts, wvs = ts[a:b], vs[a:b]
                if len(wts) == 0:
                    continue
                j = int(np.searchsorted(wts, dt, side="left"))
                if j < len(wts) and wts[j] == dt:
                    vals[i] = wvs[j]
                elif 0 < j < len(wts):
                    vals[i] = interpolate(wts[j - 1], wvs[j - 1], wts[j], wvs[j], dt, False)
                elif j > 0:
                    vals[i] = wvs[j - 1]
                else:
                    continue
                present[i] = True
            if present.any():
                out.append(VSeries(dict(s.labels), vals, present))
        return Vector(out)

    def eval_MatrixSelector(self, node, times):
        sel = node.vector
        offset = self.duration_ms(getattr(sel, "offset_expr", None), sel.offset_ms)
        range_ms = self.duration_ms(getattr(node, "range_expr", None), node.range_ms)
        if range_ms <= 0:
            raise PromQLError("range selector must have a positive duration")
        t = self._times(sel.at, offset, times)
        modifier = getattr(sel, "modifier", None)
        lookback = self.ctx.lookback_ms if modifier else 0
        ahead = self.ctx.lookback_ms if modifier == "smoothed" else 0
        stored = self.ctx.storage.select(self._matchers(sel), int(t.min()) - range_ms - lookback,
                                         int(t.max()) + ahead)
        series = []
        for s in stored:
            keep = ~s.stale
            if not keep.any():
                continue
            series.append(MSeries(dict(s.labels), s.ts[keep], s.values[keep]))
        m = Matrix(series, t, range_ms, sel)
        m.modifier = modifier
        return m

    def eval_Subquery(self, node, times):
        step = self.duration_ms(getattr(node, "step_expr", None), node.step_ms) or DEFAULT_SUBQUERY_STEP_MS
        range_ms = self.duration_ms(getattr(node, "range_expr", None), node.range_ms)
        offset = self.duration_ms(getattr(node, "offset_expr", None), node.offset_ms)
        if step <= 0 or range_ms <= 0:
            raise PromQLError("subquery range and step must be positive")
        t = self._times(node.at, offset, times)
        lo = int(t.min()) - range_ms
        start = step * trunc_div(lo, step)
        if start <= lo:
            start += step
        end = int(t.max())
        inner_times = np.arange(start, end + 1, step, dtype=np.int64)
        if len(inner_times) == 0:
            return Matrix([], t, range_ms)
        value = self.eval(node.expr, inner_times)
        if isinstance(value, Scalar):
            value = Vector([VSeries({}, value.values, np.ones(len(inner_times), bool))])
        if not isinstance(value, Vector):
            raise PromQLError("subquery is only allowed on instant vector")
        series = [MSeries(s.labels, inner_times[s.present], s.values[s.present], s.drop_name)
                  for s in merge_series(value.series) if s.present.any()]
        return Matrix(series, t, range_ms)

    # -- aggregations
    def eval_Aggregation(self, node, times):
        from nlq.engine.promql.aggregations import aggregate

        return aggregate(self, node, times)

    # -- calls
    def eval_Call(self, node, times):
        from nlq.engine.promql.functions import call

        return call(self, node, times)

    # -- binary
    def eval_Binary(self, node, times):
        from nlq.engine.promql.binary import binary

        return binary(self, node, times)

    # -- helpers for functions
    def scalar_arg(self, node, times) -> np.ndarray:
        value = self.eval(node, times)
        if isinstance(value, Scalar):
            return value.values
        raise PromQLError("expected a scalar argument")

    def vector_arg(self, node, times) -> Vector:
        value = self.eval(node, times)
        if isinstance(value, Vector):
            return value
        if isinstance(value, Scalar):
            raise PromQLError("expected type instant vector in call, got scalar")
        raise PromQLError("expected an instant vector argument")

    def matrix_arg(self, node, times) -> Matrix:
        value = self.eval(node, times)
        if isinstance(value, Matrix):
            return value
        raise PromQLError("expected a range vector argument")


def interpolate(t1, y1, t2, y2, t, is_counter: bool) -> float:
    if is_counter and y2 < y1:
        y1 = 0.0
    return float(y1 + (y2 - y1) * (t - t1) / (t2 - t1))


def merge_series(series: list[VSeries], drop: bool = False) -> list[VSeries]:
    """Merge series that share a label set (no two may have a sample at the same step).

    With `drop`, `__name__` is first removed from series marked `drop_name`."""
    groups: dict[tuple, VSeries] = {}
    order: list[tuple] = []
    for s in series:
        labels = without_name(s.labels) if (drop and s.drop_name) else s.labels
        labels = clean(labels)
        key = label_key(labels)
        if key not in groups:
            groups[key] = VSeries(labels, s.values.copy(), s.present.copy(),
                                  s.drop_name and not drop, None if s.ts is None else s.ts.copy())
            order.append(key)
            continue
        g = groups[key]
        if (g.present & s.present).any():
            raise PromQLError("vector cannot contain metrics with the same labelset")
        g.values = np.where(s.present, s.values, g.values)
        if g.ts is not None and s.ts is not None:
            g.ts = np.where(s.present, s.ts, g.ts)
        else:
            g.ts = None
        g.present = g.present | s.present
    return [groups[k] for k in order]


# --------------------------------------------------------------------------- regexes
_GO_CLASSES = {r"\z": r"\Z"}


def go_regex(pattern: str) -> re.Pattern:
    """A Go RE2 pattern, fully anchored with `.` matching newlines, as Python's `re`."""
    text = pattern
    for go, py in _GO_CLASSES.items():
        text = text.replace(go, py)
    text = re.sub(r"\(\?P<", "(?P<", text)
    try:
        return re.compile(r"(?s:" + text + r")\Z")
    except re.error as exc:
        raise PromQLError(f"invalid regular expression {pattern!r}: {exc}") from exc


def expand_template(template: str, match: re.Match) -> str:
    """Go's regexp.Expand: $1, ${1}, $name, ${name}, $$."""
    out = []
    i = 0
    groups = match.re.groupindex
    while i < len(template):
        ch = template[i]
        if ch != "$" or i + 1 >= len(template):
            out.append(ch)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            close = template.find("}", i + 2)
            if close == -1:
                out.append(ch)
                i += 1
                continue
            name = template[i + 2:close]
            i = close + 1
        else:
            m = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            if not m:
                out.append(ch)
                i += 1
                continue
            name = m.group(0)
            i += 1 + len(name)
        if not re.fullmatch(r"[A-Za-z0-9_]+", name or "-"):
            continue
        value = None
        if name.isdigit():
            n = int(name)
            if n <= (match.re.groups or 0):
                value = match.group(n)
        elif name in groups:
            value = match.group(name)
        out.append(value or "")
    return "".join(out)


# --------------------------------------------------------------------------- dates
def date_parts(seconds: float) -> datetime | None:
    if math.isnan(seconds) or math.isinf(seconds):
        return None
    try:
        return datetime.fromtimestamp(int(seconds), tz=UTC) if seconds >= 0 else \
            datetime(1970, 1, 1, tzinfo=UTC) + __import__("datetime").timedelta(seconds=int(seconds))
    except (OverflowError, OSError, ValueError):
        return None


def days_in_month(d: datetime) -> int:
    return calendar.monthrange(d.year, d.month)[1]
