"""Validate and format queries in any dialect."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nlq import dialects
from nlq.catalog import Catalog
from nlq.doubts import doubts
from nlq.errors import QueryError


@dataclass
class Validation:
    query: str
    dialect: str
    valid: bool
    error: QueryError | None = None
    ast: Any = None
    #: for a valid query, why it may still answer nothing (nlq.doubts): `x / x`, a field its stream lacks
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "valid": self.valid,
            "error": None if self.error is None else self.error.render(),
            "error_detail": None if self.error is None else self.error.to_dict(),
            "warnings": self.warnings,
        }


def validate(query: str, dialect: str, catalog: Catalog | None = None) -> Validation:
    """Parse `query` and run the semantic (and, given a catalog, catalog) checks.  A valid
    query that repeats a part or sets an expression against itself is valid, with a warning.

    >>> validate("rate(up)", "promql").error.hint
    'rate() needs a range vector: did you mean rate(up[5m])?'
    >>> validate("up / up", "promql").warnings
    ['both sides of `/` are up: the result says nothing about the data']
    """
    spec = dialects.get(dialect)
    try:
        node = spec.validate(query, catalog)
    except QueryError as exc:
        exc.query = exc.query or query
        return Validation(query, dialect, False, exc)
    warnings = [finding.message for _, finding in doubts(node, query, catalog)]
    return Validation(query, dialect, True, None, node, warnings)


def format_query(query: str, dialect: str) -> str:
    """The canonical text of `query`; raises `QueryError` when it does not parse."""
    spec = dialects.get(dialect)
    return spec.format(spec.parse(query))
