"""Valid queries that probably answer nothing, and why: one list for every caller.

A query can parse and pass the catalog check and still be no answer:
it repeats itself (nlq.degenerate), parses a stream with a parser that fails on
its lines, or filters on a field its stream never carries (nlq.log_formats), names
no metric, takes the rate of a gauge or groups by a label its series never carry
(nlq.metric_use).
translate() retries such an answer with the reason fed back and keeps it, with a
warning, when no retry does better; `nlq validate`, the API and the editor warn.
Each doubt has a code (the translate error kind and the editor's diagnostic code).

    >>> from nlq.dialects import get
    >>> [code for code, _ in doubts(get("promql").parse("up / up"), "up / up", None)]
    ['degenerate']
"""

from __future__ import annotations

from typing import Any

from nlq.degenerate import Finding, degenerate
from nlq.log_formats import missing_field, parser_mismatch
from nlq.metric_use import misused_metric

#: the codes, in the order they are looked for
CODES = ("degenerate", "parser", "field", "metric")


def doubts(node: Any, text: str, catalog: Any) -> list[tuple[str, Finding]]:
    """(code, finding) for each reason to doubt the valid query `text` (its AST `node`)."""
    found = (("degenerate", degenerate(node, text)), ("parser", parser_mismatch(node, catalog)),
             ("field", missing_field(node, catalog)), ("metric", misused_metric(node, catalog)))
    return [(code, finding) for code, finding in found if finding]


__all__ = ["CODES", "doubts"]
