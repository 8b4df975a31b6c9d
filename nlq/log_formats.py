"""Which parser a log stream's lines need, and queries that pick the wrong one.

A Loki stream's lines are JSON, logfmt or plain text, and the parser stage must
match: `{service="cart"} | json` over logfmt lines gives every line a
`__error__="JSONParserErr"` and extracts nothing, so a field filter after it
keeps no line and an `unwrap` fails.  The query is valid LogQL (Loki runs it),
and nothing in its text says it is wrong; only the catalog can know, so the
catalog records each stream's format (`Catalog.log_formats`), by the one stream
label that decides it:

    {"service": {"cart": "logfmt", "checkout": "json", "auth": "text"}}

`detect_format` reads it off sample lines (the snapshot's catalog is derived so;
an import from a live Loki can do the same with a few lines per stream).
`parser_mismatch` finds a query whose parser contradicts it; translate() retries
such an answer with the reason fed back, as it does a degenerate one.

    >>> from nlq.catalog import Catalog
    >>> from nlq.dialects import get
    >>> catalog = Catalog("logql", log_formats={"service": {"cart": "logfmt"}})
    >>> query = '{service="cart"} | json | method="GET"'
    >>> parser_mismatch(get("logql").parse(query), catalog).message
    'service cart writes logfmt lines: `| json` extracts nothing from them; use `| logfmt`'
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from nlq.degenerate import Finding, ast_nodes, span_of

FORMATS = ("json", "logfmt", "text")
#: the parser stage each format needs (plain text has none: line filters, or | pattern / | regexp)
PARSER_OF = {"json": "json", "logfmt": "logfmt"}
#: the LogQL AST's parser stages (nlq.dialects.logql.ast) and the parser each one is
_PARSER_STAGES = {"JsonParser": "json", "LogfmtParser": "logfmt"}
#: one key=value pair of a logfmt line, the value bare or quoted
LOGFMT_PAIR = re.compile(r'([A-Za-z_][\w.\-]*)=("(?:[^"\\]|\\.)*"|\S*)')


def detect_format(line: str) -> str:
    """How `| json` / `| logfmt` would see the line: `json` for a JSON object, `logfmt` when
    key=value pairs cover nearly all of it, else `text`.

    >>> detect_format('{"level":"info"}'), detect_format('ts=1 level=info msg="ok"')
    ('json', 'logfmt')
    >>> detect_format('2026-11-23T10:00:00Z INFO [auth] GET /login 200 trace_id=ab12')
    'text'
    """
    text = line.strip()
    if text.startswith("{"):
        try:
            if isinstance(json.loads(text), dict):
                return "json"
        except ValueError:
            pass
    pairs = LOGFMT_PAIR.findall(text)
    if len(pairs) >= 2:
        covered = sum(len(k) + 1 + len(v) for k, v in pairs) + len(pairs) - 1
        if covered >= 0.8 * len(text):
            return "logfmt"
    return "text"


def _flatten_json(prefix: str, value: object, into: dict[str, set[str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten_json(f"{prefix}_{key}" if prefix else str(key), inner, into)
    elif isinstance(value, list):
        return  # `| json` skips arrays
    else:
        into[prefix].add(json.dumps(value) if isinstance(value, bool) or value is None else str(value))


def line_fields(line: str, into: dict[str, set[str]]) -> str:
    """Add the fields `| json` / `| logfmt` extract from `line` to `into` (name -> values); returns
    the line's format.  `| json` flattens nested objects with `_` and skips arrays, as Loki does.

    >>> fields = defaultdict(set)
    >>> line_fields('{"a": {"b": 1}, "ok": true}', fields), dict(fields)
    ('json', {'a_b': {'1'}, 'ok': {'true'}})
    """
    kind = detect_format(line)
    if kind == "json":
        _flatten_json("", json.loads(line), into)
    elif kind == "logfmt":
        for key, value in LOGFMT_PAIR.findall(line):
            into[key].add(value[1:-1] if value.startswith('"') and value.endswith('"') else value)
    return kind


def stream_formats(streams: Iterable[tuple[dict[str, str], str]]) -> dict[str, dict[str, str]]:
    """The stream label that decides the format (each value always one format), with its values' formats.

    Of the labels that decide it, the one with the fewest values (`service` rather than `pod`);
    empty when none does, or when only a label with one value does (it tells nothing per stream).

    >>> stream_formats([({"service": "a", "pod": "a-1"}, "json"), ({"service": "a", "pod": "a-2"}, "json"),
    ...                 ({"service": "b", "pod": "b-1"}, "logfmt")])
    {'service': {'a': 'json', 'b': 'logfmt'}}
    """
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))
    unlabelled: set[str] = set()  # labels some stream lacks cannot decide every stream
    streams = list(streams)
    for labels, fmt in streams:
        for key, value in labels.items():
            seen[key][value].add(fmt)
    for labels, _ in streams:
        unlabelled |= set(seen) - set(labels)
    deciding = [key for key, values in seen.items()
                if key not in unlabelled and len(values) > 1 and all(len(f) == 1 for f in values.values())]
    if not deciding:
        return {}
    best = min(deciding, key=lambda key: (len(seen[key]), key))
    return {best: {value: next(iter(fmts)) for value, fmts in sorted(seen[best].items())}}


def parser_mismatch(node: Any, catalog: Any) -> Finding | None:
    """The first log query in `node` (a LogQL AST) whose parser stage contradicts its stream's format."""
    formats = getattr(catalog, "log_formats", None) or {}
    if not formats:
        return None
    for item in ast_nodes(node):
        selector, stages = getattr(item, "selector", None), getattr(item, "stages", None)
        if selector is None or stages is None:
            continue
        known = {(m.name, m.value, formats[m.name][m.value]) for m in selector.matchers
                 if m.op == "=" and m.name in formats and m.value in formats[m.name]}
        for label, value, fmt in sorted(known):
            for stage in stages:
                parser = _PARSER_STAGES.get(type(stage).__name__)
                if parser and parser != PARSER_OF.get(fmt):
                    advice = f"use `| {PARSER_OF[fmt]}`" if fmt in PARSER_OF else \
                        'filter the line with |= "text", or parse it with | pattern'
                    return Finding(f"{label} {value} writes {_format_words(fmt)} lines: `| {parser}` extracts "
                                   f"nothing from them; {advice}", span_of(stage))
    return None


def _format_words(fmt: str) -> str:
    return {"text": "plain-text"}.get(fmt, fmt)


__all__ = ["FORMATS", "LOGFMT_PAIR", "detect_format", "line_fields", "parser_mismatch", "stream_formats"]
