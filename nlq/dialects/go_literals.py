"""Go literals as PromQL and LogQL write them (both languages are parsed by Go code).

String literals follow Go's rules: a backtick string is raw, a double-quoted
one takes Go's escapes (`\\n`, `\\x41`, `\\u00e9`, octal `\\101`, ...).  Numbers
are printed in the shortest form that reads back to the same float.
"""

from __future__ import annotations

import math
import re

from nlq.errors import QueryError

_SIMPLE_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    '"': '"',
    "'": "'",
}
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.S)


def unquote(raw: str, query: str = "", start: int = 0) -> str:
    """The value of a Go string literal `raw` (with its quotes) found at `start` in `query`.

    An escape Go does not know raises a `QueryError` pointing at it.

    >>> unquote('"a\\\\tb"')
    'a\\tb'
    """
    if raw.startswith("`"):
        return raw[1:-1]

    def replace(match: re.Match) -> str:
        esc = match.group(1)
        if esc in _SIMPLE_ESCAPES:
            return _SIMPLE_ESCAPES[esc]
        if esc[0] in "xuU" and len(esc) > 1:
            return chr(int(esc[1:], 16))
        if len(esc) == 3 and esc.isdigit():
            return chr(int(esc, 8))
        position = start + 1 + match.start()
        raise QueryError(
            f"unknown escape sequence \\{esc}",
            query=query,
            position=position,
            end=position + 2,
            hint="inside double quotes write a backslash as \\\\, or use a `raw string`",
        )

    return _ESCAPE.sub(replace, raw[1:-1])


def quote(value: str) -> str:
    """A double-quoted Go string literal whose value is `value`."""
    out = []
    for ch in value:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        elif 0xD800 <= ord(ch) <= 0xDFFF:  # a lone surrogate cannot be written as text
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def format_number(value: float) -> str:
    """`5`, `0.25`, `1e+20`, `NaN`, `+Inf`: integers without a point, others as Python's repr."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)
