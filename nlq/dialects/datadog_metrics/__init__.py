"""Datadog metric queries, formulas and monitor queries: grammar, AST, formatter and checks."""

from __future__ import annotations

from nlq.catalog import Catalog
from nlq.dialects.base import Dialect
from nlq.dialects.datadog_metrics import ast
from nlq.dialects.datadog_metrics.checks import check
from nlq.dialects.datadog_metrics.formatter import format_expr
from nlq.dialects.datadog_metrics.parser import GRAMMAR_FILE, parse
from nlq.errors import QueryError


class DatadogMetrics(Dialect):
    name = "datadog-metrics"
    title = "Datadog metrics"
    grammar_file = GRAMMAR_FILE
    example = "avg:system.cpu.user{env:prod,!host:web-1} by {host}.rollup(avg, 60)"

    def parse(self, text: str):
        return parse(text)

    def format(self, node) -> str:
        return format_expr(node)

    def check(self, node, text: str, catalog: Catalog | None = None) -> list[QueryError]:
        return check(node, text, catalog)


DIALECT = DatadogMetrics()

__all__ = ["DIALECT", "DatadogMetrics", "ast", "check", "format_expr", "parse"]
