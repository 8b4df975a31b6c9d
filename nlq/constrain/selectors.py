"""PromQL selectors that name their metric: a grammar for generation only.

`{service="search"}` is valid PromQL: every metric of every series that carries
the label, 117 series on the snapshot, histogram buckets and all.  People
write it to explore a target or, with `__name__`, a family of metrics; no
question put to nlq means it.  The shipped adapter wrote one for "search
targets currently scraping ok" and for "checkout pods not from the new
replicaset", and its sampled retries, told why (nlq.metric_use), wrote it
again.  Kept out of the language, greedy decoding takes its next choice, a
metric name, at the first token.

`named_selectors` rewrites the grammar's text for generation only: the vector
selector keeps its `metric_name [label_matchers]` form, and braces alone only
when they open with a quoted metric name (`{"http.server.duration", a="b"}`).
The language shrinks and never grows, so everything it allows the full
grammar accepts; `nlq validate` and the editor still take a nameless
selector, and warn about it.
"""

from __future__ import annotations

from nlq.constrain import larktext

#: the alternative that selects by labels alone
_NAMELESS = "label_matchers"
#: what stays of it: braces that open with the metric's quoted name (Prometheus 3, for names
#: such as OTel's `http.server.duration` that are no identifier)
_QUOTED_FIRST = '"{" quoted_metric ["," [matcher_item ("," matcher_item)* [","]]] "}"'


def named_selectors(text: str) -> str:
    """The PromQL grammar `text` with every vector selector naming its metric."""
    selector = larktext.definitions(text)["vector_selector"]
    alternatives = larktext.alternatives(selector.body)
    kept = [alternative for alternative in alternatives if alternative != _NAMELESS]
    if len(kept) != len(alternatives) - 1:
        raise ValueError("promql.lark's vector_selector no longer has a bare label_matchers alternative")
    kept.append(_QUOTED_FIRST)
    body = f"{selector.prefix}vector_selector: " + "\n    | ".join(kept)
    return larktext.replace_definitions(text, {"vector_selector": body}, [],
                                        header="selectors name their metric (nlq.constrain.selectors)")


__all__ = ["named_selectors"]
