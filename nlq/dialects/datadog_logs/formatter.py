"""Canonical text of a log search: implicit AND, ` OR `, `-` or `NOT ` as written."""

from __future__ import annotations

from nlq.dialects.datadog_logs import ast

_PRECEDENCE = {ast.Or: 1, ast.ValueOr: 1, ast.And: 2, ast.ValueAnd: 2}


def format_query(node) -> str:
    """`service:web  AND  (status:error)` -> `service:web status:error`."""
    if isinstance(node, ast.Or):
        return " OR ".join(_child(op, 1) for op in node.operands)
    if isinstance(node, ast.And):
        return " ".join(_child(op, 2) for op in node.operands)
    if isinstance(node, ast.Not):
        inner = _child(node.operand, 3)
        return f"-{inner}" if node.symbol == "-" else f"NOT {inner}"
    if isinstance(node, ast.Required):
        return "+" + _child(node.operand, 3)
    if isinstance(node, ast.FreeText):
        return format_value(node.value)
    if isinstance(node, ast.Match):
        value = node.value
        if isinstance(value, ast.ValueAnd | ast.ValueOr | ast.ValueNot):
            return f"{node.field}:({format_value(value)})"
        return f"{node.field}:{format_value(value)}"
    if isinstance(node, ast.Exists):
        return ("_missing_:" if node.missing else "_exists_:") + str(node.field)
    if isinstance(node, ast.Cidr):
        return f"CIDR(@{node.attribute}, {', '.join(node.blocks)})"
    raise TypeError(f"not a log search node: {node!r}")


def format_value(value) -> str:
    if isinstance(value, ast.Text):
        return f'"{value.raw}"' if value.quoted else value.raw
    if isinstance(value, ast.Comparison):
        return value.op + (f'"{value.raw}"' if value.quoted else value.raw)
    if isinstance(value, ast.Range):
        opening = "[" if value.low_inclusive else "{"
        closing = "]" if value.high_inclusive else "}"
        return f"{opening}{value.low} TO {value.high}{closing}"
    if isinstance(value, ast.ValueOr):
        return " OR ".join(_value_child(op, 1) for op in value.operands)
    if isinstance(value, ast.ValueAnd):
        return " ".join(_value_child(op, 2) for op in value.operands)
    if isinstance(value, ast.ValueNot):
        inner = _value_child(value.operand, 3)
        return f"-{inner}" if value.symbol == "-" else f"NOT {inner}"
    raise TypeError(f"not a log search value: {value!r}")


def _child(node, level: int) -> str:
    # Same-level lists were flattened by the parser, so a compound child needs
    # parentheses exactly when it binds no tighter than its parent (level 3:
    # under NOT, - or +).
    text = format_query(node)
    return f"({text})" if _PRECEDENCE.get(type(node), 9) <= level else text


def _value_child(node, level: int) -> str:
    text = format_value(node)
    return f"({text})" if _PRECEDENCE.get(type(node), 9) <= level else text
