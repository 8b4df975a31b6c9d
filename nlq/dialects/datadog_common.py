"""Pieces shared by the two Datadog dialects: spans, did-you-mean, numbers."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

from lark import Token, Tree

from nlq.errors import QueryError

Span = tuple[int, int] | None


def span_of(item: Tree | Token | None) -> Span:
    """(start, end) character offsets of a lark tree or token, when lark knows them."""
    if isinstance(item, Token):
        if item.start_pos is None:
            return None
        return (item.start_pos, item.end_pos)
    if isinstance(item, Tree):
        meta = item.meta
        if getattr(meta, "empty", True):
            return None
        return (meta.start_pos, meta.end_pos)
    return None


def unescape(raw: str) -> str:
    r"""Drop the backslash of each escape: `hello\:world` -> `hello:world`."""
    out, escaped = [], False
    for ch in raw:
        if escaped:
            out.append(ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        else:
            out.append(ch)
    return "".join(out)


def did_you_mean(name: str, known: Iterable[str]) -> str | None:
    """A hint naming the closest known spelling, or None."""
    close = difflib.get_close_matches(name, sorted(set(known)), n=1, cutoff=0.6)
    return f"did you mean {close[0]!r}?" if close else None


def format_number(value: float) -> str:
    """`60` for 60.0, `0.5` for 0.5: the shortest text that reads back as `value`."""
    if value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(value)


def semantic_error(
    message: str, text: str, node, hint: str | None = None, kind: str = "semantic"
) -> QueryError:
    """A `QueryError` whose caret covers `node.span` (the whole query when it has none)."""
    span = getattr(node, "span", None)
    return QueryError(
        message,
        query=text,
        position=span[0] if span else None,
        end=span[1] if span else None,
        hint=hint,
        kind=kind,
    )
