"""PromQL, Prometheus's query language: grammar, AST, formatter and checks."""

from __future__ import annotations

from nlq.catalog import Catalog
from nlq.dialects.base import Dialect
from nlq.dialects.promql import ast, functions
from nlq.dialects.promql.checks import check
from nlq.dialects.promql.formatter import format_expr
from nlq.dialects.promql.parser import GRAMMAR_FILE, parse
from nlq.errors import QueryError


class PromQL(Dialect):
    name = "promql"
    title = "PromQL"
    grammar_file = GRAMMAR_FILE
    example = 'sum by (service) (rate(http_requests_total{status=~"5.."}[5m]))'

    def parse(self, text: str) -> ast.Expr:
        return parse(text)

    def format(self, node: ast.Expr) -> str:
        return format_expr(node)

    def check(self, node: ast.Expr, text: str, catalog: Catalog | None = None) -> list[QueryError]:
        return check(node, text, catalog)


DIALECT = PromQL()

__all__ = ["DIALECT", "PromQL", "ast", "check", "format_expr", "functions", "parse"]
