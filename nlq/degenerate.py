"""Valid queries that say nothing: a part repeated, a condition beside its negation, or an
expression set against itself.

Grammar-constrained decoding guarantees a query that parses and names only
what the catalog holds; it cannot stop a small model from writing
`up{job="node", job="node"}`, `service:payments -service:payments` or a
"ratio" of a series to itself, which the grammar has no way to forbid
(refusing a repeat is context-sensitive).  Such a query is valid, so the
checks accept it, yet it answers no question: `x / x` is 1 wherever x exists,
`x - x` is 0, `x unless x` is empty, a matcher written twice filters nothing
more, and a condition AND-ed with its negation keeps nothing.  The shipped
adapter wrote one in 13 of its 151 valid PromQL answers on the 2026-12-06
runs, every one wrong.

`degenerate(ast, text)` finds the first such thing in any dialect's AST (all four
are frozen dataclasses whose spans stay out of equality, so "the same" is
dataclass equality).  translate() treats it like a failed check: it retries
with the reason fed back, and keeps the query, with a warning, only when no
retry does better.  It is not a validation error: Prometheus runs these
queries, and `nlq validate` must not call them invalid.

Queries people write rarely do this.  `tests/test_degenerate.py` finds none
in the PromQL mixins and alerts (kubernetes-mixin, node-mixin,
awesome-prometheus-alerts: 1,126 queries), Loki's benchmark queries and
documented examples, or Datadog's API-client and search-syntax examples.
What they do repeat stays allowed: one label with two conditions
(`{code=~"5..", code!="503"}`), `x == x` (drops NaN), `x * x`.  Community
Datadog dashboards (integrations-extras) repeat a tag in about 1% of their
queries, copy-paste that changes nothing (`{$cluster,$cluster_name,$cluster}`),
which is why translate() keeps a degenerate answer when no retry beats it
rather than losing it.  Engine test suites repeat on purpose (`time() /
time()`, `absent(x{job="a", job="b"})`), to test the engine.

    >>> from nlq.dialects import get
    >>> query = 'up{job="node", job="node"}'
    >>> finding = degenerate(get("promql").parse(query), query)
    >>> finding.message, query[slice(*finding.span)]
    ('the matcher job="node" is written twice', 'job="node"')
    >>> query = "sum(rate(x[5m])) / sum(rate(x[5m]))"
    >>> degenerate(get("promql").parse(query), query).message
    'both sides of `/` are sum(rate(x[5m])): the result says nothing about the data'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Any

#: tuple fields whose order means nothing (AND-ed conditions, alternatives, label lists):
#: any element twice is a repeat
UNORDERED_FIELDS = frozenset({"matchers", "operands", "values", "items", "blocks", "labels", "grouping",
                              "group_by", "include", "queries"})
#: tuple fields that run in order (a pipeline, a chain of modifiers): the same element
#: twice *in a row* is a repeat (`| json | json`); apart, it may re-parse a rewritten line
ORDERED_FIELDS = frozenset({"stages", "modifiers", "post_filters"})
#: what one element of each of those fields is called in a message
PART_NAMES = {"matchers": "matcher", "operands": "condition", "values": "value", "items": "item", "blocks": "block",
              "labels": "label", "grouping": "label", "group_by": "tag", "include": "label", "queries": "query",
              "stages": "stage", "modifiers": "modifier", "post_filters": "filter"}
#: binary operators whose result is a constant, empty, or one side when both sides are
#: the same: x / x, x - x, x % x, x atan2 x, x and x, x or x, x unless x, x > x.
#: Not ==: `x == x` keeps the samples that are not NaN, a real idiom; not + * ^: 2x, x².
SELF_CANCELLING_OPS = frozenset({"/", "-", "%", "atan2", "and", "or", "unless", "!=", "<", ">", "<=", ">="})
#: tuple fields of conditions that are AND-ed (OR-ed where the node's class name ends in "Or"):
#: a condition beside its own negation matches nothing (or everything)
CONDITION_FIELDS = frozenset({"matchers", "operands"})
#: a label matcher's operator and the one that negates it
_NEGATED_OPS = {"=": "!=", "!=": "=", "=~": "!~", "!~": "=~"}


@dataclasses.dataclass(frozen=True)
class Finding:
    """What makes a query degenerate, and where."""

    message: str
    #: (start, end) offsets into the query of the part that says nothing: the repeat, or the
    #: whole self-cancelling operation (None when the parser kept no span)
    span: tuple[int, int] | None


def degenerate(node: Any, text: str) -> Finding | None:
    """What makes `node`, the parse of `text` in any dialect, degenerate, or None when nothing does."""
    for item in ast_nodes(node):
        for field in dataclasses.fields(item):
            value = getattr(item, field.name)
            if not isinstance(value, tuple) or len(value) < 2:
                continue
            if field.name in UNORDERED_FIELDS and (repeat := _first_repeat(value)) is not None:
                return Finding(f"the {PART_NAMES[field.name]} {_shown(repeat, text)} is written twice", span_of(repeat))
            if field.name in CONDITION_FIELDS and (found := _first_contradiction(value)) is not None:
                part, negated = found
                outcome = ("one of them always holds, so it filters nothing" if type(item).__name__.endswith("Or")
                           else "no line or series can meet both")
                return Finding(f"{_shown(part, text)} negates {_shown(negated, text)}: {outcome}", span_of(part))
            if field.name in ORDERED_FIELDS:
                for before, after in zip(value, value[1:], strict=False):
                    if before == after:
                        return Finding(f"the {PART_NAMES[field.name]} {_shown(after, text)} is written twice in a row",
                                       span_of(after))
        sides = _sides(item)
        if sides is not None and item.op in SELF_CANCELLING_OPS and _unwrapped(sides[0]) == _unwrapped(sides[1]):
            return Finding(f"both sides of `{item.op}` are {_shown(sides[1], text)}: "
                           "the result says nothing about the data", span_of(item))
    return None


def ast_nodes(node: Any) -> Iterator[Any]:
    """Every dataclass node under `node`, itself first."""
    if dataclasses.is_dataclass(node) and not isinstance(node, type):
        yield node
        for field in dataclasses.fields(node):
            yield from ast_nodes(getattr(node, field.name))
    elif isinstance(node, tuple | list):
        for element in node:
            yield from ast_nodes(element)


def _first_repeat(values: tuple) -> Any:
    """The second copy of the first element `values` holds twice (its span is the repeat's)."""
    seen = []  # a list, not a set: a node may hold an unhashable list
    for value in values:
        if value in seen:
            return value
        seen.append(value)
    return None


def _first_contradiction(values: tuple) -> tuple[Any, Any] | None:
    """(a condition, the earlier one it contradicts) for the first condition in `values` that
    negates, or is negated by, one written before it."""
    negations = [_negation(part) for part in values]  # once each, not once per pair
    for later, part in enumerate(values):
        for earlier, other in enumerate(values[:later]):
            if negations[later] == other or negations[earlier] == part:
                return part, other
    return None


def _negation(part: Any) -> Any:
    """What `part` negates: the operand of a NOT (`-service:x`, `!env:prod`), or the matcher with the
    opposite operator (`job!="api"` negates `job="api"`); None for anything else."""
    kind = type(part).__name__
    if kind in ("Not", "FilterNot", "ValueNot"):
        return part.operand
    if kind == "Matcher" and getattr(part, "op", None) in _NEGATED_OPS:
        return dataclasses.replace(part, op=_NEGATED_OPS[part.op])
    return None


def span_of(part: Any) -> tuple[int, int] | None:
    span = getattr(part, "span", None)
    if isinstance(span, tuple) and len(span) == 2 and all(isinstance(offset, int) for offset in span):
        return span
    return None


def _sides(item: Any) -> tuple[Any, Any] | None:
    """A binary node's two operands (PromQL names them lhs/rhs, the others left/right)."""
    if not isinstance(getattr(item, "op", None), str):
        return None
    for left, right in (("lhs", "rhs"), ("left", "right")):
        if hasattr(item, left) and hasattr(item, right):
            return getattr(item, left), getattr(item, right)
    return None


def _unwrapped(node: Any) -> Any:
    """`node` without the parentheses around it (PromQL keeps them as `Paren` nodes)."""
    while type(node).__name__ == "Paren":
        node = node.expr
    return node


def _shown(part: Any, text: str, limit: int = 60) -> str:
    """How `part` reads in the query: the text its span covers (shortened), else its value."""
    if span := span_of(part):
        shown = text[span[0]:span[1]].strip()
    else:
        shown = str(part) if isinstance(part, str | int | float) else type(part).__name__
    return shown if len(shown) <= limit else shown[: limit - 3] + "..."


__all__ = ["Finding", "ast_nodes", "degenerate", "span_of"]
