"""Grammar files: loading them, and parsing with lark.

One `.lark` file per dialect in `grammars/` is the single source of a dialect's
syntax.  The same text drives the `lark` library here (validation, AST
building) and llguidance (constrained decoding; see `nlq.constrain`), so it is
written in the part of Lark both accept: no terminal priorities, no templates,
only `%import common.*`.

Parsing uses lark's Earley parser with its dynamic lexer: it needs no terminal
priorities to tell the keyword `sum` from a metric called `summary`, because it
lexes in the context of the rule it is trying.
"""

from __future__ import annotations

import os
from functools import cache
from pathlib import Path

import lark
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, VisitError

from nlq.errors import NlqError, QueryError

GRAMMAR_DIR = Path(os.environ.get("NLQ_GRAMMARS", Path(__file__).resolve().parent.parent / "grammars"))


@cache
def grammar_text(file_name: str) -> str:
    path = GRAMMAR_DIR / file_name
    if not path.is_file():
        raise NlqError(f"grammar file missing: {path} (set NLQ_GRAMMARS to the grammars/ folder)")
    return path.read_text()


@cache
def lark_parser(file_name: str, start: str = "start") -> lark.Lark:
    return lark.Lark(
        grammar_text(file_name),
        start=start,
        parser="earley",
        lexer="dynamic",
        propagate_positions=True,
        maybe_placeholders=False,
    )


def parse_tree(
    file_name: str,
    text: str,
    start: str = "start",
    terminal_names: dict[str, str] | None = None,
) -> lark.Tree:
    """Parse `text` with the grammar in `file_name`; lark errors become `QueryError`s.

    `terminal_names` maps terminal names (`METRIC_NAME`) to words a person
    understands ("a metric name") for the "expected ..." part of the message.
    """
    parser = lark_parser(file_name, start)
    try:
        return parser.parse(text)
    except UnexpectedInput as exc:
        raise syntax_error(parser, exc, text, terminal_names or {}) from None
    except VisitError as exc:  # a transformer inside lark raised
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise


def syntax_error(
    parser: lark.Lark, exc: UnexpectedInput, text: str, terminal_names: dict[str, str]
) -> QueryError:
    if isinstance(exc, UnexpectedEOF) or getattr(exc, "pos_in_stream", None) is None:
        position = len(text)
    else:
        position = exc.pos_in_stream
    position = min(position, len(text))
    allowed = getattr(exc, "allowed", None) or getattr(exc, "expected", None) or set()
    expected = sorted({describe_terminal(parser, name, terminal_names) for name in allowed})
    if position >= len(text.rstrip()):
        message = "the query ends too early" if text.strip() else "the query is empty"
    elif isinstance(exc, UnexpectedCharacters):
        message = f"unexpected {text[position]!r}"
    else:
        token = getattr(exc, "token", None)
        message = f"unexpected {str(token)!r}" if token else "unexpected input"
    return QueryError(message, query=text, position=position, expected=expected)


def describe_terminal(parser: lark.Lark, name: str, terminal_names: dict[str, str]) -> str:
    if name in terminal_names:
        return terminal_names[name]
    try:
        pattern = parser.get_terminal(name).pattern
    except KeyError:
        return name.lower().replace("_", " ")
    if isinstance(pattern, lark.lexer.PatternStr):
        return f"`{pattern.value}`"
    return name.lower().strip("_").replace("_", " ")
