"""Questions about the whole, answered without a breakdown.

"total mem used across the cluster", "cluster wide network receive
throughput": the question asks for one figure, and names no label to break it
down by.  A small model still often writes `sum:system.mem.used{*} by {host}`
or `sum by (instance) (...)`, copying the breakdown of a retrieved example:
one series per host where one number was asked for.  For such a question the
generation grammar leaves the breakdown out:

* PromQL: no `by`/`without`, except `by (le)` in histogram_quantile's bucket
  argument, which needs it;
* LogQL: grouping lists are empty (`sum by () (...)` is the plain sum; the
  grammar writes `grouping` in several places, so it is emptied, not removed);
* Datadog metrics: no `by {...}`.

The cue is the question's own words: a word for the whole ("total",
"overall", "across", "cluster-wide", ...) and no word that asks for a
breakdown or a ranking ("by", "per", "each", "which", "top", "vs", ...).
Quoted text is not read for cues: it is a log line to match.
"""

from __future__ import annotations

import re

from nlq.constrain import larktext
from nlq.constrain.grammar import ConstraintGrammar
from nlq.constrain.histograms import BUCKET_EXPR
from nlq.constrain.regroup import GROUPING_RULES

_WHOLE = re.compile(
    r"\b(?:total|overall|altogether|combined|whole|entire|in sum|across|cluster[- ]?wide|fleet[- ]?wide"
    r"|global(?:ly)?|of any)\b")
_BREAKDOWN = re.compile(
    r"\b(?:by|per|each|every|breakdown|broken|split|group(?:ed|s)?|which|what|who|where|top|bottom|rank"
    r"|most|least|highest|lowest|busiest|noisiest|biggest|smallest|worst|best|vs|versus|compared?|against)\b")
_QUOTED = re.compile(r"\"[^\"]*\"|'[^']*'|`[^`]*`")

#: dialects whose generation grammar can leave the breakdown out
DIALECTS = ("promql", "logql", "datadog-metrics")


def asks_for_the_whole(question: str) -> bool:
    """True when `question` asks for one figure over everything and names no breakdown.

    >>> asks_for_the_whole("total mem used across the cluster")
    True
    >>> asks_for_the_whole("total requests per service")
    False
    >>> asks_for_the_whole('lines saying "total failure" by pod')
    False
    """
    text = _QUOTED.sub(" ", question.lower())
    return bool(_WHOLE.search(text)) and not _BREAKDOWN.search(text)


def without_breakdown(grammar: ConstraintGrammar, dialect: str) -> ConstraintGrammar:
    """`grammar` (a `dialect` generation grammar) with no breakdown by labels (see the module)."""
    if dialect == "promql":
        replacements, extra = _promql_without_breakdown(grammar.lark)
    elif dialect == "logql":
        replacements, extra = _rewritten(grammar.lark, re.compile(r'"\(" \[label_list\] "\)"'), '"(" ")"'), []
    elif dialect == "datadog-metrics":
        # narrowing copies metric_query and group_by per metric (`nlq_group_by__m3`)
        replacements, extra = _rewritten(grammar.lark, re.compile(r"\[(?:group_by|nlq_group_by__m\d+)\]"), ""), []
    else:
        raise ValueError(f"no breakdown to leave out in {dialect}")
    text = larktext.replace_definitions(grammar.lark, replacements, extra,
                                        header="a question about the whole (nlq.constrain.whole)")
    # "whole" in `narrowed` tells translate() not to regroup the retries (nlq.constrain.regroup)
    return ConstraintGrammar(lark=text, name=f"{grammar.name}+whole", narrowed={**grammar.narrowed, "whole": 1},
                             missing_rules=grammar.missing_rules, catalog_fingerprint=grammar.catalog_fingerprint)


def _promql_without_breakdown(lark: str) -> tuple[dict[str, str], list[str]]:
    """PromQL: aggregations without `by`/`without`, except `by (le)` in histogram_quantile's
    bucket argument (nlq.constrain.histograms): the replaced rules and the new ones."""
    defs = larktext.definitions(lark)
    if BUCKET_EXPR not in defs:
        raise ValueError("the PromQL grammar has no bucket_expr: apply nlq.constrain.histograms first")
    replacements = {}
    for name, definition in defs.items():
        if name == BUCKET_EXPR or not set(GROUPING_RULES) & set(larktext.referenced_names(definition.body)):
            continue
        kept = [a for a in larktext.alternatives(definition.body)
                if "grouping" not in larktext.referenced_names(a)]
        if not kept or any("grouping_after" in larktext.referenced_names(a.replace("[grouping_after]", ""))
                           for a in kept):
            raise ValueError(f"the PromQL grammar's {name} groups in a way nlq.constrain.whole does not know")
        body = " | ".join(a.replace("[grouping_after]", "").rstrip() for a in kept)
        replacements[name] = f"{definition.prefix}{name}: {body}"
    bucket = defs[BUCKET_EXPR]
    body = larktext.substitute(bucket.body, {rule: f"nlq_le_{rule}" for rule in GROUPING_RULES})
    replacements[BUCKET_EXPR] = f"{bucket.prefix}{BUCKET_EXPR}: {body}"
    extra = [f"nlq_le_{rule}: " + larktext.substitute(defs[rule].body, {"label_list": "nlq_le_list"})
             for rule in GROUPING_RULES]
    extra.append('nlq_le_list: "(" "le" ")"')
    return replacements, extra


def _rewritten(lark: str, pattern: re.Pattern, replacement: str) -> dict[str, str]:
    """Every definition whose body matches `pattern`, rewritten (at least one must)."""
    replacements = {}
    for name, definition in larktext.definitions(lark).items():
        body, found = pattern.subn(replacement, definition.body)
        if found:
            replacements[name] = f"{definition.prefix}{name}: {body}"
    if not replacements:
        raise ValueError(f"no rule of the grammar reads {pattern.pattern}")
    return replacements


__all__ = ["DIALECTS", "asks_for_the_whole", "without_breakdown"]
