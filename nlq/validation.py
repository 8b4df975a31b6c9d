"""Validate and format queries in any dialect."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nlq import dialects
from nlq.catalog import Catalog
from nlq.errors import QueryError


@dataclass
class Validation:
    query: str
    dialect: str
    valid: bool
    error: QueryError | None = None
    ast: Any = None

    def to_dict(self) -> dict:
        return {
            "query": self.query,
            "valid": self.valid,
            "error": None if self.error is None else self.error.render(),
            "error_detail": None if self.error is None else self.error.to_dict(),
        }


def validate(query: str, dialect: str, catalog: Catalog | None = None) -> Validation:
    """Parse `query` and run the semantic (and, given a catalog, catalog) checks.

    >>> validate("rate(up)", "promql").error.hint
    'rate() needs a range vector: did you mean rate(up[5m])?'
    """
    spec = dialects.get(dialect)
    try:
        node = spec.validate(query, catalog)
    except QueryError as exc:
        exc.query = exc.query or query
        return Validation(query, dialect, False, exc)
    return Validation(query, dialect, True, None, node)


def format_query(query: str, dialect: str) -> str:
    """The canonical text of `query`; raises `QueryError` when it does not parse."""
    spec = dialects.get(dialect)
    return spec.format(spec.parse(query))
