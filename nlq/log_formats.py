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

The same holds for fields.  `Catalog.log_fields` is the union over every stream,
so `| logfmt | unwrap bytes(size)` is right for cart and finds nothing on a JSON
service that logs `bytes`.  `Catalog.stream_fields` records the fields of each
program's lines (by `kind_label`, the label that names the program), and
`missing_field` finds a query that filters or unwraps a field its stream never
carries.

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
from collections.abc import Callable, Iterable
from functools import partial
from typing import Any

from nlq.degenerate import Finding, ast_nodes, span_of

FORMATS = ("json", "logfmt", "text")
#: the parser stage each format needs (plain text has none: line filters, or | pattern / | regexp)
PARSER_OF = {"json": "json", "logfmt": "logfmt"}
#: the LogQL AST's parser stages (nlq.dialects.logql.ast) and the parser each one is
_PARSER_STAGES = {"JsonParser": "json", "LogfmtParser": "logfmt"}
#: labels that usually name the program behind a stream, best first
KIND_LABELS = ("service_name", "service", "app", "application", "job", "container", "component")
#: labels Loki adds to every parsed line: a filter on them is never on a missing field
_BUILTIN_FIELDS = {"__error__", "__error_details__", "__line__", "__timestamp__", "__stream_shard__"}
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


def stream_formats(streams: Iterable[tuple[dict[str, str], str]], label: str | None) -> dict[str, dict[str, str]]:
    """`{label: {value: format}}` for each program (a value of `label`, see `kind_label`) whose
    lines all share one format; a program that mixes formats is left out, so nothing claims
    a parser for it.  Empty when fewer than two programs are known (one tells nothing per stream).

    >>> stream_formats([({"service": "a", "pod": "a-1"}, "json"), ({"service": "a", "pod": "a-2"}, "json"),
    ...                 ({"service": "b", "pod": "b-1"}, "logfmt"), ({"service": "c"}, "json"),
    ...                 ({"service": "c"}, "text")], "service")
    {'service': {'a': 'json', 'b': 'logfmt'}}
    """
    seen: dict[str, set[str]] = defaultdict(set)
    for labels, fmt in streams:
        if label in labels:
            seen[labels[label]].add(fmt)
    single = {value: next(iter(fmts)) for value, fmts in sorted(seen.items()) if len(fmts) == 1}
    return {label: single} if label and len(single) > 1 else {}


def kind_label(streams: list[dict[str, str]]) -> str | None:
    """The label whose values name the programs behind the streams: a conventional name
    (`service`, `app`, `job`, ...), else the label with the fewest values above one.

    >>> kind_label([{"app": "a", "pod": "a-1"}, {"app": "b", "pod": "b-1"}])
    'app'
    """
    names = {k for s in streams for k in s}
    for preferred in KIND_LABELS:
        if preferred in names:
            return preferred
    counts = {k: len({s.get(k) for s in streams}) for k in names}
    multi = [k for k, c in counts.items() if c > 1]
    return min(multi or names, key=lambda k: (counts[k], k)) if names else None


def fields_by_stream(streams: Iterable[tuple[dict[str, str], Iterable[str]]],
                     label: str | None) -> dict[str, dict[str, list[str]]]:
    """`{label: {value: the fields its streams' lines carry}}` from (stream labels, field names)
    pairs; empty without a label or when it has a single value (then it tells nothing per stream).

    >>> fields_by_stream([({"service": "a"}, {"bytes"}), ({"service": "b"}, {"size"}),
    ...                   ({"service": "a"}, {"status"})], "service")
    {'service': {'a': ['bytes', 'status'], 'b': ['size']}}
    """
    seen: dict[str, set[str]] = defaultdict(set)
    for labels, names in streams:
        if label in labels:
            seen[labels[label]].update(names)
    if len(seen) < 2:
        return {}
    return {label: {value: sorted(names) for value, names in sorted(seen.items())}}


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


#: pipeline stages after which a label filter may name a label the stage itself made
_NAMING_STAGES = {"RegexpParser", "PatternParser", "UnpackParser", "LabelFormat", "LineFormat"}


def missing_field(node: Any, catalog: Any) -> Finding | None:
    """The first field a LogQL query filters on or unwraps after `| json` / `| logfmt` that the
    lines of its stream (`{service="cart"}`) never carry, by `Catalog.stream_fields`.

    Such a filter keeps no line and such an unwrap has no sample, and the query still
    parses and passes the catalog check, which knows only the union of the fields.
    Stream labels, Loki's own labels (`__error__`) and `x_extracted` (a parsed field
    that clashed with a stream label) are never missing; after a stage that makes
    labels (`| regexp`, `| pattern`, `| label_format`, extractions) nothing is judged.
    """
    by_label = getattr(catalog, "stream_fields", None) or {}
    if not by_label:
        return None
    stream_labels = set(getattr(catalog, "log_labels", {}) or {})
    for item in ast_nodes(node):
        selector, stages = getattr(item, "selector", None), getattr(item, "stages", None)
        if selector is None or stages is None:
            continue
        streams = [(m.name, m.value, set(by_label[m.name][m.value])) for m in selector.matchers
                   if m.op == "=" and m.name in by_label and m.value in by_label[m.name]]
        if not streams:
            continue
        label, value, carried = streams[0]
        for other in streams[1:]:
            carried &= other[2]
        missing = partial(_never_carried, carried=frozenset(carried), stream_labels=frozenset(stream_labels))
        if found := _first_missing(item, missing):
            part, outcome = found
            return _missing(label, value, part, carried, outcome)
    return None


def _first_missing(item: Any, missing: Callable[[str], bool]) -> tuple[Any, str] | None:
    """(the part naming a missing field, what that does) in one log query or range, or None."""
    parsed = False
    for stage in item.stages:
        kind = type(stage).__name__
        if kind in _NAMING_STAGES or getattr(stage, "extractions", ()):
            return None  # the stage makes labels the catalog cannot know
        parsed = parsed or kind in _PARSER_STAGES
        if parsed and kind == "LabelFilterStage" and (leaf := _keeps_nothing(stage.filter, missing)):
            return leaf, "the filter keeps no line"
    unwrap = getattr(item, "unwrap", None)
    if parsed and unwrap is not None:
        if missing(unwrap.name):
            return unwrap, "unwrap finds no value"
        for expr in unwrap.post_filters:
            if leaf := _keeps_nothing(expr, missing):
                return leaf, "the filter keeps no line"
    return None


def _never_carried(name: str, carried: frozenset[str], stream_labels: frozenset[str]) -> bool:
    base = name.removesuffix("_extracted")
    return not (name in carried or name in _BUILTIN_FIELDS or name in stream_labels
                or (base != name and base in stream_labels))


def _keeps_nothing(expr: Any, missing: Callable[[str], bool]) -> Any:
    """The comparison that makes label filter `expr` keep no line because its field is
    missing, or None.  A missing field reads as "": `x != "a"` and `x = ""` keep every line,
    and an `or` keeps what its other side keeps."""
    if type(expr).__name__ == "AndFilter":
        return _keeps_nothing(expr.left, missing) or _keeps_nothing(expr.right, missing)
    if type(expr).__name__ == "OrFilter":
        left = _keeps_nothing(expr.left, missing)
        return left if left and _keeps_nothing(expr.right, missing) else None
    if not missing(expr.name):
        return None
    if type(expr).__name__ == "StringFilter":
        if expr.op in ("!=", "!~"):
            return None
        try:
            if re.fullmatch(expr.value if expr.op == "=~" else re.escape(expr.value), ""):
                return None
        except re.error:
            return None
    return expr


def _missing(label: str, value: str, part: Any, carried: set[str], outcome: str) -> Finding:
    fields = ", ".join(sorted(carried)[:12]) + (", ..." if len(carried) > 12 else "")
    return Finding(f"no line of {label} {value} carries a field `{part.name}`, so {outcome}; "
                   f"its fields: {fields or 'none (plain text)'}", span_of(part))


__all__ = ["FORMATS", "KIND_LABELS", "LOGFMT_PAIR", "detect_format", "fields_by_stream", "kind_label",
           "line_fields", "missing_field", "parser_mismatch", "stream_formats"]
