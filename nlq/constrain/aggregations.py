"""LogQL aggregations as Loki validates them: a grammar for generation only.

LogQL's grammar, like Loki's parser, lets every range aggregation take an
optional parameter, an optional `| unwrap` and an optional `by (...)`, and
every vector aggregation an optional parameter; the checks after parsing
(`nlq.dialects.logql.checks`, after Loki's `RangeAggregationExpr.validate`)
refuse what the operation does not take: `bytes_over_time({...} | unwrap x
[5m])`, `sum_over_time({...}[5m])` without unwrap, `count_over_time(...) by
(pod)`, `quantile_over_time` without its quantile, `topk` without its k.  A
small model retrying under the full grammar writes them again (#7).

`as_loki_validates` rewrites the grammar's text for generation only, from the
checks' own sets:

* `range_agg` gets one alternative per kind of range operation, each with a
  terminal naming its operations: whether it needs, refuses or allows an
  unwrap (`log_range_unwrapped`, `log_range_lines`, `log_range`), whether it
  takes a parameter and whether it may group;
* `vector_agg` splits into the operations that need a parameter and those that
  take none.

The language shrinks and never grows: every query it allows the full grammar
accepts.
"""

from __future__ import annotations

from collections import defaultdict

from nlq.constrain import larktext
from nlq.dialects.logql.checks import (
    GROUPING_ALLOWED,
    NEEDS_UNWRAP,
    PARAM_AGGREGATIONS,
    PARAM_RANGE_AGGREGATIONS,
    REFUSES_UNWRAP,
)

_OPTIONAL_PARAM = '[NUMBER ","]'
_OPTIONAL_GROUPING = "[grouping]"
_OPTIONAL_UNWRAP = "[unwrap]"


def _specialised(alternative: str, param: bool, grouping: bool = True) -> str:
    """One alternative with its optional parameter made required or removed, and its
    optional trailing grouping kept or removed."""
    if _OPTIONAL_PARAM not in alternative:
        raise ValueError(f"logql.lark's aggregation no longer takes {_OPTIONAL_PARAM}: {alternative}")
    out = alternative.replace(_OPTIONAL_PARAM, 'NUMBER ","' if param else "")
    if not grouping:
        out = out.replace(_OPTIONAL_GROUPING, "")
    return " ".join(out.split())


def _log_ranges(body: str) -> tuple[list[str], list[str]]:
    """`log_range`'s alternatives as two rules: without an unwrap (`log_range_lines`) and with one
    (`log_range_unwrapped`)."""
    lines, unwrapped = [], []
    for alt in larktext.alternatives(body):
        without = alt.replace(_OPTIONAL_UNWRAP, "")
        if "unwrap" not in larktext.referenced_names(without):
            lines.append(larktext.substitute(" ".join(without.split()), {"log_range": "log_range_lines"}))
        with_unwrap = alt.replace(_OPTIONAL_UNWRAP, "unwrap")
        refs = larktext.referenced_names(with_unwrap)
        if "unwrap" in refs or "log_range" in refs:
            unwrapped.append(larktext.substitute(with_unwrap, {"log_range": "log_range_unwrapped"}))
    if not lines or not any("unwrap" in larktext.referenced_names(a) for a in unwrapped):
        raise ValueError("logql.lark's log_range no longer has ranges with and without an unwrap")
    return lines, unwrapped


def _range_kind(op: str) -> tuple[str, bool, bool]:
    """(the log range rule it takes, whether it needs a parameter, whether it may group)."""
    unwrap = "log_range_unwrapped" if op in NEEDS_UNWRAP else "log_range_lines" if op in REFUSES_UNWRAP \
        else "log_range"
    return unwrap, op in PARAM_RANGE_AGGREGATIONS, op in GROUPING_ALLOWED


_RANGE_WORDS = {"log_range_unwrapped": "UNWRAPPED", "log_range_lines": "LINES", "log_range": "EITHER"}


def as_loki_validates(text: str) -> str:
    """The LogQL grammar `text` with each aggregation taking only what Loki accepts for it."""
    defs = larktext.definitions(text)
    range_agg, vector_agg, log_range = defs["range_agg"], defs["vector_agg"], defs["log_range"]
    kinds: dict[tuple[str, bool, bool], list[str]] = defaultdict(list)
    for op in larktext.alternation_words(defs["RANGE_OP"].body):
        kinds[_range_kind(op)].append(op)
    range_alts, terminals = [], []
    for (log_rule, param, grouping), ops in sorted(kinds.items()):
        name = "RANGE_OP_" + _RANGE_WORDS[log_rule] + ("_PARAM" if param else "") + ("_GROUPING" if grouping else "")
        terminals.append(larktext.words_terminal(name, ops))
        for alt in larktext.alternatives(range_agg.body):
            typed = _specialised(alt, param, grouping)
            range_alts.append(larktext.substitute(typed, {"RANGE_OP": name, "log_range": log_rule}))
    aggregations = larktext.alternation_words(defs["AGG_OP"].body)
    vector_alts = []
    for name, ops, param in (("AGG_OP_PLAIN", [a for a in aggregations if a not in PARAM_AGGREGATIONS], False),
                             ("AGG_OP_PARAM", [a for a in aggregations if a in PARAM_AGGREGATIONS], True)):
        terminals.append(larktext.words_terminal(name, ops))
        vector_alts += [larktext.substitute(_specialised(alt, param), {"AGG_OP": name})
                        for alt in larktext.alternatives(vector_agg.body)]
    lines, unwrapped = _log_ranges(log_range.body)
    replacements = {
        "range_agg": f"{range_agg.prefix}range_agg: " + "\n    | ".join(range_alts),
        "vector_agg": f"{vector_agg.prefix}vector_agg: " + "\n    | ".join(vector_alts),
    }
    extra = ["log_range_lines: " + "\n    | ".join(lines),
             "log_range_unwrapped: " + "\n    | ".join(unwrapped)] + terminals
    return larktext.replace_definitions(text, replacements, extra,
                                        header="aggregations as Loki validates them (nlq.constrain.aggregations)")


__all__ = ["as_loki_validates"]
