"""Datadog metric functions, modifiers and aggregators by name: a grammar for generation only.

The Datadog metrics grammar leaves three kinds of name open: a function
(`IDENT(...)`), a modifier (`.IDENT(...)`) and a space aggregator
(`IDENT:metric`).  The checks know the real ones (nlq.dialects.datadog_metrics.
checks) and refuse the rest with a "did you mean", which suits a person.  A
small model retrying writes `deriv()` or `.as_time()` again, and the question
gets no query.  The name comes after the choice to write a function or a
modifier, so the grammar can offer only real names there: `deriv` can only go
on as `derivative`, `.as_` as `.as_count()` or `.as_rate()`.

`checked_names` rewrites the grammar's text for generation only, from the
checks' own tables: `function_call` takes FUNCTIONS and the rank shorthands
(`top5_mean`), `method` takes MODIFIERS with `rollup` and `fill`, and
`space_aggregator` the aggregators and percentiles (`p95`).  Arguments stay as
they are.  And a formula's reference to a named query (`query_ref`, the `a` of
`a / b`) goes: a translated query is one query, with no named queries to refer
to, and with function names closed a start like `h` could still end as the
"query" `host`.  The language shrinks and never grows.
"""

from __future__ import annotations

from nlq.constrain import larktext
from nlq.dialects.datadog_metrics.checks import (
    EXTRA_AGGREGATORS,
    FUNCTIONS,
    MODIFIERS,
    RANK_FUNCTIONS,
    SPACE_AGGREGATORS,
)

#: modifiers the checks build nodes of their own for (`.rollup(avg, 60)`, `.fill(zero)`)
STRUCTURED_MODIFIERS = ("rollup", "fill")
#: percentile aggregators as the grammar's IDENT can spell them (`p95`, `p999`; the checks'
#: PERCENTILE pattern also takes `p99.9`, which IDENT cannot)
_PERCENTILE = r"/p([0-9]{1,2}|999)/"

_OPEN_NAME = "IDENT"
#: a formula's reference to a named query: an atom no single query needs
_QUERY_REF = "query_ref"
#: rule -> (the terminal that replaces its open name, the names it takes, a pattern it also takes)
_NAMED = {
    "function_call": ("DD_FUNCTION", (*FUNCTIONS, *RANK_FUNCTIONS), None),
    "method": ("DD_MODIFIER", (*MODIFIERS, *STRUCTURED_MODIFIERS), None),
    "space_aggregator": ("DD_AGGREGATOR", (*SPACE_AGGREGATORS, *EXTRA_AGGREGATORS), _PERCENTILE),
}


def checked_names(text: str) -> str:
    """The Datadog metrics grammar `text` with functions, modifiers and aggregators named
    as the checks accept them."""
    defs = larktext.definitions(text)
    replacements, terminals = {}, []
    atom = defs["atom"]
    kept = [a for a in larktext.alternatives(atom.body) if larktext.referenced_names(a) != [_QUERY_REF]]
    if len(kept) != len(larktext.alternatives(atom.body)) - 1:
        raise ValueError(f"datadog_metrics.lark's atom no longer has a {_QUERY_REF} alternative")
    replacements["atom"] = f"{atom.prefix}atom: " + "\n     | ".join(kept)
    for rule, (terminal, names, pattern) in _NAMED.items():
        definition = defs.get(rule)
        if definition is None or larktext.referenced_names(definition.body).count(_OPEN_NAME) != 1:
            raise ValueError(f"datadog_metrics.lark's {rule} no longer names itself with one {_OPEN_NAME}")
        body = larktext.substitute(definition.body, {_OPEN_NAME: terminal})
        replacements[rule] = f"{definition.prefix}{rule}: {body}"
        terminals.append(larktext.words_terminal(terminal, names) + (f" | {pattern}" if pattern else ""))
    return larktext.replace_definitions(text, replacements, terminals,
                                        header="names as the checks accept them (nlq.constrain.datadog_names)")


__all__ = ["checked_names"]
