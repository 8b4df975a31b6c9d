"""A stand-in PromQL parser for the engine while `nlq.dialects.promql` is missing.

It reads queries with the `promql-parser` package (a dev dependency) and builds
nodes of the shape the engine evaluates (the same dataclasses as
`nlq.dialects.promql.ast`: the engine dispatches on class names).  `parse()`
prefers nlq's own PromQL parser whenever it exists.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nlq.errors import NlqError, QueryError


@dataclass(frozen=True)
class NumberLiteral:
    value: float


@dataclass(frozen=True)
class StringLiteral:
    value: str


@dataclass(frozen=True)
class Matcher:
    name: str
    op: str
    value: str


@dataclass(frozen=True)
class VectorSelector:
    name: str | None
    matchers: tuple = ()
    offset_ms: int = 0
    at: float | str | None = None


@dataclass(frozen=True)
class MatrixSelector:
    vector: VectorSelector
    range_ms: int


@dataclass(frozen=True)
class Subquery:
    expr: object
    range_ms: int
    step_ms: int | None = None
    offset_ms: int = 0
    at: float | str | None = None


@dataclass(frozen=True)
class Paren:
    expr: object


@dataclass(frozen=True)
class Unary:
    op: str
    expr: object


@dataclass(frozen=True)
class VectorMatching:
    on: bool
    labels: tuple = ()
    card: str = "one-to-one"
    include: tuple = ()


@dataclass(frozen=True)
class Binary:
    op: str
    lhs: object
    rhs: object
    return_bool: bool = False
    matching: VectorMatching | None = None


@dataclass(frozen=True)
class Aggregation:
    op: str
    expr: object
    param: object = None
    grouping: tuple = ()
    without: bool = False


@dataclass(frozen=True)
class Call:
    func: str
    args: tuple = ()


def _ms(delta: timedelta | None) -> int:
    if delta is None:
        return 0
    return round(delta.total_seconds() * 1000)


def _at(at) -> float | str | None:
    if at is None:
        return None
    kind = str(at.type).rsplit(".", 1)[-1].lower()
    if kind == "start":
        return "start"
    if kind == "end":
        return "end"
    return at.at.timestamp()


_MATCH_OPS = {"equal": "=", "notequal": "!=", "re": "=~", "notre": "!~"}
_CARD = {"onetoone": "one-to-one", "manytoone": "many-to-one", "onetomany": "one-to-many",
         "manytomany": "many-to-many"}


def convert(node):
    import promql_parser as pp

    if isinstance(node, pp.NumberLiteral):
        return NumberLiteral(float(node.val))
    if isinstance(node, pp.StringLiteral):
        return StringLiteral(node.val)
    if isinstance(node, pp.VectorSelector):
        matchers = []
        for m in node.matchers.matchers:
            op = _MATCH_OPS[str(m.op).rsplit(".", 1)[-1].lower()]
            if m.name == "__name__" and op == "=" and node.name == m.value:
                continue
            matchers.append(Matcher(m.name, op, m.value))
        if node.matchers.or_matchers:
            raise QueryError("`or` inside label matchers is not supported by the engine")
        return VectorSelector(node.name or None, tuple(matchers), _ms(node.offset), _at(node.at))
    if isinstance(node, pp.MatrixSelector):
        return MatrixSelector(convert(node.vector_selector), _ms(node.range))
    if isinstance(node, pp.SubqueryExpr):
        step = _ms(node.step) if node.step is not None else None
        return Subquery(convert(node.expr), _ms(node.range), step or None, _ms(node.offset), _at(node.at))
    if isinstance(node, pp.ParenExpr):
        return Paren(convert(node.expr))
    if isinstance(node, pp.UnaryExpr):
        return Unary("-", convert(node.expr))
    if isinstance(node, pp.BinaryExpr):
        op = str(node.op)
        mod = node.modifier
        matching = None
        return_bool = False
        if mod is not None:
            return_bool = bool(mod.return_bool)
            card = _CARD[str(mod.card).rsplit(".", 1)[-1].lower()]
            if mod.matching is not None or card != "one-to-one" or mod.group_labels:
                on = mod.matching is not None and str(mod.matching.type).lower().endswith("include")
                labels = tuple(mod.matching.labels) if mod.matching is not None else ()
                matching = VectorMatching(on, labels, card, tuple(mod.group_labels or ()))
            fill = getattr(mod, "fill_values", None)
            if fill is not None and (fill.lhs is not None or fill.rhs is not None):
                raise QueryError("fill modifiers are not supported by the engine")
        return Binary(op, convert(node.lhs), convert(node.rhs), return_bool, matching)
    if isinstance(node, pp.AggregateExpr):
        grouping, without = (), False
        if node.modifier is not None:
            grouping = tuple(node.modifier.labels)
            without = str(node.modifier.type).lower().endswith("without")
        param = convert(node.param) if node.param is not None else None
        return Aggregation(str(node.op), convert(node.expr), param, grouping, without)
    if isinstance(node, pp.Call):
        return Call(node.func.name, tuple(convert(a) for a in node.args))
    raise QueryError(f"unsupported expression {type(node).__name__}")


def parse(text: str):
    """The AST of `text`: nlq's PromQL parser when it exists, else promql-parser's, converted."""
    try:
        from nlq import dialects

        dialect = dialects.get("promql")
        if not callable(getattr(dialect, "parse", None)):
            dialect = None
    except (ImportError, AttributeError, NlqError):  # the dialect is still being written
        dialect = None
    if dialect is not None:
        return dialect.parse(text)
    try:
        import promql_parser
    except ImportError as exc:  # pragma: no cover
        raise QueryError("no PromQL parser available (nlq.dialects.promql is missing)") from exc
    try:
        node = promql_parser.parse(text)
    except Exception as exc:  # the Rust parser raises plain exceptions
        raise QueryError(f"parse error: {exc}", query=text) from exc
    return convert(node)
