"""A small Go text/template interpreter for line_format and label_format.

Covers what LogQL queries use: `{{ .label }}`, pipelines (`{{ .a | upper }}`),
function calls with string, number and field arguments, parentheses,
`__line__` and `__timestamp__`.  A missing label renders empty.
"""

from __future__ import annotations

import base64
import math
import re
import urllib.parse

_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
_TOKEN = re.compile(
    r'\s*("(?:\\.|[^"\\])*"|`[^`]*`|\(|\)|\||[.$][\w.]*|-?\d+(?:\.\d+)?|[A-Za-z_]\w*)'
)


def _go_unquote(token: str) -> str:
    if token.startswith("`"):
        return token[1:-1]
    return token[1:-1].encode("latin-1", "backslashreplace").decode("unicode_escape")


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return 0.0


def _printf(fmt: str, *args) -> str:
    py = re.sub(r"%v", "%s", fmt)
    try:
        return py % tuple(args)
    except (TypeError, ValueError):
        return fmt


def _int_or_float(x: float):
    return int(x) if x == int(x) else x


FUNCTIONS = {
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "ToUpper": lambda s: str(s).upper(),
    "ToLower": lambda s: str(s).lower(),
    "title": lambda s: str(s).title(),
    "trim": lambda s: str(s).strip(),
    "TrimSpace": lambda s: str(s).strip(),
    "trimAll": lambda cut, s: str(s).strip(cut),
    "Trim": lambda s, cut: str(s).strip(cut),
    "trimPrefix": lambda p, s: str(s).removeprefix(p),
    "trimSuffix": lambda p, s: str(s).removesuffix(p),
    "TrimPrefix": lambda s, p: str(s).removeprefix(p),
    "TrimSuffix": lambda s, p: str(s).removesuffix(p),
    "replace": lambda old, new, s: str(s).replace(old, new),
    "Replace": lambda s, old, new, n: str(s).replace(old, new, int(n) if int(n) >= 0 else -1),
    "contains": lambda sub, s: sub in str(s),
    "hasPrefix": lambda p, s: str(s).startswith(p),
    "hasSuffix": lambda p, s: str(s).endswith(p),
    "repeat": lambda n, s: str(s) * int(n),
    "substr": lambda a, b, s: str(s)[int(a) : int(b)],
    "trunc": lambda n, s: str(s)[: int(n)],
    "printf": _printf,
    "print": lambda *a: "".join(str(x) for x in a),
    "len": lambda s: len(s),
    "default": lambda d, v="": v if v not in ("", None) else d,
    "count": lambda rx, s: len(re.findall(rx, str(s))),
    "regexReplaceAll": lambda rx, s, repl: re.sub(rx, re.sub(r"\$(\d+)", r"\\\1", repl), str(s)),
    "regexReplaceAllLiteral": lambda rx, s, repl: re.sub(rx, lambda _m: repl, str(s)),
    "urlencode": lambda s: urllib.parse.quote_plus(str(s)),
    "urldecode": lambda s: urllib.parse.unquote_plus(str(s)),
    "b64enc": lambda s: base64.b64encode(str(s).encode()).decode(),
    "b64dec": lambda s: base64.b64decode(str(s)).decode(errors="replace"),
    "add": lambda *a: _int_or_float(sum(_num(x) for x in a)),
    "sub": lambda a, b: _int_or_float(_num(a) - _num(b)),
    "mul": lambda *a: _int_or_float(math.prod(_num(x) for x in a)),
    "div": lambda a, b: int(_num(a) // _num(b)) if _num(b) else 0,
    "mod": lambda a, b: int(_num(a) % _num(b)) if _num(b) else 0,
    "addf": lambda *a: sum(_num(x) for x in a),
    "subf": lambda a, *b: _num(a) - sum(_num(x) for x in b),
    "mulf": lambda *a: math.prod(_num(x) for x in a),
    "divf": lambda a, *b: _num(a) / math.prod(_num(x) for x in b),
    "max": lambda *a: _int_or_float(max(_num(x) for x in a)),
    "min": lambda *a: _int_or_float(min(_num(x) for x in a)),
    "ceil": lambda x: math.ceil(_num(x)),
    "floor": lambda x: math.floor(_num(x)),
    "round": lambda x, *_: round(_num(x)),
    "int": lambda x: int(_num(x)),
    "float64": lambda x: _num(x),
    "eq": lambda a, *b: any(a == x for x in b),
    "ne": lambda a, b: a != b,
    "lt": lambda a, b: a < b,
    "gt": lambda a, b: a > b,
    "le": lambda a, b: a <= b,
    "ge": lambda a, b: a >= b,
    "not": lambda a: not a,
}


class _Context:
    def __init__(self, labels: dict[str, str], line: str, ts: int):
        self.labels = labels
        self.line = line
        self.ts = ts


def _parse_expr(tokens: list[str], pos: int, ctx: _Context):
    """One pipeline: commands separated by |; returns (value, next position)."""
    value = None
    first = True
    while pos < len(tokens) and tokens[pos] != ")":
        args = []
        while pos < len(tokens) and tokens[pos] not in ("|", ")"):
            tok = tokens[pos]
            if tok == "(":
                sub, pos = _parse_expr(tokens, pos + 1, ctx)
                args.append(("v", sub))
                pos += 1  # the closing )
                continue
            args.append(("t", tok))
            pos += 1
        if not first:
            args.append(("v", value))
        value = _call(args, ctx)
        first = False
        if pos < len(tokens) and tokens[pos] == "|":
            pos += 1
    return value, pos


def _atom(kind: str, tok, ctx: _Context):
    if kind == "v":
        return tok
    if tok[0] in '"`':
        return _go_unquote(tok)
    if tok.startswith("."):
        return ctx.labels.get(tok[1:], "") if len(tok) > 1 else ctx.labels
    if tok == "__line__":
        return ctx.line
    if tok == "__timestamp__":
        return ctx.ts
    if re.fullmatch(r"-?\d+(\.\d+)?", tok):
        return float(tok) if "." in tok else int(tok)
    if tok in ("true", "false"):
        return tok == "true"
    return tok


def _call(args: list, ctx: _Context):
    if not args:
        return ""
    kind, head = args[0]
    if kind == "t" and head in FUNCTIONS:
        values = [_atom(k, t, ctx) for k, t in args[1:]]
        return FUNCTIONS[head](*values)
    return _atom(kind, head, ctx)


def _to_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value == int(value) and abs(value) < 1e21:
        return str(int(value)) if not math.isinf(value) else str(value)
    return str(value)


def render(template: str, labels: dict[str, str], line: str, ts: int) -> str:
    ctx = _Context(labels, line, ts)

    def action(match: re.Match) -> str:
        tokens = [t for t in _TOKEN.findall(match.group(1))]
        value, _ = _parse_expr(tokens, 0, ctx)
        return _to_text(value)

    return _ACTION.sub(action, template)
