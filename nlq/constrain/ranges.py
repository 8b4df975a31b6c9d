"""Range vectors only where a function takes one: a PromQL grammar for generation.

PromQL's grammar, like Prometheus's own parser, lets `[5m]` follow any
expression; the type check after parsing then refuses a range vector in an
aggregation, an operator or at the top (`max(kafka_consumergroup_lag[6h])`,
`count(http_requests_total[5m])`, `x[5m] > 0`).  For validating what a person
wrote that is right: "expected type instant vector in aggregation expression,
got range vector" says more than a syntax error.  For generation it is a trap:
the grammar lets a small model write the construct, the check refuses it, and
its sampled retries write it again (#7).

`only_in_calls` rewrites the grammar's text for generation only: `[range]` and
`[range:step]` leave the postfix rule and become a function argument
(`range_arg`), with the modifiers that may follow a range (`offset`, `@`,
`anchored`, `smoothed`).  What stays possible: every range function's argument
(`rate(x[5m] offset 1h)`), subqueries (`max_over_time(rate(x[5m])[1h:5m])`).
What goes: a range anywhere else.  The language shrinks and never grows, so
every query it allows the full grammar accepts; the few range queries it loses
are ones the eval's range evaluation and Prometheus's `query_range` refuse
anyway.
"""

from __future__ import annotations

from nlq.constrain import larktext

#: the postfix alternatives that make a range vector
_RANGE_ALIASES = ("-> matrix", "-> subquery")

_RANGE_RULES = [
    "?call_arg: expr",
    "    | range_arg",
    'range_arg: postfix_expr "[" dur_expr "]" range_mod*',
    '    | postfix_expr "[" dur_expr ":" [dur_expr] "]" range_mod*',
    'range_mod: OFFSET offset_value | "@" at_value | ANCHORED | SMOOTHED',
]


def only_in_calls(text: str) -> str:
    """The PromQL grammar `text` with range vectors allowed only as function arguments."""
    defs = larktext.definitions(text)
    postfix, call = defs["postfix_expr"], defs["call"]
    kept = [alt for alt in larktext.alternatives(postfix.body) if not alt.endswith(_RANGE_ALIASES)]
    if len(kept) != len(larktext.alternatives(postfix.body)) - len(_RANGE_ALIASES):
        raise ValueError("promql.lark's postfix_expr no longer has the matrix and subquery alternatives")
    call_body = larktext.substitute(call.body, {"expr": "call_arg"})
    replacements = {
        "postfix_expr": f"{postfix.prefix}postfix_expr: " + "\n    | ".join(kept),
        "call": f"{call.prefix}call: {call_body.strip()}",
    }
    return larktext.replace_definitions(text, replacements, _RANGE_RULES,
                                        header="range vectors only as function arguments (nlq.constrain.ranges)")


__all__ = ["only_in_calls"]
