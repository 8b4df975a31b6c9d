"""LogQL's typed syntax tree.

Every node is a frozen dataclass whose last field is its `span` (start, end
offsets into the query text), left out of equality so that two queries that
mean the same compare equal whatever their spacing.  Parentheses are not
nodes: the formatter puts back the ones precedence needs.

Log queries (`LogQuery`) select lines; metric queries (everything in
`MetricExpr`) compute numbers.  A `LogRange` is the `{...} | ... [5m]` inside
a range aggregation: it is neither on its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

Span = tuple[int, int] | None


def _span() -> Span:
    return field(default=None, compare=False, repr=False)


# ---------------------------------------------------------------- selectors
@dataclass(frozen=True)
class Matcher:
    name: str
    op: str  # = != =~ !~
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class Selector:
    matchers: tuple[Matcher, ...]
    span: Span = _span()


# ------------------------------------------------------------ pipeline stages
@dataclass(frozen=True)
class LineFilterValue:
    value: str
    ip: bool = False  # ip("...") instead of a plain string
    span: Span = _span()


@dataclass(frozen=True)
class LineFilter:
    op: str  # |= != |~ !~ |> !>
    values: tuple[LineFilterValue, ...]  # more than one: joined by `or`
    span: Span = _span()


@dataclass(frozen=True)
class Extraction:
    """`| json name` (path None: the field of that name) or `| json name="a.b[0]"`."""

    name: str
    path: str | None = None
    span: Span = _span()


@dataclass(frozen=True)
class JsonParser:
    extractions: tuple[Extraction, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class LogfmtParser:
    flags: tuple[str, ...] = ()  # --strict, --keep-empty
    extractions: tuple[Extraction, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class RegexpParser:
    regex: str
    span: Span = _span()


@dataclass(frozen=True)
class PatternParser:
    pattern: str
    span: Span = _span()


@dataclass(frozen=True)
class UnpackParser:
    span: Span = _span()


@dataclass(frozen=True)
class StringFilter:
    name: str
    op: str  # = != =~ !~
    value: str
    span: Span = _span()


@dataclass(frozen=True)
class IpFilter:
    name: str
    op: str  # = !=
    pattern: str
    span: Span = _span()


@dataclass(frozen=True)
class NumberFilter:
    name: str
    op: str  # == = != > >= < <=
    value: float
    span: Span = _span()


@dataclass(frozen=True)
class DurationFilter:
    name: str
    op: str
    text: str  # as written: 250ms, 1h30m, -5s
    span: Span = _span()


@dataclass(frozen=True)
class BytesFilter:
    name: str
    op: str
    text: str  # as written: 20KB, 2.5KiB
    span: Span = _span()


@dataclass(frozen=True)
class AndFilter:
    left: LabelFilter
    right: LabelFilter
    span: Span = _span()


@dataclass(frozen=True)
class OrFilter:
    left: LabelFilter
    right: LabelFilter
    span: Span = _span()


LabelFilter = (
    StringFilter | IpFilter | NumberFilter | DurationFilter | BytesFilter | AndFilter | OrFilter
)


@dataclass(frozen=True)
class LabelFilterStage:
    filter: LabelFilter
    span: Span = _span()


@dataclass(frozen=True)
class LineFormat:
    template: str
    span: Span = _span()


@dataclass(frozen=True)
class LabelFormatItem:
    name: str
    value: str
    rename: bool  # True: `new=old` (copy a label); False: `new="{{template}}"`
    span: Span = _span()


@dataclass(frozen=True)
class LabelFormat:
    items: tuple[LabelFormatItem, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Decolorize:
    span: Span = _span()


@dataclass(frozen=True)
class NamedMatcher:
    """An item of `| drop` / `| keep`: a name, or a name with a matcher."""

    name: str
    op: str | None = None
    value: str | None = None
    span: Span = _span()


@dataclass(frozen=True)
class Drop:
    items: tuple[NamedMatcher, ...]
    span: Span = _span()


@dataclass(frozen=True)
class Keep:
    items: tuple[NamedMatcher, ...]
    span: Span = _span()


Stage = (
    LineFilter
    | JsonParser
    | LogfmtParser
    | RegexpParser
    | PatternParser
    | UnpackParser
    | LabelFilterStage
    | LineFormat
    | LabelFormat
    | Decolorize
    | Drop
    | Keep
)
PARSER_STAGES = (JsonParser, LogfmtParser, RegexpParser, PatternParser, UnpackParser)


# ---------------------------------------------------------------- log query
@dataclass(frozen=True)
class LogQuery:
    selector: Selector
    stages: tuple[Stage, ...] = ()
    span: Span = _span()


# ------------------------------------------------------------- metric query
@dataclass(frozen=True)
class Unwrap:
    name: str
    conversion: str | None = None  # duration, duration_seconds, bytes
    post_filters: tuple[LabelFilter, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class LogRange:
    selector: Selector
    stages: tuple[Stage, ...]
    unwrap: Unwrap | None
    range: str  # as written inside the brackets: 5m, 1h30m
    offset: str | None = None  # as written: 5m, -1h
    span: Span = _span()


@dataclass(frozen=True)
class Grouping:
    without: bool
    labels: tuple[str, ...]
    span: Span = _span()


@dataclass(frozen=True)
class RangeAggregation:
    op: str
    range: LogRange
    param: float | None = None
    grouping: Grouping | None = None
    span: Span = _span()


@dataclass(frozen=True)
class VectorAggregation:
    op: str
    expr: Expr
    param: float | None = None
    grouping: Grouping | None = None
    span: Span = _span()


@dataclass(frozen=True)
class VectorMatching:
    on: bool  # True: on(...); False: ignoring(...)
    labels: tuple[str, ...]
    card: str = "one-to-one"  # one-to-one, group_left, group_right
    include: tuple[str, ...] = ()
    span: Span = _span()


@dataclass(frozen=True)
class BinaryOp:
    op: str
    left: Expr
    right: Expr
    return_bool: bool = False
    matching: VectorMatching | None = None
    span: Span = _span()


@dataclass(frozen=True)
class NumberLiteral:
    value: float
    span: Span = _span()


@dataclass(frozen=True)
class LabelReplace:
    expr: Expr
    dst: str
    replacement: str
    src: str
    regex: str
    span: Span = _span()


@dataclass(frozen=True)
class VectorExpr:
    value: float
    span: Span = _span()


MetricExpr = (
    RangeAggregation | VectorAggregation | BinaryOp | NumberLiteral | LabelReplace | VectorExpr
)
Expr = LogQuery | MetricExpr

# Operator precedence for the binary operators, loosest first.
PRECEDENCE = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    ">": 3,
    ">=": 3,
    "<": 3,
    "<=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "^": 6,
}
SET_OPS = ("and", "or", "unless")
COMPARISON_OPS = ("==", "!=", ">", ">=", "<", "<=")
