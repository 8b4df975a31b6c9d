"""One-sentence explanations derived from a query's AST, plus what was assumed.

    >>> explain(ast, "promql", catalog).sentence          # doctest: +SKIP
    'Per-second rate of HTTP requests to checkout with a 5xx status code, over 5-minute windows, summed by status code.'

Each dialect has a module here with `describe(ast, catalog) -> (sentence, facts)`;
`facts` lists the windows, aggregations and groupings the query uses, which the
assumption check compares with the question: a question that names no window
gets "assumed: 5m window".
"""

from __future__ import annotations

import importlib
import re
from dataclasses import dataclass, field
from typing import Any

from nlq.catalog import Catalog

_MODULES = {
    "promql": "nlq.explain.promql",
    "logql": "nlq.explain.logql",
    "datadog-metrics": "nlq.explain.datadog_metrics",
    "datadog-logs": "nlq.explain.datadog_logs",
}


@dataclass
class Facts:
    windows: list[str] = field(default_factory=list)
    aggregations: list[str] = field(default_factory=list)
    grouping: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    sentence: str
    assumptions: list[str] = field(default_factory=list)
    facts: Facts = field(default_factory=Facts)


_WINDOW_WORDS = re.compile(
    r"\b\d+\s*(ms|s|sec|secs|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?|w|weeks?)\b"
    r"|\b(last|past|previous|per|every|each)\s+(second|minute|hour|day|week)\b"
    r"|\b(hourly|daily|weekly|minutely)\b|\b(an?|one|half an?)\s+(hour|minute|day|week)\b",
    re.IGNORECASE,
)
_AGG_WORDS = re.compile(
    r"\b(sum|summed|total|overall|average|avg|mean|median|max|maximum|min|minimum|count|how many|"
    r"number of|top|bottom|highest|lowest|most|least|all|combined|aggregate|p\d\d|percentile|quantile)\b",
    re.IGNORECASE,
)
_GROUP_WORDS = re.compile(r"\b(by|per|each|every|for each|broken down|split|grouped)\b", re.IGNORECASE)


def assumptions(question: str, facts: Facts) -> list[str]:
    """What the query decides that the question left open."""
    out = []
    if question and facts.windows and not _WINDOW_WORDS.search(question):
        out.append(f"assumed: {facts.windows[0]} window")
    if question and facts.aggregations and not _AGG_WORDS.search(question):
        out.append(f"assumed: {facts.aggregations[0]} across series")
    if question and facts.grouping and not _GROUP_WORDS.search(question):
        out.append(f"assumed: grouped by {', '.join(facts.grouping)}")
    return out


def explain(ast: Any, dialect: str, catalog: Catalog | None = None, question: str = "") -> Explanation:
    """The explanation of `ast` (a dialect's parsed query); `question` enables the assumption check."""
    module = importlib.import_module(_MODULES[dialect])
    sentence, facts = module.describe(ast, catalog)
    sentence = sentence[0].upper() + sentence[1:] if sentence else sentence
    if sentence and not sentence.endswith("."):
        sentence += "."
    return Explanation(sentence, assumptions(question, facts), facts)


__all__ = ["Explanation", "Facts", "assumptions", "explain"]
