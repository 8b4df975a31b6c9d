"""Checks a grammar cannot make: malformed ranges, unknown facets and tags."""

from __future__ import annotations

from nlq.catalog import Catalog
from nlq.dialects.datadog_common import did_you_mean, semantic_error
from nlq.dialects.datadog_logs import ast
from nlq.errors import QueryError

#: searched without `@` (https://docs.datadoghq.com/logs/log_configuration/attributes_naming_convention/#reserved-attributes)
RESERVED_ATTRIBUTES = (
    "host",
    "source",
    "status",
    "service",
    "trace_id",
    "message",
    "env",
    "version",
    "tags",
)


def check(node, text: str, catalog: Catalog | None = None) -> list[QueryError]:
    problems: list[QueryError] = []
    _walk(node, text, catalog, problems)
    return problems


def _walk(node, text, catalog, problems) -> None:
    if isinstance(node, ast.And | ast.Or | ast.ValueAnd | ast.ValueOr):
        for op in node.operands:
            _walk(op, text, catalog, problems)
    elif isinstance(node, ast.Not | ast.Required | ast.ValueNot):
        _walk(node.operand, text, catalog, problems)
    elif isinstance(node, ast.FreeText):
        _walk(node.value, text, catalog, problems)
    elif isinstance(node, ast.Match):
        _check_field(node.field, node, text, catalog, problems)
        _walk(node.value, text, catalog, problems)
    elif isinstance(node, ast.Exists):
        _check_field(node.field, node, text, catalog, problems)
    elif isinstance(node, ast.Cidr):
        _check_field(ast.Field(node.attribute, True), node, text, catalog, problems)
        for block in node.blocks:
            _check_cidr(block, node, text, problems)
    elif isinstance(node, ast.Range):
        _check_range(node, text, problems)


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _check_range(node: ast.Range, text: str, problems: list[QueryError]) -> None:
    low, high = node.low.strip('"'), node.high.strip('"')
    if "*" in (low, high):
        return
    low_n, high_n = _number(low), _number(high)
    if (low_n is None) != (high_n is None):
        problems.append(
            semantic_error(
                f"range [{node.low} TO {node.high}] mixes a number and a word",
                text,
                node,
                hint="both bounds must be numbers (or both words); use * for an open end",
            )
        )
        return
    empty = (low_n > high_n) if low_n is not None else (low > high)
    if empty:
        problems.append(
            semantic_error(
                f"range [{node.low} TO {node.high}] is empty: its low bound is above its high bound",
                text,
                node,
                hint=f"did you mean [{node.high} TO {node.low}]?",
            )
        )


def _check_cidr(block: str, node, text: str, problems: list[QueryError]) -> None:
    import ipaddress

    try:
        ipaddress.ip_network(block, strict=False)
    except ValueError:
        problems.append(
            semantic_error(f"{block!r} is not a CIDR block", text, node, hint="e.g. 10.0.0.0/8")
        )


def _check_field(field: ast.Field, node, text, catalog: Catalog | None, problems) -> None:
    if catalog is None or field.full_text:
        return
    if field.attribute:
        known = set(catalog.log_fields)
        if not known or field.path in known or "*" in field.path:
            return
        problems.append(
            semantic_error(
                f"unknown attribute @{field.path}",
                text,
                node,
                hint=did_you_mean(field.path, known) or "the catalog knows no such facet",
                kind="catalog",
            )
        )
        return
    known = set(catalog.log_labels) | set(RESERVED_ATTRIBUTES)
    if not catalog.log_labels or field.path in known:
        return
    hint = did_you_mean(field.path, known)
    if field.path in catalog.log_fields:
        hint = f"{field.path!r} is an attribute: search it as @{field.path}"
    problems.append(
        semantic_error(
            f"unknown tag {field.path!r}",
            text,
            node,
            hint=hint or "the catalog knows no such tag",
            kind="catalog",
        )
    )
