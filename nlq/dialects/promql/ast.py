"""The typed PromQL AST: frozen dataclasses, one per kind of expression.

The parser (`nlq.dialects.promql.parser`) builds these from lark's tree; the
formatter, the semantic checks and the engine (`nlq.engine.promql`, which
dispatches on class names) all read them.  Every node carries `span`, the
(start, end) character offsets in the query it came from, which is excluded
from equality so `parse(format(parse(q))) == parse(q)` holds.

Durations are integers of milliseconds; `at` is seconds since the epoch as a
float, or the strings "start"/"end" for `@ start()`/`@ end()`.

Prometheus 3 feature-flagged syntax is kept in the same nodes, with defaults
so code that ignores it still sees the plain shape:

* duration arithmetic (`foo[5m+1m]`, `offset (1h * 2)`, `[step()*3]`,
  `offset -range()`): the plain `range_ms`/`offset_ms`/`step_ms` field holds
  the value when it is a constant, and the `*_expr` field holds a
  `DurationExpr` tree whenever the text was more than one duration literal
  (constant-folded fields are 0 when the expression needs `step()`/`range()`,
  which only the engine knows).
* `anchored` / `smoothed` after a range or instant selector: the `modifier`
  field of `VectorSelector` ("anchored", "smoothed" or None).
* `limitk`/`limit_ratio` are plain `Aggregation`s with a `param`; `info()`,
  `step()`, `range()`, `start()`, `end()` in expression position are plain
  `Call`s.
* the fill modifiers (`a + fill(0) b`, `fill_left(1) fill_right(2)`):
  `Binary.fill_lhs` / `Binary.fill_rhs`; the native-histogram trim operators
  `</` and `>/` are `Binary` ops at comparison precedence.
* set operators (`and`, `or`, `unless`) always carry a `VectorMatching` with
  card "many-to-many" (`on=False, labels=()` when none was written), as
  Prometheus sets it; other operators have `matching=None` unless written.
* a sign in front of a number literal is folded into it (`-1` is
  `NumberLiteral(-1)`), as Prometheus does; NaN literals share the `math.nan`
  object so equal trees compare equal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Span = tuple[int, int] | None


def _span():
    return field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    span: Span = _span()


@dataclass(frozen=True)
class StringLiteral:
    value: str  # unescaped
    span: Span = _span()


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # "=", "!=", "=~", "!~"
    value: str  # unescaped
    span: Span = _span()


@dataclass(frozen=True)
class DurationExpr:
    """Duration arithmetic of Prometheus 3 (`5m+1m`, `step()*2`, `-range()`).

    op: "+", "-", "*", "/", "%", "^" (binary), "neg"/"pos" (unary, rhs None),
    "step"/"range" (the functions, lhs/rhs None), "num" (a plain number of
    seconds in `value`), "dur" (a duration literal, `value` in ms), "paren".
    """

    op: str
    lhs: DurationExpr | None = None
    rhs: DurationExpr | None = None
    value: float = 0.0
    span: Span = _span()


@dataclass(frozen=True)
class VectorSelector:
    name: str | None
    matchers: tuple[Matcher, ...] = ()
    offset_ms: int = 0
    at: float | str | None = None
    span: Span = _span()
    # Prometheus 3 additions
    offset_expr: DurationExpr | None = None
    modifier: str | None = None  # "anchored" | "smoothed" | None


@dataclass(frozen=True)
class MatrixSelector:
    vector: VectorSelector  # offset/@ live on the inner vector
    range_ms: int
    span: Span = _span()
    range_expr: DurationExpr | None = None


@dataclass(frozen=True)
class Subquery:
    expr: Expr
    range_ms: int
    step_ms: int | None = None
    offset_ms: int = 0
    at: float | str | None = None
    span: Span = _span()
    range_expr: DurationExpr | None = None
    step_expr: DurationExpr | None = None
    offset_expr: DurationExpr | None = None


@dataclass(frozen=True)
class Paren:
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class Unary:
    op: str  # "-" or "+"
    expr: Expr
    span: Span = _span()


@dataclass(frozen=True)
class VectorMatching:
    on: bool
    labels: tuple[str, ...] = ()
    card: str = "one-to-one"  # one-to-one | many-to-one | one-to-many | many-to-many
    include: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class Binary:
    op: str  # + - * / % ^ == != > < >= <= and or unless atan2 (and the trim ops </ >/)
    lhs: Expr
    rhs: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None
    span: Span = _span()
    # Prometheus 3.x fill modifiers: `a + fill(0) b`, `fill_left(1) fill_right(2)`
    fill_lhs: float | None = None
    fill_rhs: float | None = None


@dataclass(frozen=True)
class Aggregation:
    op: str
    expr: Expr
    param: Expr | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False
    span: Span = _span()
    #: True when `by ()`/`without ()` was written with an empty list (kept for round trips)
    has_grouping: bool = field(default=False, compare=False)


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple = ()
    span: Span = _span()


Expr = (
    NumberLiteral
    | StringLiteral
    | VectorSelector
    | MatrixSelector
    | Subquery
    | Paren
    | Unary
    | Binary
    | Aggregation
    | Call
)

__all__ = [
    "Aggregation",
    "Binary",
    "Call",
    "DurationExpr",
    "Expr",
    "Matcher",
    "MatrixSelector",
    "NumberLiteral",
    "Paren",
    "StringLiteral",
    "Subquery",
    "Unary",
    "VectorMatching",
    "VectorSelector",
]
