"""LogQL, Grafana Loki's query language: grammar, AST, formatter and checks."""

from __future__ import annotations

from nlq.catalog import Catalog
from nlq.dialects.base import Dialect
from nlq.dialects.logql import ast
from nlq.dialects.logql.checks import check
from nlq.dialects.logql.formatter import format_expr
from nlq.dialects.logql.parser import GRAMMAR_FILE, parse
from nlq.errors import QueryError


class LogQL(Dialect):
    name = "logql"
    title = "LogQL"
    grammar_file = GRAMMAR_FILE
    example = 'sum by (level) (count_over_time({service="cart"} |= "timeout" | logfmt [5m]))'

    def parse(self, text: str) -> ast.Expr:
        return parse(text)

    def format(self, node: ast.Expr) -> str:
        return format_expr(node)

    def check(self, node: ast.Expr, text: str, catalog: Catalog | None = None) -> list[QueryError]:
        return check(node, text, catalog)


DIALECT = LogQL()

__all__ = ["DIALECT", "LogQL", "ast", "check", "format_expr", "parse"]
