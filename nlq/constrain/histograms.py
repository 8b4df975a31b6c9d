"""histogram_quantile over bucket series only: a grammar for generation only.

`histogram_quantile(φ, v)` reads the `le` buckets of a histogram; given any
other series the catalog check refuses it (`nlq.dialects.promql.checks`).
The shipped adapter takes the right function and the right family, then the
family's wrong member:

    histogram_quantile(0.95, sum by (route, le) (rate(http_request_duration_seconds_count[5m])))

and its sampled retries, told why, write `_count` again, so the question gets
no query.  The function comes before the metric, so the grammar already
knows, where the metric is chosen, that only a bucket series fits: the model
then chooses between `..._bucket` and what else holds buckets.

`bucket_quantiles` rewrites the typed grammar (after `nlq.constrain.calls`)
so that histogram_quantile's vector argument is a `bucket_expr`: a bucket
selector, rate(), irate() or increase() of one, or an aggregation of a
`bucket_expr` (`sum by (le, route) (...)`, nested or not, or inside `topk`).
Its selectors are `bucket_selector`, which narrowing fills with the catalog's
bucket series only (`Metric.holds_buckets`, the check's own test) and scopes
like any selector (`nlq.constrain.narrow`).  Unnarrowed, any metric name
fits: the structure alone is what changes.  Whatever follows the buckets is
free: a join that brings in a label (`... * on (instance) group_left (node)
max by (instance, node) (kubelet_node_name)`, as the kubernetes-mixin
writes), `unless`, arithmetic.  The language shrinks and never grows; what it
loses are quantiles whose argument does not start with buckets.
"""

from __future__ import annotations

from nlq.constrain import larktext

QUANTILE_FUNCTION = "histogram_quantile"
#: the rule whose metric names narrowing limits to bucket series
BUCKET_SELECTOR = "bucket_selector"
#: the rule for histogram_quantile's vector argument
BUCKET_EXPR = "bucket_expr"

_RULES = [
    "bucket_expr: bucket_selector",
    '    | FN_BUCKET_RATE "(" bucket_range ")"',
    '    | AGG_OP grouping "(" bucket_expr ")"',
    '    | AGG_OP "(" bucket_expr ")" [grouping_after]',
    '    | AGG_PARAM_OP grouping "(" expr "," bucket_expr ")"',
    '    | AGG_PARAM_OP "(" expr "," bucket_expr ")" [grouping_after]',
    '    | "(" bucket_expr ")"',
    "    | bucket_expr (OR | AND | UNLESS | CMP_OP | ADD_OP | MUL_OP | ATAN2 | POW) bin_mod expr",
    'bucket_range: bucket_selector "[" dur_expr "]" range_mod*',
    '    | "(" bucket_range ")"',
    f"{BUCKET_SELECTOR}: metric_name [label_matchers]",
    larktext.words_terminal("FN_BUCKET_RATE", ["rate", "irate", "increase"]),
]


def bucket_quantiles(text: str) -> str:
    """The typed PromQL grammar `text` with histogram_quantile taking bucket series only."""
    defs = larktext.definitions(text)
    if "range_mod" not in defs:
        raise ValueError("bucket_quantiles rewrites the typed grammar: apply nlq.constrain.calls first")
    call = defs["call"]
    alternatives = larktext.alternatives(call.body)
    for index, alternative in enumerate(alternatives):
        terminal = larktext.referenced_names(alternative)[0]
        if defs[terminal].body.strip() != larktext.lark_string(QUANTILE_FUNCTION):
            continue
        if alternative != f'{terminal} "(" expr "," expr ")"':
            raise ValueError(f"{QUANTILE_FUNCTION}'s call is no longer (scalar, vector): {alternative}")
        alternatives[index] = f'{terminal} "(" expr "," bucket_expr ")"'
        body = f"{call.prefix}call: " + "\n    | ".join(alternatives)
        return larktext.replace_definitions(text, {"call": body}, _RULES,
                                            header="histogram_quantile over buckets (nlq.constrain.histograms)")
    raise ValueError(f"the typed grammar no longer gives {QUANTILE_FUNCTION} a terminal of its own")


__all__ = ["BUCKET_EXPR", "BUCKET_SELECTOR", "QUANTILE_FUNCTION", "bucket_quantiles"]
