"""What every engine returns: one result shape, one JSON form, one comparison.

Every engine (PromQL, LogQL, Datadog metrics and logs) and every reference
(the real Prometheus, Loki) answers with a `Result`, so two answers can be
compared directly with `compare(a, b)` or as normalised JSON (`Result.to_json`).

Shapes
------
* `TimeRange(start_ms, end_ms, step_ms)`: what a query is evaluated over, in
  milliseconds since the epoch.  An instant query is `TimeRange.instant(t_ms)`
  (start == end, step 0).
* `Series(labels, samples, lines)`: one label set (the metric name, when there
  is one, is the `__name__` label) with either float `samples`
  `[(ts_ms, value), ...]` in time order, or log `lines` `[(ts_ns, line), ...]`.
  Log line timestamps are nanoseconds (Loki's precision); sample timestamps are
  always milliseconds, whatever the engine.
* `Result(type, series, ordered, warnings)`: `type` is one of
  `vector` (instant query: one sample per series, at the evaluation time),
  `matrix` (range query, or a range-vector expression at an instant),
  `scalar` (one series without labels; one sample per step),
  `string` (one series without labels whose `value` is `Result.string`),
  `streams` (log lines).  `ordered` is True when the query itself orders its
  output (`sort`, `sort_desc`, top-level `topk`/`bottomk`, Datadog `top()`...):
  only then does `compare` look at the order of the series.

Normalised JSON (`Result.to_json()`, `Result.from_json()`)::

    {"type": "vector", "ordered": false,
     "series": [{"labels": {"__name__": "up", "job": "api"}, "samples": [[1700000000000, 1.0]]}],
     "warnings": []}

Labels are sorted by name; series are sorted by label set unless `ordered`;
values are JSON numbers, except NaN, +Inf and -Inf, which are the strings
"NaN", "+Inf", "-Inf" (as Prometheus writes them).  Log series carry
`"lines": [[ts_ns, "text"], ...]` instead of `"samples"`; a string result
carries `"string": "text"` and one sample-less series.

Comparison (`compare(a, b) -> (equal, reason)`)
------------------------------------------------
* the types must match;
* series are matched by label set whatever their order (order matters only when
  either side is `ordered`);
* sample timestamps must match exactly, values within a relative tolerance of
  1e-6 (Prometheus's test harness rule: values near zero compare absolutely),
  NaN equals NaN, infinities equal only themselves;
* log lines are compared as bags (a multiset of `(ts_ns, line)` per stream).
"""

from __future__ import annotations

import json
import math
import sys
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from nlq.errors import UsageError

RESULT_TYPES = ("vector", "matrix", "scalar", "string", "streams")
REL_TOL = 1e-6
_MIN_NORMAL = sys.float_info.min  # smallest positive normal float64, as Prometheus's harness uses


# --------------------------------------------------------------------------- time
@dataclass(frozen=True)
class TimeRange:
    """Evaluation times in milliseconds: start, end (inclusive) and step (0 = instant)."""

    start_ms: int
    end_ms: int
    step_ms: int = 0

    def __post_init__(self) -> None:
        if self.end_ms < self.start_ms:
            raise UsageError("the end of a time range lies before its start")
        if self.step_ms < 0:
            raise UsageError("a time range's step must be positive")
        if self.step_ms == 0 and self.end_ms != self.start_ms:
            raise UsageError("a range query needs a step greater than zero")

    @classmethod
    def instant(cls, t_ms: int) -> TimeRange:
        return cls(int(t_ms), int(t_ms), 0)

    @classmethod
    def range(cls, start_ms: int, end_ms: int, step_ms: int) -> TimeRange:
        if step_ms <= 0:
            raise UsageError("a range query needs a step greater than zero")
        return cls(int(start_ms), int(end_ms), int(step_ms))

    @classmethod
    def from_seconds(cls, start: float, end: float | None = None, step: float | None = None) -> TimeRange:
        if end is None:
            return cls.instant(round(start * 1000))
        return cls.range(round(start * 1000), round(end * 1000), round((step or 0) * 1000))

    @property
    def is_instant(self) -> bool:
        return self.step_ms == 0

    def steps(self) -> list[int]:
        """Every evaluation time, start first."""
        if self.step_ms == 0:
            return [self.start_ms]
        return list(range(self.start_ms, self.end_ms + 1, self.step_ms))

    def to_json(self) -> dict:
        return {"start_ms": self.start_ms, "end_ms": self.end_ms, "step_ms": self.step_ms}


# --------------------------------------------------------------------------- series
def _label_key(labels: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted(labels.items()))


def format_labels(labels: Mapping[str, str]) -> str:
    """`name{a="x", b="y"}` (PromQL's way of writing a label set)."""
    name = labels.get("__name__", "")
    rest = ", ".join(f'{k}="{_escape(v)}"' for k, v in sorted(labels.items()) if k != "__name__")
    if not rest and name:
        return name
    return f"{name}{{{rest}}}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


@dataclass
class Series:
    labels: dict[str, str]
    samples: list[tuple[int, float]] = field(default_factory=list)
    lines: list[tuple[int, str]] | None = None  # log streams only

    @property
    def key(self) -> tuple[tuple[str, str], ...]:
        return _label_key(self.labels)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"labels": dict(sorted(self.labels.items()))}
        if self.lines is not None:
            out["lines"] = [[int(t), str(line)] for t, line in self.lines]
        else:
            out["samples"] = [[int(t), json_value(v)] for t, v in self.samples]
        return out

    @classmethod
    def from_json(cls, data: Mapping) -> Series:
        labels = {str(k): str(v) for k, v in dict(data.get("labels") or {}).items()}
        if "lines" in data:
            return cls(labels, [], [(int(t), str(s)) for t, s in data["lines"]])
        return cls(labels, [(int(t), parse_value(v)) for t, v in data.get("samples", [])])


def json_value(value: float) -> float | str:
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value


def parse_value(value: Any) -> float:
    if isinstance(value, str):
        text = value.strip()
        lowered = text.lower()
        if lowered in ("nan",):
            return math.nan
        if lowered in ("+inf", "inf"):
            return math.inf
        if lowered == "-inf":
            return -math.inf
        return float(text)
    return float(value)


def format_value(value: float) -> str:
    """A float as Prometheus prints it (`1`, `0.5`, `NaN`, `+Inf`, `1e+21`)."""
    value = float(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e21:
        return str(int(value))
    return repr(value)


# --------------------------------------------------------------------------- result
@dataclass
class Result:
    type: str
    series: list[Series] = field(default_factory=list)
    ordered: bool = False
    warnings: list[str] = field(default_factory=list)
    string: str | None = None  # the value of a `string` result

    def __post_init__(self) -> None:
        if self.type not in RESULT_TYPES:
            raise ValueError(f"unknown result type {self.type!r}")

    # -- construction helpers
    @classmethod
    def scalar(cls, samples: Iterable[tuple[int, float]]) -> Result:
        return cls("scalar", [Series({}, list(samples))])

    @classmethod
    def of_string(cls, value: str, t_ms: int) -> Result:
        return cls("string", [Series({}, [(t_ms, math.nan)])], string=value)

    # -- JSON
    def to_json(self) -> dict:
        series = [s.to_json() for s in self.series]
        if not self.ordered:
            series.sort(key=lambda s: _label_key(s["labels"]))
        out: dict[str, Any] = {"type": self.type, "ordered": self.ordered, "series": series,
                               "warnings": list(self.warnings)}
        if self.type == "string":
            out["string"] = self.string
            out["series"] = [{"labels": {}, "samples": [[s.samples[0][0], 0]]} for s in self.series[:1]]
        return out

    def dumps(self, **kwargs) -> str:
        return json.dumps(self.to_json(), **kwargs)

    @classmethod
    def from_json(cls, data: Mapping) -> Result:
        kind = data["type"]
        if kind == "string":
            series = data.get("series") or []
            t = int(series[0]["samples"][0][0]) if series and series[0].get("samples") else 0
            return cls.of_string(str(data.get("string", "")), t)
        return cls(kind, [Series.from_json(s) for s in data.get("series", [])],
                   bool(data.get("ordered", False)), list(data.get("warnings", [])))

    # -- views
    def sample_count(self) -> int:
        return sum(len(s.samples) if s.lines is None else len(s.lines) for s in self.series)

    def __str__(self) -> str:
        return render_text(self)


def as_result(value: Result | Mapping) -> Result:
    """A `Result`, from a `Result`, its JSON form, or the dict `nlq.reference` adapters return
    (`{"type", "series": [{"labels", "samples": [(ts_ms, value)]}]}`, string results with the
    string as the sample value)."""
    if isinstance(value, Result):
        return value
    kind = value["type"]
    if kind == "string" and "string" not in value:
        series = value.get("series") or []
        t, text = series[0]["samples"][0] if series else (0, "")
        return Result.of_string(str(text), int(t))
    return Result.from_json(value)


def render_text(result: Result, limit: int | None = None) -> str:
    """A plain-text rendering: one line per sample (vector/scalar) or per series (matrix)."""
    lines: list[str] = []
    if result.type == "string":
        return json.dumps(result.string)
    series = result.series if result.ordered else sorted(result.series, key=lambda s: s.key)
    for s in series[:limit]:
        head = format_labels(s.labels) if s.labels else ("scalar" if result.type == "scalar" else "{}")
        if s.lines is not None:
            lines.append(head)
            lines.extend(f"  {t} {line}" for t, line in s.lines)
        elif result.type in ("vector", "scalar") and len(s.samples) == 1:
            lines.append(f"{head} => {format_value(s.samples[0][1])} @{s.samples[0][0]}")
        else:
            points = " ".join(f"{format_value(v)} @{t}" for t, v in s.samples)
            lines.append(f"{head} => {points}")
    return "\n".join(lines)


# --------------------------------------------------------------------------- comparison
def almost_equal(a: float, b: float, rel_tol: float = REL_TOL) -> bool:
    """Prometheus's test harness rule: NaN == NaN, relative tolerance, absolute near zero."""
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if a == b:
        return True
    if math.isinf(a) or math.isinf(b):
        return False
    diff = abs(a - b)
    abs_sum = abs(a) + abs(b)
    if a == 0 or b == 0 or abs_sum < _MIN_NORMAL:
        return diff < rel_tol * _MIN_NORMAL
    return diff / min(abs_sum, sys.float_info.max) < rel_tol


def compare(a: Result | Mapping, b: Result | Mapping, rel_tol: float = REL_TOL) -> tuple[bool, str]:
    """(True, "") when `a` and `b` are the same answer, else (False, the first difference in words)."""
    a, b = as_result(a), as_result(b)
    if a.type != b.type:
        return False, f"result type {a.type} != {b.type}"
    if a.type == "string":
        if a.string != b.string:
            return False, f"string {a.string!r} != {b.string!r}"
        return True, ""
    if len(a.series) != len(b.series):
        return False, f"{len(a.series)} series != {len(b.series)} series" + _diff_keys(a, b)
    if a.ordered or b.ordered:
        for i, (sa, sb) in enumerate(zip(a.series, b.series, strict=True)):
            if sa.key != sb.key:
                return False, f"series {i}: {format_labels(sa.labels)} != {format_labels(sb.labels)} (ordered result)"
            ok, why = _compare_series(sa, sb, rel_tol)
            if not ok:
                return False, why
        return True, ""
    by_key: dict[tuple, list[Series]] = {}
    for s in b.series:
        by_key.setdefault(s.key, []).append(s)
    for sa in sorted(a.series, key=lambda s: s.key):
        candidates = by_key.get(sa.key)
        if not candidates:
            return False, f"series {format_labels(sa.labels)} missing from the second result" + _diff_keys(a, b)
        reasons = []
        for i, sb in enumerate(candidates):
            ok, why = _compare_series(sa, sb, rel_tol)
            if ok:
                del candidates[i]
                break
            reasons.append(why)
        else:
            return False, reasons[0]
    return True, ""


def _diff_keys(a: Result, b: Result) -> str:
    ka, kb = Counter(s.key for s in a.series), Counter(s.key for s in b.series)
    only_a, only_b = ka - kb, kb - ka
    parts = []
    if only_a:
        parts.append("only in the first: " + ", ".join(format_labels(dict(k)) for k in list(only_a)[:5]))
    if only_b:
        parts.append("only in the second: " + ", ".join(format_labels(dict(k)) for k in list(only_b)[:5]))
    return (" (" + "; ".join(parts) + ")") if parts else ""


def _compare_series(sa: Series, sb: Series, rel_tol: float) -> tuple[bool, str]:
    name = format_labels(sa.labels) or "{}"
    if (sa.lines is None) != (sb.lines is None):
        return False, f"{name}: log lines compared with samples"
    if sa.lines is not None:
        ca, cb = Counter(sa.lines), Counter(sb.lines or [])
        if ca != cb:
            extra, missing = ca - cb, cb - ca
            first = next(iter(extra or missing))
            side = "only in the first" if extra else "only in the second"
            return False, f"{name}: {len(sa.lines)} lines vs {len(sb.lines or [])}; {side}: {first!r}"
        return True, ""
    if len(sa.samples) != len(sb.samples):
        return False, f"{name}: {len(sa.samples)} samples != {len(sb.samples)} samples"
    for (ta, va), (tb, vb) in zip(sa.samples, sb.samples, strict=True):
        if ta != tb:
            return False, f"{name}: sample at {ta} != sample at {tb}"
        if not almost_equal(float(va), float(vb), rel_tol):
            return False, f"{name} @{ta}: {format_value(va)} != {format_value(vb)}"
    return True, ""


__all__ = [
    "REL_TOL",
    "RESULT_TYPES",
    "Result",
    "Series",
    "TimeRange",
    "almost_equal",
    "as_result",
    "compare",
    "format_labels",
    "format_value",
    "render_text",
]
