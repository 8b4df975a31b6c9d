"""Datadog log search syntax: grammar, AST, formatter and checks."""

from __future__ import annotations

from nlq.catalog import Catalog
from nlq.dialects.base import Dialect
from nlq.dialects.datadog_logs import ast
from nlq.dialects.datadog_logs.checks import check
from nlq.dialects.datadog_logs.formatter import format_query
from nlq.dialects.datadog_logs.parser import GRAMMAR_FILE, parse
from nlq.errors import QueryError


class DatadogLogs(Dialect):
    name = "datadog-logs"
    title = "Datadog log search"
    grammar_file = GRAMMAR_FILE
    example = "service:web status:error @http.status_code:[500 TO 599] -@usr.id:*"

    def parse(self, text: str) -> ast.Query:
        return parse(text)

    def format(self, node: ast.Query) -> str:
        return format_query(node)

    def check(self, node: ast.Query, text: str, catalog: Catalog | None = None) -> list[QueryError]:
        return check(node, text, catalog)


DIALECT = DatadogLogs()

__all__ = ["DIALECT", "DatadogLogs", "ast", "check", "format_query", "parse"]
