"""Explain a Datadog log search AST (nlq.dialects.datadog_logs.ast) in one sentence.

    service:web status:error @http.status_code:[500 TO 599] -@usr.id:* timeout
    -> Logs with service web, status error, status code from 500 to 599, no @usr.id
       and the text "timeout".
"""

from __future__ import annotations

from typing import Any

from nlq.catalog import Catalog
from nlq.explain import Facts
from nlq.explain.words import LABEL_WORDS, join, label

CMP = {">": "above", ">=": "at least", "<": "below", "<=": "at most"}


def _field(f: Any) -> str:
    if f.attribute:
        return label(f.name) if f.name in LABEL_WORDS else f"@{f.name}"
    return label(f.name)


def _value(v: Any) -> str:
    kind = type(v).__name__
    if kind == "Text":
        return f'"{v.raw}"' if v.quoted else v.raw
    if kind == "Comparison":
        return f"{CMP.get(v.op, v.op)} {v.raw}"
    if kind == "Range":
        return f"from {v.low} to {v.high}"
    if kind == "ValueOr":
        return join([_value(o) for o in v.operands], "or")
    if kind == "ValueAnd":
        return join([_value(o) for o in v.operands])
    if kind == "ValueNot":
        return f"not {_value(v.operand)}"
    return kind


def _describe(node: Any) -> str:
    kind = type(node).__name__
    if kind == "Match":
        value = node.value
        if type(value).__name__ == "Text" and value.raw == "*":
            return f"any {_field(node.field)}"
        return f"{_field(node.field)} {_value(value)}"
    if kind == "Exists":
        return f"{'no' if node.missing else 'any'} {_field(node.field)}"
    if kind == "FreeText":
        return f"the text {_value(node.value)}" if type(node.value).__name__ == "Text" else _value(node.value)
    if kind == "And":
        return join([_describe(o) for o in node.operands])
    if kind == "Or":
        return "either " + join([_describe(o) for o in node.operands], "or")
    if kind == "Not":
        inner = node.operand
        if type(inner).__name__ == "Match" and type(inner.value).__name__ == "Text" and inner.value.raw == "*":
            return f"no {_field(inner.field)}"
        return f"not {_describe(inner)}"
    if kind == "Required":
        return _describe(node.operand)
    if kind == "Cidr":
        return f"{node.attribute} in {join(list(node.blocks), 'or')}"
    return kind


def describe(ast: Any, catalog: Catalog | None = None) -> tuple[str, Facts]:
    return "logs with " + _describe(ast), Facts()
