"""PromQL AST -> canonical text, Prometheus style: `sum by (job) (rate(up{a="b"}[5m]))`.

The formatter prints the tree faithfully: parentheses appear where the AST has
`Paren` nodes, which the parser keeps, so `parse(format(parse(q))) == parse(q)`.
Code that builds ASTs by hand wraps operands in `Paren` where precedence needs
it (`needs_paren` tells where).
"""

from __future__ import annotations

import math
import re

from nlq.dialects.go_literals import format_number, quote
from nlq.dialects.promql import ast

_METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
_NOT_BARE = {"bool", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan"}
_UNITS = [
    ("y", 365 * 86_400_000),
    ("w", 7 * 86_400_000),
    ("d", 86_400_000),
    ("h", 3_600_000),
    ("m", 60_000),
    ("s", 1000),
    ("ms", 1),
]

#: binding strength of each kind of node; higher binds tighter
_BINARY_PREC = {
    "or": 1,
    "and": 2,
    "unless": 2,
    "==": 3,
    "!=": 3,
    ">": 3,
    "<": 3,
    ">=": 3,
    "<=": 3,
    "+": 4,
    "-": 4,
    "*": 5,
    "/": 5,
    "%": 5,
    "atan2": 5,
    "^": 7,
}
UNARY_PREC = 6
ATOM_PREC = 8


def precedence(node) -> int:
    if isinstance(node, ast.Binary):
        return _BINARY_PREC[node.op]
    if isinstance(node, ast.Unary):
        return UNARY_PREC
    if isinstance(node, ast.NumberLiteral) and (
        node.value < 0 or (math.isinf(node.value) and node.value < 0)
    ):
        return UNARY_PREC
    return ATOM_PREC


def needs_paren(parent_op: str, child, side: str) -> bool:
    """Whether `child` must be wrapped in `Paren` as the `side` ("lhs"/"rhs") operand of `parent_op`."""
    p = _BINARY_PREC[parent_op]
    c = precedence(child)
    if parent_op == "^":
        return c <= p if side == "lhs" else c < UNARY_PREC
    return c < p if side == "lhs" else c <= p


def format_duration(ms: int) -> str:
    """5400000 -> '1h30m'; 0 -> '0s'; negative durations get a leading '-'."""
    if ms == 0:
        return "0s"
    sign = "-" if ms < 0 else ""
    ms = abs(ms)
    parts = []
    for unit, size in _UNITS:
        if ms >= size:
            parts.append(f"{ms // size}{unit}")
            ms %= size
    return sign + "".join(parts)


def format_label(name: str) -> str:
    return name if _LABEL_RE.fullmatch(name) else quote(name)


def _labels(labels) -> str:
    return "(" + ", ".join(format_label(label) for label in labels) + ")"


def format_duration_expr(node: ast.DurationExpr) -> str:
    op = node.op
    if op == "dur":
        return format_duration(int(node.value))
    if op == "num":
        return format_number(node.value)
    if op in ("step", "range"):
        return f"{op}()"
    if op in ("max_of", "min_of"):
        return f"{op}({format_duration_expr(node.lhs)}, {format_duration_expr(node.rhs)})"
    if op == "paren":
        return f"({format_duration_expr(node.lhs)})"
    if op in ("neg", "pos"):
        return ("-" if op == "neg" else "+") + format_duration_expr(node.rhs)
    return f"{format_duration_expr(node.lhs)} {op} {format_duration_expr(node.rhs)}"


def _selector(vs: ast.VectorSelector) -> str:
    matchers = [f"{format_label(m.name)}{m.op}{quote(m.value)}" for m in vs.matchers]
    name = vs.name
    quoted = any(m.name == "__name__" for m in vs.matchers)  # `{"a", __name__="b"}` keeps its form
    if name is not None and (quoted or not _METRIC_RE.fullmatch(name) or name.lower() in _NOT_BARE):
        matchers.insert(0, quote(name))
        name = None
    text = name or ""
    if matchers or not text:
        text += "{" + ", ".join(matchers) + "}"
    return text


def _modifiers(offset_ms: int, offset_expr, at, modifier=None) -> str:
    out = ""
    if offset_expr is not None:
        out += " offset " + format_duration_expr(offset_expr)
    elif offset_ms:
        out += " offset " + format_duration(offset_ms)
    if at is not None:
        out += " @ " + (f"{at}()" if isinstance(at, str) else format_number(at))
    if modifier:
        out += " " + modifier
    return out


def _range(ms: int, expr) -> str:
    return format_duration_expr(expr) if expr is not None else format_duration(ms)


def format_expr(node) -> str:
    """The canonical text of a PromQL AST.

    >>> from nlq.dialects.promql.parser import parse
    >>> format_expr(parse('SUM(rate(x{a="b"}[5m])) BY (service)'))
    'sum by (service) (rate(x{a="b"}[5m]))'
    """
    if isinstance(node, ast.NumberLiteral):
        return format_number(node.value)
    if isinstance(node, ast.StringLiteral):
        return quote(node.value)
    if isinstance(node, ast.VectorSelector):
        return _selector(node) + _modifiers(
            node.offset_ms, node.offset_expr, node.at, node.modifier
        )
    if isinstance(node, ast.MatrixSelector):
        vs = node.vector
        return (
            _selector(vs)
            + "["
            + _range(node.range_ms, node.range_expr)
            + "]"
            + _modifiers(vs.offset_ms, vs.offset_expr, vs.at, vs.modifier)
        )
    if isinstance(node, ast.Subquery):
        step = ""
        if node.step_expr is not None or node.step_ms:
            step = _range(node.step_ms or 0, node.step_expr)
        return (
            format_expr(node.expr)
            + "["
            + _range(node.range_ms, node.range_expr)
            + ":"
            + step
            + "]"
            + _modifiers(node.offset_ms, node.offset_expr, node.at)
        )
    if isinstance(node, ast.Paren):
        return "(" + format_expr(node.expr) + ")"
    if isinstance(node, ast.Unary):
        return node.op + format_expr(node.expr)
    if isinstance(node, ast.Binary):
        return f"{format_expr(node.lhs)} {node.op}{_bin_mod(node)} {format_expr(node.rhs)}"
    if isinstance(node, ast.Aggregation):
        grouping = ""
        if node.grouping or node.without or node.has_grouping:
            grouping = (" without " if node.without else " by ") + _labels(node.grouping)
        args = format_expr(node.expr)
        if node.param is not None:
            args = format_expr(node.param) + ", " + args
        return f"{node.op}{grouping} ({args})" if grouping else f"{node.op}({args})"
    if isinstance(node, ast.Call):
        return node.func + "(" + ", ".join(format_expr(a) for a in node.args) + ")"
    raise TypeError(f"not a PromQL AST node: {node!r}")


def _bin_mod(node: ast.Binary) -> str:
    out = " bool" if node.return_bool else ""
    m = node.matching
    if m is not None:
        if m.card == "many-to-many":
            if m.on:
                out += " on " + _labels(m.labels)
            elif m.labels:
                out += " ignoring " + _labels(m.labels)
        else:
            out += (" on " if m.on else " ignoring ") + _labels(m.labels)
            if m.card == "many-to-one":
                out += " group_left " + _labels(m.include)
            elif m.card == "one-to-many":
                out += " group_right " + _labels(m.include)
    if (
        node.fill_lhs is not None
        and node.fill_lhs is node.fill_rhs
        or (
            node.fill_lhs is not None
            and node.fill_rhs is not None
            and node.fill_lhs == node.fill_rhs
        )
    ):
        out += f" fill({format_number(node.fill_lhs)})"
    else:
        if node.fill_lhs is not None:
            out += f" fill_left({format_number(node.fill_lhs)})"
        if node.fill_rhs is not None:
            out += f" fill_right({format_number(node.fill_rhs)})"
    return out


__all__ = ["format_duration", "format_expr", "format_number", "needs_paren", "precedence", "quote"]
