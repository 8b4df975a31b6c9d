"""A retry's grammar that groups only by labels the chosen metrics carry.

`sum by (node) (rate(node_cpu_seconds_total{mode="user"}[1m]))` parses and
passes the catalog check (other metrics have a `node` label), and answers "in
total", not "per node": no series of node_cpu_seconds_total carries `node`
(nlq.metric_use).  translate() retries it with the reason fed back, and the
sampled retries write `by (node)` again.  Narrowing cannot prevent it: in
`sum by (x) (...)` the label comes before the metric, so the first attempt's
grammar does not yet know which metric the labels belong to.

A retry does know: the failed attempt names the metrics the model means, and
retries keep them far more often than they change them.  `grouping_within`
rewrites the narrowed grammar so that every `by (...)` and `without (...)`
list takes only the labels those metrics carry.  translate() uses it only for
the retries after that doubt; the first attempt's grammar is unchanged.  The
language shrinks and never grows.
"""

from __future__ import annotations

from collections.abc import Iterable

from nlq.constrain import larktext
from nlq.constrain.grammar import ConstraintGrammar

#: the rules that write a grouping's label list (`sum by (a) (...)`, `sum(...) by (a)`)
GROUPING_RULES = ("grouping", "grouping_after")
_LIST = "label_list"

_RULES = [
    'nlq_group_list: "(" [nlq_group_label ("," nlq_group_label)* [","]] ")"',
    "nlq_group_label: NLQ_GROUP_LABEL",
]


def grouping_within(grammar: ConstraintGrammar, labels: Iterable[str]) -> ConstraintGrammar:
    """`grammar` (PromQL) with every grouping list taking only `labels` (not empty)."""
    labels = sorted(set(labels))
    if not labels:
        raise ValueError("grouping_within needs at least one label")
    defs = larktext.definitions(grammar.lark)
    replacements = {}
    for rule in GROUPING_RULES:
        definition = defs.get(rule)
        if definition is None or _LIST not in larktext.referenced_names(definition.body):
            raise ValueError(f"the PromQL grammar's {rule} no longer takes a {_LIST}")
        body = larktext.substitute(definition.body, {_LIST: "nlq_group_list"})
        replacements[rule] = f"{definition.prefix}{rule}: {body}"
    extra = [*_RULES, larktext.words_terminal("NLQ_GROUP_LABEL", labels)]
    text = larktext.replace_definitions(grammar.lark, replacements, extra,
                                        header="a retry grouping by its metrics' labels (nlq.constrain.regroup)")
    return ConstraintGrammar(lark=text, name=f"{grammar.name}+grouped",
                             narrowed={**grammar.narrowed, "group_labels": len(labels)},
                             missing_rules=grammar.missing_rules, catalog_fingerprint=grammar.catalog_fingerprint)


__all__ = ["GROUPING_RULES", "grouping_within"]
