"""Canonical text of a metric query: `agg:metric{a:b,c:d} by {x}.rollup(avg, 60)`."""

from __future__ import annotations

from nlq.dialects.datadog_common import format_number
from nlq.dialects.datadog_metrics import ast

_BINARY_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2}


def format_expr(node) -> str:
    """The canonical text of any metric AST node.

    >>> format_expr(parse("avg:m{ a:b , c:d }by{x}.rollup( avg,60 )"))
    'avg:m{a:b,c:d} by {x}.rollup(avg, 60)'
    """
    if isinstance(node, ast.QueryList):
        return ", ".join(format_expr(q) for q in node.queries)
    if isinstance(node, ast.MetricMonitor):
        return (
            f"{_time_aggregation(node.time_aggregation)}:{format_expr(node.query)} "
            f"{node.comparator} {format_number(node.threshold)}"
        )
    if isinstance(node, ast.SourceMonitor):
        calls = "".join(
            f".{c.name}({', '.join(_dquote(a.value) for a in c.args)})" for c in node.calls
        )
        return f"{node.source}({_dquote(node.query)}){calls} {node.comparator} {format_number(node.threshold)}"
    if isinstance(node, ast.MetricQuery):
        text = f"{node.aggregator}:" if node.aggregator else ""
        text += f"{node.metric}{{{format_filter(node.scope)}}}"
        if node.group_by:
            text += " by {" + ",".join(node.group_by) + "}"
        return text + "".join(format_modifier(m) for m in node.modifiers)
    if isinstance(node, ast.Binary):
        level = _BINARY_PRECEDENCE[node.op]
        left = _operand(node.left, level, right_side=False)
        right = _operand(node.right, level, right_side=True)
        return f"{left} {node.op} {right}"
    if isinstance(node, ast.Negate):
        inner = format_expr(node.operand)
        if isinstance(node.operand, ast.Binary | ast.Negate):
            inner = f"({inner})"
        return "-" + inner
    if isinstance(node, ast.Function):
        return f"{node.name}({', '.join(_argument(a) for a in node.args)})"
    if isinstance(node, ast.Number):
        return format_number(node.value)
    if isinstance(node, ast.QueryRef):
        return node.name
    raise TypeError(f"not a metric query node: {node!r}")


def format_filter(node) -> str:
    if isinstance(node, ast.AllScope):
        return "*"
    if isinstance(node, ast.TagFilter):
        return node.key if node.value is None else f"{node.key}:{node.value}"
    if isinstance(node, ast.TagIn):
        op = "NOT IN" if node.negated else "IN"
        return f"{node.key} {op} ({', '.join(node.values)})"
    if isinstance(node, ast.TemplateVar):
        return node.name
    if isinstance(node, ast.FilterNot):
        inner = format_filter(node.operand)
        if isinstance(node.operand, ast.FilterAnd | ast.FilterOr | ast.FilterNot):
            inner = f"({inner})"
        return f"!{inner}" if node.symbol == "!" else f"NOT {inner}"
    if isinstance(node, ast.FilterAnd):
        parts = [_filter_operand(op, ast.FilterAnd) for op in node.operands]
        text = parts[0]
        for symbol, part in zip(node.symbols, parts[1:], strict=True):
            text += ("," if symbol == "," else " AND ") + part
        return text
    if isinstance(node, ast.FilterOr):
        return " OR ".join(_filter_operand(op, ast.FilterOr) for op in node.operands)
    raise TypeError(f"not a scope filter: {node!r}")


def format_modifier(node) -> str:
    if isinstance(node, ast.Rollup):
        args = [a for a in (node.method, node.interval) if a is not None]
        return f".rollup({', '.join(_plain(a) for a in args)})"
    if isinstance(node, ast.Fill):
        args = [a for a in (node.mode, node.limit) if a is not None]
        return f".fill({', '.join(_plain(a) for a in args)})"
    return f".{node.name}({', '.join(_method_argument(a) for a in node.args)})"


def _filter_operand(node, parent: type) -> str:
    text = format_filter(node)
    # AND/`,` bind tighter than OR: an OR under an AND, or any nested list of
    # the same kind (kept as written), needs its parentheses back.
    if isinstance(node, ast.FilterOr | ast.FilterAnd) and not (
        parent is ast.FilterOr and isinstance(node, ast.FilterAnd)
    ):
        return f"({text})"
    return text


def _operand(node, level: int, right_side: bool) -> str:
    text = format_expr(node)
    if isinstance(node, ast.Binary):
        inner = _BINARY_PRECEDENCE[node.op]
        if inner < level or (right_side and inner == level):
            return f"({text})"
    if isinstance(node, ast.Negate) and right_side:
        return f"({text})"
    return text


def _plain(value) -> str:
    return format_number(value) if isinstance(value, float) else str(value)


def _squote(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _dquote(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _argument(node) -> str:
    if isinstance(node, ast.String):
        return _squote(node.value)
    if isinstance(node, ast.Keyword):
        return f"{node.name}={_argument(node.value)}"
    if isinstance(node, ast.Word):
        return node.name
    return format_expr(node)


def _method_argument(node) -> str:
    if isinstance(node, ast.String):
        return _dquote(node.value)
    if isinstance(node, ast.Word):
        return node.name
    return format_expr(node)


def _time_aggregation(node: ast.TimeAggregation) -> str:
    args = [a if isinstance(a, str) else _time_aggregation(a) for a in node.args]
    return f"{node.name}({','.join(args)})"
