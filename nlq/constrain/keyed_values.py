"""Datadog log searches whose values belong to their key: a grammar for generation only.

Datadog's log search lets a tag or an attribute take, besides a value, a
quoted phrase, a comparison, a range or a parenthesised group of terms:
`status:(error OR warn)`, `@http.status_code:[500 TO 599]`.  In the grammar
the group's terms and the range's bounds are free text, so narrowing to the
catalog, which gives each key its own values (`tag_match` is expanded per
key), never reaches them.  The shipped adapter wrote what that leaves open:
`service:(service OR @http.status_code)`, `service:[500 TO 599]`,
`service:((model OR status=?.) & status >=0)` (#7).  Each parses; none
names a service that exists, so each matches nothing.

`keyed_values` rewrites the grammar's text for generation only:

* a value group after a key is an OR of that key's own values
  (`"(" tag_value (" OR " tag_value)* ")"`, written inside the pair rule, so
  narrowing gives it the key's values as it does the single value);
* comparisons and ranges become the rule `numeric_value`, which narrowing
  keeps only for keys whose known values are all numbers
  (`nlq.constrain.narrow.DialectNames.numeric_only`): `@http.status_code:>=500`
  stays, `service:>=500` goes.  A key with free-form values keeps them.

A quoted phrase stays free (a value with a space, an exact message).  The
language shrinks and never grows: every search it allows the full grammar
accepts.
"""

from __future__ import annotations

from nlq.constrain import larktext

#: the pair rules and the value rule each takes
_PAIRS = {"tag_match": "tag_value", "attribute_match": "attribute_value"}
#: what follows the key's `:` in the grammar file
_VALUE_FORMS = "{value} | _common_value | value_group"
#: the rule narrowing keeps only for keys with numeric values
NUMERIC_VALUE = "numeric_value"
_NUMERIC_RULE = f"{NUMERIC_VALUE}: comparison | range"


def _group_of(value: str) -> str:
    return f'"(" _WS? {value} (_WS "OR" _WS {value})* _WS? ")"'


def keyed_values(text: str) -> str:
    """The Datadog logs grammar `text` with each key's group, comparison and range its own."""
    defs = larktext.definitions(text)
    if larktext.alternatives(defs["_common_value"].body) != ["PHRASE", "comparison", "range"]:
        raise ValueError("datadog_logs.lark's _common_value is no longer PHRASE | comparison | range")
    replacements = {}
    for rule, value in _PAIRS.items():
        body = defs[rule].body
        forms = _VALUE_FORMS.format(value=value)
        if f"({forms})" not in body:
            raise ValueError(f"datadog_logs.lark's {rule} no longer ends in ({forms})")
        keyed = f"{value} | PHRASE | {NUMERIC_VALUE} | {_group_of(value)}"
        replacements[rule] = f"{defs[rule].prefix}{rule}: " + body.replace(f"({forms})", f"({keyed})")
    return larktext.replace_definitions(text, replacements, [_NUMERIC_RULE],
                                        header="each key's values its own (nlq.constrain.keyed_values)")


__all__ = ["NUMERIC_VALUE", "keyed_values"]
