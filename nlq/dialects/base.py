"""What every dialect provides.

A dialect is one grammar file in `grammars/` plus one small package here that
turns lark's parse tree into a typed AST, formats it canonically and runs the
semantic checks a grammar cannot express.  `nlq.dialects.get(name)` returns it.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

from nlq.catalog import Catalog
from nlq.errors import QueryError


class Dialect(ABC):
    #: the name used on the command line: promql, logql, datadog-metrics, datadog-logs
    name: str
    #: a human title: "PromQL"
    title: str
    #: file name inside grammars/
    grammar_file: str
    #: an example query for --help and the README
    example: str

    @abstractmethod
    def parse(self, text: str) -> Any:
        """Parse `text` into this dialect's AST; raise `QueryError` on bad syntax."""

    @abstractmethod
    def format(self, node: Any) -> str:
        """The canonical text of an AST: `parse(format(parse(q))) == parse(q)`."""

    @abstractmethod
    def check(self, node: Any, text: str, catalog: Catalog | None = None) -> list[QueryError]:
        """Semantic problems a parser alone cannot see (types, catalog rules)."""

    def validate(self, text: str, catalog: Catalog | None = None) -> Any:
        """Parse and check; raise the first problem as a `QueryError`, else return the AST."""
        node = self.parse(text)
        problems = self.check(node, text, catalog)
        if problems:
            raise problems[0]
        return node
