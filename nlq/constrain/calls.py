"""PromQL calls that take what their signatures say: a grammar for generation only.

PromQL's grammar, like Prometheus's own parser, lets any function take any
number of any expressions and lets `[5m]` follow any expression; the type
check after parsing refuses what does not fit (`min_over_time(x, 3)`,
`min_over_time(0.9, x[5m])`, `max(kafka_consumergroup_lag[6h])`,
`x[5m] > 0`).  For validating what a person wrote that is right: "expected
type range vector in call to function" says more than a syntax error.  For
generation it is a trap: the grammar lets a small model write the construct,
the check refuses it, and its sampled retries write it again (#7).

`typed_calls` rewrites the grammar's text for generation only:

* `call` becomes one alternative per signature in Prometheus's function table
  (`nlq.dialects.promql.functions`), each with a terminal naming the functions
  that share it (`FN_RANGE: "rate" | "irate" | ...`) and the arguments in
  order: an expression, a range (`range_arg`) or a string literal
  (`string_arg`), with an optional or repeated last argument where the
  function is variadic;
* `[range]` and `[range:step]` leave the postfix rule: a range vector exists
  only as a range argument, with the modifiers that may follow it (`offset`,
  `@`, `anchored`, `smoothed`), in parentheses or not.

What stays: every call the checks accept, subqueries
(`max_over_time(rate(x[5m])[1h:5m])`).  What goes: arity and range
mistakes.  An instant-vector argument still takes any expression (a scalar
there is a type error the grammar cannot see without typing every rule).  The
language shrinks and never grows, so everything it allows the full grammar
accepts; the range queries it loses (`x[5m]` at the top) are ones the eval's
range evaluation and Prometheus's `query_range` refuse anyway.
"""

from __future__ import annotations

from collections import defaultdict

from nlq.constrain import larktext
from nlq.dialects.promql.functions import FUNCTIONS, RANGE, STRING

#: the postfix alternatives that make a range vector
_RANGE_ALIASES = ("-> matrix", "-> subquery")

_ARG_RULES = [
    'range_arg: postfix_expr "[" dur_expr "]" range_mod*',
    '    | postfix_expr "[" dur_expr ":" [dur_expr] "]" range_mod*',
    '    | "(" range_arg ")"',
    'range_mod: OFFSET offset_value | "@" at_value | ANCHORED | SMOOTHED',
    'string_arg: STRING | "(" string_arg ")"',
]

_TYPE_WORDS = {"instant vector": "INSTANT", "range vector": "RANGE", "scalar": "SCALAR", "string": "STRING"}


def _argument(arg_type: str) -> str:
    return {RANGE: "range_arg", STRING: "string_arg"}.get(arg_type, "expr")


def _terminal_name(arg_types: tuple[str, ...], variadic: int) -> str:
    """`FN_RANGE_SCALAR`; a variadic last argument is `OPTIONAL_` (at most once) or `MANY_`."""
    words = [_TYPE_WORDS[t] for t in arg_types]
    if variadic and words:
        words[-1] = ("OPTIONAL_" if variadic == 1 else "MANY_") + words[-1]
    return "FN_" + ("_".join(words) or "NO_ARGS")


def _arguments(arg_types: tuple[str, ...], variadic: int) -> str:
    """The text between the parentheses for one signature."""
    fixed = [_argument(t) for t in (arg_types[:-1] if variadic else arg_types)]
    text = ' "," '.join(fixed)
    if not variadic or not arg_types:
        return text
    last = _argument(arg_types[-1])
    if variadic == 1:
        return f'{text} ["," {last}]' if fixed else f"[{last}]"
    return f'{text} ("," {last})*' if fixed else f'[{last} ("," {last})*]'


def typed_calls(text: str) -> str:
    """The PromQL grammar `text` with calls typed by signature and ranges only as their arguments."""
    defs = larktext.definitions(text)
    postfix, call = defs["postfix_expr"], defs["call"]
    kept = [alt for alt in larktext.alternatives(postfix.body) if not alt.endswith(_RANGE_ALIASES)]
    if len(kept) != len(larktext.alternatives(postfix.body)) - len(_RANGE_ALIASES):
        raise ValueError("promql.lark's postfix_expr no longer has the matrix and subquery alternatives")
    named = set(larktext.alternation_words(defs["FUNC_NAME"].body))
    if named != set(FUNCTIONS):
        raise ValueError(f"promql.lark's FUNC_NAME and the function table differ: {sorted(named ^ set(FUNCTIONS))}")
    by_signature: dict[tuple[tuple[str, ...], int], list[str]] = defaultdict(list)
    for function in FUNCTIONS.values():
        by_signature[(function.arg_types, function.variadic)].append(function.name)
    alternatives, terminals = [], []
    for (arg_types, variadic), names in sorted(by_signature.items()):
        terminal = _terminal_name(arg_types, variadic)
        terminals.append(larktext.words_terminal(terminal, names))
        arguments = _arguments(arg_types, variadic)
        alternatives.append(f'{terminal} "(" {arguments} ")"' if arguments else f'{terminal} "(" ")"')
    replacements = {
        "postfix_expr": f"{postfix.prefix}postfix_expr: " + "\n    | ".join(kept),
        "call": f"{call.prefix}call: " + "\n    | ".join(alternatives),
    }
    return larktext.replace_definitions(text, replacements, _ARG_RULES + terminals,
                                        header="calls typed by signature (nlq.constrain.calls)")


__all__ = ["typed_calls"]
