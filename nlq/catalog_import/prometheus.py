"""A PromQL catalog from any server that speaks the Prometheus HTTP API.

Calls (Prometheus, Thanos, Mimir, VictoriaMetrics all answer them):

1. `GET /api/v1/label/__name__/values?start&end`: the metric names in the window;
2. `GET /api/v1/metadata`: type, help and unit per metric *family*;
3. per metric, `POST /api/v1/series` with `match[]={__name__="m"}`, `start`,
   `end` and `limit`: its label sets, counted to find each label's values.

Metadata gaps are filled from names.  `/api/v1/metadata` only knows what the
server's *active scrape targets* expose: a server fed by remote write or by
imported blocks, or a metric from a recording rule, has none.  Then the type
comes from the name and labels (`_total` counter; `_bucket` with `le` plus
its `_sum`/`_count` a histogram; a `quantile` label a summary; else gauge) and
the unit from the suffix (`_seconds`, `_bytes`, `_ratio`); help stays empty.
Family names map to queryable names as Prometheus does: counter family `x`
covers `x_total`, histogram family `x` covers `x_bucket`, `x_sum`, `x_count`.
"""

from __future__ import annotations

from collections import defaultdict

from nlq.catalog import Catalog, Metric, infer_metric_type, infer_unit
from nlq.catalog_import.common import DEFAULT_MAX_VALUES, TimeWindow, progress, top_values
from nlq.catalog_import.http import HttpClient, ImportFailure, require

SYSTEM = "Prometheus API server"
#: series returned per metric and call at most (servers before 2.51 ignore it)
DEFAULT_SERIES_LIMIT = 10_000
#: metrics asked for per /api/v1/series call
METRICS_PER_CALL = 1
SUFFIXES = ("_bucket", "_sum", "_count", "_total", "_created")


def _data(payload: object, what: str) -> object:
    """The `data` of a Prometheus API envelope, or a clear error."""
    require(isinstance(payload, dict) and "status" in payload,
            f"{what}: no Prometheus API envelope ({{\"status\": ..., \"data\": ...}}); "
            "is this the server's root URL?", SYSTEM)
    if payload["status"] != "success":
        raise ImportFailure(f"{what}: {payload.get('errorType', 'error')}: {payload.get('error', '')}")
    require("data" in payload, f"{what}: envelope without data", SYSTEM)
    return payload["data"]


def _window(window: TimeWindow) -> dict[str, str]:
    return {"start": f"{window.start_s:.3f}", "end": f"{window.end_s:.3f}"}


def metric_names(client: HttpClient, window: TimeWindow) -> list[str]:
    names = _data(client.get_json("/api/v1/label/__name__/values", _window(window)), "metric names")
    require(isinstance(names, list) and all(isinstance(n, str) for n in names),
            "/api/v1/label/__name__/values: data is not a list of names", SYSTEM)
    return sorted(names)


def metadata(client: HttpClient) -> dict[str, dict]:
    """family -> {type, help, unit} (the first entry where targets disagree)."""
    data = _data(client.get_json("/api/v1/metadata"), "metadata")
    require(isinstance(data, dict), "/api/v1/metadata: data is not an object", SYSTEM)
    out = {}
    for family, entries in data.items():
        if isinstance(entries, list) and entries and isinstance(entries[0], dict):
            out[family] = entries[0]
    return out


def series_labels(client: HttpClient, name: str, window: TimeWindow, limit: int) -> tuple[list[dict], bool]:
    """The label sets of metric `name` in the window; True when the server cut them."""
    params = [("match[]", f'{{__name__="{name}"}}'), *_window(window).items(), ("limit", str(limit))]
    payload = client.post_form("/api/v1/series", params)
    data = _data(payload, f"series of {name}")
    require(isinstance(data, list) and all(isinstance(s, dict) for s in data),
            "/api/v1/series: data is not a list of label sets", SYSTEM)
    warnings = payload.get("warnings") or []
    cut = len(data) >= limit > 0 or any("truncated" in str(w) for w in warnings)
    return data, cut


def resolve_type(name: str, meta: dict[str, dict], names: set[str], label_names: set[str]) -> tuple[str, str | None, dict]:
    """(type, family, metadata entry) for a queryable name."""
    if name in meta:
        entry = meta[name]
        type_ = _prom_type(entry.get("type"))
        family = name if type_ in ("histogram", "summary") else None
        return type_, family, entry
    for suffix in SUFFIXES:
        base = name[: -len(suffix)] if name.endswith(suffix) else None
        if base and base in meta:
            type_ = _prom_type(meta[base].get("type"))
            if type_ in ("histogram", "summary"):
                return type_, base, meta[base]
            if suffix == "_total" and type_ == "counter":
                return "counter", None, meta[base]
    # no metadata: from names and labels
    if name.endswith("_bucket") and "le" in label_names:
        return "histogram", name[: -len("_bucket")], {}
    if "quantile" in label_names:
        return "summary", name, {}
    for suffix in ("_sum", "_count"):
        if name.endswith(suffix):
            base = name[: -len(suffix)]
            if f"{base}_bucket" in names:
                return "histogram", base, {}
            if base in names:
                return "summary", base, {}
    type_ = infer_metric_type(name)
    return ("gauge" if type_ == "histogram" else type_), None, {}


def _prom_type(value: object) -> str:
    value = str(value or "unknown")
    if value == "gaugehistogram":
        return "histogram"
    return value if value in ("counter", "gauge", "histogram", "summary") else "unknown"


def import_prometheus(
    client: HttpClient,
    window: TimeWindow,
    *,
    max_values: int = DEFAULT_MAX_VALUES,
    series_limit: int = DEFAULT_SERIES_LIMIT,
    match: str | None = None,
    show_progress: bool = True,
) -> tuple[Catalog, list[str]]:
    """(the PromQL catalog, notes for the person: cut series, missing metadata)."""
    client.system = SYSTEM
    names = metric_names(client, window)
    if match:
        import re

        pattern = re.compile(match)
        names = [n for n in names if pattern.search(n)]
    meta = metadata(client)
    notes: list[str] = []
    per_metric: dict[str, dict[str, dict[str, int]]] = {}
    truncated = []
    for name in progress(names, "series", len(names), show_progress):
        counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
        sets, cut = series_labels(client, name, window, series_limit)
        if cut:
            truncated.append(name)
        for labels in sets:
            for key, value in labels.items():
                if key != "__name__":
                    counts[key][str(value)] += 1
        per_metric[name] = counts
    catalog = Catalog("promql", source=client.base_url)
    name_set = set(names)
    without_meta = 0
    for name in names:
        counts = per_metric[name]
        type_, family, entry = resolve_type(name, meta, name_set, set(counts))
        if not entry:
            without_meta += 1
        labels, high = {}, []
        for key in sorted(counts):
            labels[key], was_cut = top_values(counts[key], max_values)
            if was_cut:
                high.append(key)
        catalog.metrics[name] = Metric(
            name=name, type=type_, help=str(entry.get("help", "")),
            unit=str(entry.get("unit") or infer_unit(name)), labels=labels,
            high_cardinality=high, family=family,
        )
    if truncated:
        notes.append(f"{len(truncated)} metric(s) had more than {series_limit} series in the window "
                     f"(labels from the first {series_limit}): {', '.join(truncated[:5])}")
    if names and without_meta:
        notes.append(f"{without_meta} of {len(names)} metrics have no metadata on the server "
                     "(no active scrape target exposes them): types and units inferred from names")
    if not names:
        notes.append("no metric has samples in the window: widen it with --since or --start/--end")
    return catalog, notes
