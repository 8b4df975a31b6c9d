"""Evaluate a Datadog log search against events.

An event is a dict in the Vector/Datadog log model
(https://docs.datadoghq.com/logs/log_configuration/attributes_naming_convention/):

* `message`: the free text that bare terms search, word by word;
* `tags` (or `ddtags`): a list of `key:value` (or bare `value`) strings, what
  `key:value` searches for any key that is not a reserved attribute;
* reserved attributes `host`, `source` (also `ddsource`), `service`, `status`,
  `trace_id`, searched without `@`;
* every other key is an attribute, searched with `@key`; nested objects by
  `@a.b`; an array matches when one of its elements matches.

Comparison rules follow Vector's implementation of Datadog search (the cases in
../shared/corpora/datadog/vector-search-syntax-checks.jsonl): free text matches
whole words of the message; tag values and string attributes compare as
strings (also in ranges: `a:[1 TO 10]` does not match `a:2`); numeric attributes
compare as numbers; `*` and `?` are wildcards outside quotes.

    >>> matches("service:web @http.status_code:>=500", {"service": "web", "http": {"status_code": 503}})
    True
"""

from __future__ import annotations

import ipaddress
import json
import re
from collections.abc import Iterable
from functools import lru_cache

from nlq.dialects.datadog_logs import ast
from nlq.dialects.datadog_logs.parser import parse

RESERVED = {
    "host": ("host",),
    "source": ("source", "ddsource"),
    "service": ("service",),
    "status": ("status",),
    "trace_id": ("trace_id",),
}
_MISSING = object()


@lru_cache(maxsize=1024)
def compile_search(text: str):
    """Parse once; `matches` and `search` take the text or this AST."""
    return parse(text)


def matches(query, event: dict) -> bool:
    node = compile_search(query) if isinstance(query, str) else query
    return _eval(node, event)


def search(query, events: Iterable[dict]) -> list[dict]:
    """The events that match `query`, in their order (a bag: duplicates kept)."""
    node = compile_search(query) if isinstance(query, str) else query
    return [e for e in events if _eval(node, e)]


# ---- the tree ---------------------------------------------------------------
def _eval(node, event: dict) -> bool:
    if isinstance(node, ast.And):
        return all(_eval(op, event) for op in node.operands)
    if isinstance(node, ast.Or):
        return any(_eval(op, event) for op in node.operands)
    if isinstance(node, ast.Not):
        return not _eval(node.operand, event)
    if isinstance(node, ast.Required):
        return _eval(node.operand, event)
    if isinstance(node, ast.FreeText):
        message = _message(event)
        if message is None:
            return False
        if isinstance(node.value, ast.Range):
            return _range(node.value, message, numeric_ok=False)
        return _word_match(node.value, message)
    if isinstance(node, ast.Exists):
        found = bool(_field_values(node.field, event))
        return found != node.missing
    if isinstance(node, ast.Match):
        if node.field.full_text:
            values = list(_all_values(event))
            message = _message(event)
            return any(_value_match(node.value, v, full_text=True) for v in values) or (
                message is not None
                and _value_tree(node.value, lambda leaf: _word_match_leaf(leaf, message))
            )
        values = _field_values(node.field, event)
        return any(_value_match(node.value, v) for v in values)
    if isinstance(node, ast.Cidr):
        networks = [ipaddress.ip_network(b, strict=False) for b in node.blocks]
        for value in _field_values(ast.Field(node.attribute, True), event):
            try:
                address = ipaddress.ip_address(str(value))
            except ValueError:
                continue
            if any(address in n for n in networks):
                return True
        return False
    raise TypeError(f"cannot evaluate {node!r}")


def _value_tree(value, leaf_test) -> bool:
    if isinstance(value, ast.ValueAnd):
        return all(_value_tree(v, leaf_test) for v in value.operands)
    if isinstance(value, ast.ValueOr):
        return any(_value_tree(v, leaf_test) for v in value.operands)
    if isinstance(value, ast.ValueNot):
        return not _value_tree(value.operand, leaf_test)
    return leaf_test(value)


def _value_match(value, actual, full_text: bool = False) -> bool:
    return _value_tree(value, lambda leaf: _leaf_match(leaf, actual, full_text))


def _leaf_match(leaf, actual, full_text: bool) -> bool:
    if isinstance(leaf, ast.Range):
        return _range(leaf, actual, numeric_ok=True)
    if isinstance(leaf, ast.Comparison):
        return _compare(leaf.op, actual, leaf.value)
    if isinstance(leaf, ast.Text):
        if full_text and isinstance(actual, str):
            return _word_match(leaf, actual)
        if leaf.is_wildcard:
            return _wildcard(leaf.raw, anchored=True).fullmatch(_as_text(actual)) is not None
        return _equal(actual, leaf.value)
    return False


def _word_match_leaf(leaf, message: str) -> bool:
    if isinstance(leaf, ast.Text):
        return _word_match(leaf, message)
    if isinstance(leaf, ast.Range):
        return _range(leaf, message, numeric_ok=False)
    return False


# ---- values -----------------------------------------------------------------
def _message(event: dict) -> str | None:
    message = event.get("message", _MISSING)
    if message is _MISSING or message is None:
        return None
    return message if isinstance(message, str) else json.dumps(message)


def _tags(event: dict) -> list[str]:
    tags = event.get("tags", event.get("ddtags", []))
    if isinstance(tags, str):
        tags = tags.split(",")
    return [str(t) for t in tags or []]


def _field_values(field: ast.Field, event: dict) -> list:
    """Every value `field` has in `event` (empty when it has none)."""
    name = field.path
    if field.attribute:
        # `@\"a.b\":x` names the key `a.b` itself, not the path a -> b.
        quoted = len(name) >= 2 and name[0] == name[-1] == '"'
        return _flatten(_lookup(event, [name[1:-1]] if quoted else name.split(".")))
    if name == "tags":
        return _tags(event)
    if name in RESERVED:
        return [event[k] for k in RESERVED[name] if k in event and event[k] is not None]
    out = []
    for tag in _tags(event):
        key, sep, value = tag.partition(":")
        if key == name:
            out.append(value if sep else "")
    return out


def _lookup(event, path: list[str]):
    current = event
    for part in path:
        if isinstance(current, dict) and part in current:
            current = current[part]
        elif isinstance(current, list):
            found = [c[part] for c in current if isinstance(c, dict) and part in c]
            if not found:
                return _MISSING
            current = found
        else:
            return _MISSING
    return current


def _flatten(value) -> list:
    if value is _MISSING or value is None:
        return []
    if isinstance(value, list):
        out = []
        for v in value:
            out.extend(_flatten(v))
        return out
    return [value]


def _all_values(event: dict):
    for key, value in event.items():
        if key in ("message", "tags", "ddtags"):
            continue
        for v in _flatten(value):
            if isinstance(v, dict):
                yield from _all_values(v)
            else:
                yield v


def _as_text(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def _as_number(value) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return None


def _parse_number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None


def _equal(actual, expected: str) -> bool:
    number = _as_number(actual)
    if number is not None:
        wanted = _parse_number(expected)
        return wanted is not None and wanted == number
    return _as_text(actual) == expected


def _compare(op: str, actual, raw: str) -> bool:
    number = _as_number(actual)
    bound = _parse_number(raw)
    if number is not None:
        if bound is None:
            return False
        left, right = number, bound
    else:
        text = _as_text(actual)
        text_number = _parse_number(text)
        if bound is not None and text_number is not None and not isinstance(actual, str):
            left, right = text_number, bound
        else:
            left, right = text, raw
    return {">": left > right, ">=": left >= right, "<": left < right, "<=": left <= right}[op]


def _range(rng: ast.Range, actual, numeric_ok: bool) -> bool:
    low, high = rng.low.strip('"'), rng.high.strip('"')
    number = _as_number(actual) if numeric_ok else None
    if number is not None:
        low_n = None if low == "*" else _parse_number(low)
        high_n = None if high == "*" else _parse_number(high)
        if (low != "*" and low_n is None) or (high != "*" and high_n is None):
            return False
        value, lo, hi = number, low_n, high_n
    else:
        value = _as_text(actual)
        lo = None if low == "*" else low
        hi = None if high == "*" else high
    if lo is not None and (value < lo or (value == lo and not rng.low_inclusive)):
        return False
    if hi is not None and (value > hi or (value == hi and not rng.high_inclusive)):
        return False
    return True


@lru_cache(maxsize=4096)
def _wildcard(raw: str, anchored: bool) -> re.Pattern:
    parts, escaped = [], False
    for ch in raw:
        if escaped:
            parts.append(re.escape(ch))
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == "*":
            parts.append(".*")
        elif ch == "?":
            parts.append(".")
        else:
            parts.append(re.escape(ch))
    body = "".join(parts)
    return re.compile(body if anchored else rf"(?<!\w){body}(?!\w)", re.DOTALL)


def _word_match(text: ast.Text, message: str) -> bool:
    """Whole-word (or phrase) search in the message; wildcards unless quoted."""
    if text.is_wildcard:
        return _wildcard(text.raw, anchored=False).search(message) is not None
    if text.raw == "*" and not text.quoted:
        return True
    pattern = rf"(?<!\w){re.escape(text.value)}(?!\w)"
    return re.search(pattern, message) is not None
