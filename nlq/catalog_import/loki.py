"""A LogQL catalog from Loki's HTTP API.

1. `GET /loki/api/v1/labels` and `/loki/api/v1/label/<name>/values` (with
   `start`/`end` in nanoseconds): the stream labels and their values;
2. `POST /loki/api/v1/series` with `match[]={<label>=~".+"}`: the streams, to
   count how many carry each value (the most frequent are kept when a label
   has more than --max-values) and to group streams into *kinds*: one kind per
   value of the label that names the emitting program (`service_name`,
   `service`, `app`, `job`, `container`, or the label with fewest values);
3. per stream kind (the streams of one program and level: labels that vary no more
   than the program label, so not `pod`), `GET /loki/api/v1/query_range`, `limit` lines
   (newest first): each line is JSON (an object), logfmt (`k=v` pairs that
   cover the line) or plain text; the fields `| json` / `| logfmt` would
   extract are collected with their values, whose kinds (number, duration,
   bytes, string) the catalog records, and so is each program's line format
   where all its lines share one (`log_formats`: the parser a query needs).

`| json` flattens nested objects with `_` (`{"a":{"b":1}}` gives `a_b`), as
Loki does.  Plain-text lines give no fields.
"""

from __future__ import annotations

import json
from collections import defaultdict

from nlq.catalog import Catalog
from nlq.catalog_import.common import (
    DEFAULT_MAX_VALUES,
    TimeWindow,
    log_fields,
    progress,
    top_values,
)
from nlq.catalog_import.http import HttpClient, ImportFailure, require
from nlq.log_formats import fields_by_stream, kind_label, line_fields, stream_formats

SYSTEM = "Loki server"
DEFAULT_LINES_PER_KIND = 200


def _ns(seconds: float) -> str:
    return str(int(seconds * 1_000_000_000))


def _window(window: TimeWindow) -> dict[str, str]:
    return {"start": _ns(window.start_s), "end": _ns(window.end_s)}


def _data(payload: object, what: str) -> object:
    require(isinstance(payload, dict) and "data" in payload,
            f"{what}: no Loki envelope ({{\"status\": ..., \"data\": ...}}); is this the Loki URL?", SYSTEM)
    if payload.get("status", "success") != "success":
        raise ImportFailure(f"{what}: {payload.get('error', payload.get('status'))}")
    return payload["data"]


def _strings(value: object, what: str) -> list[str]:
    require(isinstance(value, list) and all(isinstance(v, str) for v in value), f"{what}: not a list of strings",
            SYSTEM)
    return value


def stream_kinds(streams: list[dict[str, str]], label: str | None) -> list[tuple[tuple[str, str], ...]]:
    """Streams grouped by the labels that vary no more than `label` does (service, level; not pod).

    Sampling per kind rather than per program finds fields that only some
    line kinds carry (an error's fields in `level="error"` streams).
    """
    if not label:
        return []
    variety = {k: len({s[k] for s in streams if k in s}) for s in streams for k in s}
    keep = {k for k, n in variety.items() if n <= variety[label]}
    kinds = {tuple(sorted((k, v) for k, v in s.items() if k in keep)) for s in streams if label in s}
    return sorted(kinds)


def import_loki(
    client: HttpClient,
    window: TimeWindow,
    *,
    max_values: int = DEFAULT_MAX_VALUES,
    lines_per_kind: int = DEFAULT_LINES_PER_KIND,
    show_progress: bool = True,
) -> tuple[Catalog, list[str]]:
    """(the LogQL catalog, notes)."""
    client.system = SYSTEM
    params = _window(window)
    names = sorted(n for n in _strings(_data(client.get_json("/loki/api/v1/labels", params), "labels"),
                                       "/loki/api/v1/labels") if not n.startswith("__"))
    values: dict[str, list[str]] = {}
    for name in progress(names, "labels", len(names), show_progress):
        path = f"/loki/api/v1/label/{name}/values"
        values[name] = _strings(_data(client.get_json(path, params), f"values of {name}"), path)
    streams: list[dict[str, str]] = []
    if names:
        matchers = [("match[]", f'{{{name}=~".+"}}') for name in names]
        data = _data(client.post_form("/loki/api/v1/series", [*matchers, *params.items()]), "series")
        require(isinstance(data, list) and all(isinstance(s, dict) for s in data),
                "/loki/api/v1/series: data is not a list of label sets", SYSTEM)
        streams = list({json.dumps(s, sort_keys=True): s for s in data}.values())
    counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for stream in streams:
        for key, value in stream.items():
            counts[key][value] += 1
    catalog = Catalog("logql", source=client.base_url)
    notes = []
    for name in names:
        observed = {v: counts[name].get(v, 0) for v in values[name]}
        kept, cut = top_values(observed, max_values)
        catalog.log_labels[name] = kept
        if cut:
            notes.append(f"label {name}: {len(observed)} values, kept the {max_values} most frequent")
    fields: dict[str, set[str]] = defaultdict(set)
    formats: list[tuple[dict[str, str], str]] = []  # (a kind's labels, the format of one of its lines)
    carried: list[tuple[dict[str, str], set[str]]] = []  # (a kind's labels, the fields of its lines)
    label = kind_label(streams)
    kinds = stream_kinds(streams, label)
    for kind in progress(kinds, "sample lines", len(kinds), show_progress):
        selector = "{" + ", ".join(f'{k}="{_escape(v)}"' for k, v in kind) + "}"
        query = {"query": selector, "limit": str(lines_per_kind), "direction": "backward", **params}
        data = _data(client.get_json("/loki/api/v1/query_range", query), f"lines of {selector}")
        require(isinstance(data, dict) and isinstance(data.get("result"), list),
                "/loki/api/v1/query_range: data.result is not a list", SYSTEM)
        kind_fields: dict[str, set[str]] = defaultdict(set)
        for stream in data["result"]:
            require(isinstance(stream, dict) and isinstance(stream.get("values"), list),
                    "/loki/api/v1/query_range: a stream without values", SYSTEM)
            for entry in stream["values"]:
                require(isinstance(entry, list) and len(entry) >= 2 and isinstance(entry[1], str),
                        "/loki/api/v1/query_range: a value that is not [ts, line]", SYSTEM)
                formats.append((dict(kind), line_fields(entry[1], kind_fields)))
        carried.append((dict(kind), set(kind_fields)))
        for name, seen in kind_fields.items():
            fields[name] |= seen
    catalog.log_fields = log_fields(fields)
    catalog.stream_fields = fields_by_stream(carried, label)
    catalog.log_formats = stream_formats(formats, label)  # the parser each program's lines need
    if label:
        by_program: dict[str, set[str]] = defaultdict(set)
        for labels, fmt in formats:
            by_program[labels[label]].add(fmt)
        shown = ", ".join(f"{k}: {'/'.join(sorted(f))}" for k, f in sorted(by_program.items()))
        notes.append(f"line formats by {label}: {shown or 'no lines in the window'}")
    if not names:
        notes.append("no stream has lines in the window: widen it with --since or --start/--end")
    return catalog, notes


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"')
