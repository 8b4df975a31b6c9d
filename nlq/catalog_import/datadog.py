"""Datadog catalogs (metrics and logs) from Datadog's public API.

Keys come from the environment as Datadog's own clients read them: `DD_API_KEY`,
`DD_APP_KEY` (sent as the `DD-API-KEY` / `DD-APPLICATION-KEY` headers) and
`DD_SITE` (default datadoghq.com; the API host is `https://api.<site>`).

Metrics (`datadog-metrics`):
1. `GET /api/v1/metrics?from=<unix s>`: the active metrics list;
2. per metric `GET /api/v1/metrics/<name>`: type, unit, description;
3. per metric `GET /api/v2/metrics/<name>/all-tags?window[seconds]=`: its
   `key:value` tags (indexed and ingested); values per key are counted once
   per metric, so a key with more than --max-values keeps an ordered cut and is
   marked high_cardinality.

Logs (`datadog-logs`): Datadog has no endpoint that lists facets, so the
facets to read are named (`--facet`, default: service, host, status, source,
env, version and the @http/@duration attributes), and each one's values come
from `POST /api/v2/logs/analytics/aggregate` grouped by that facet (top N by
count).  A facet starting with `@` is an attribute (log field), others are
tags and reserved attributes (log labels).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections import defaultdict

from nlq.catalog import Catalog, Metric
from nlq.catalog_import.common import (
    DEFAULT_MAX_VALUES,
    TimeWindow,
    log_fields,
    progress,
    top_values,
)
from nlq.catalog_import.http import HttpClient, ImportFailure, require
from nlq.errors import UsageError

SYSTEM = "Datadog API"
DD_TYPES = {"count": "count", "rate": "rate", "gauge": "gauge", "distribution": "distribution"}
#: Datadog's minimum (and default) all-tags window
MIN_TAG_WINDOW_S = 14_400
DEFAULT_FACETS = ("service", "host", "status", "source", "env", "version",
                  "@http.method", "@http.status_code", "@http.url_details.path", "@duration")


def datadog_client(site: str | None = None, url: str | None = None, **options) -> HttpClient:
    """A client for the site's API with the keys from DD_API_KEY / DD_APP_KEY."""
    api_key, app_key = os.environ.get("DD_API_KEY"), os.environ.get("DD_APP_KEY")
    if not api_key or not app_key:
        raise UsageError("set DD_API_KEY and DD_APP_KEY in the environment (an application key with "
                         "metrics_read and logs_read_data)")
    base = url or f"https://api.{site or os.environ.get('DD_SITE', 'datadoghq.com')}"
    headers = {"DD-API-KEY": api_key, "DD-APPLICATION-KEY": app_key}
    return HttpClient(base, headers=headers, system=SYSTEM, **options)


def _object(payload: object, what: str) -> dict:
    require(isinstance(payload, dict), f"{what}: not a JSON object", SYSTEM)
    if "errors" in payload and len(payload) == 1:
        raise ImportFailure(f"{what}: Datadog answered: {'; '.join(map(str, payload['errors']))}")
    return payload


def active_metrics(client: HttpClient, window: TimeWindow) -> list[str]:
    payload = _object(client.get_json("/api/v1/metrics", {"from": str(int(window.start_s))}), "active metrics")
    metrics = payload.get("metrics")
    require(isinstance(metrics, list) and all(isinstance(m, str) for m in metrics),
            "/api/v1/metrics: no list of metric names under \"metrics\"", SYSTEM)
    return sorted(set(metrics))


def metric_metadata(client: HttpClient, name: str) -> dict:
    return _object(client.get_json(f"/api/v1/metrics/{urllib.parse.quote(name, safe='')}"), f"metadata of {name}")


def metric_tags(client: HttpClient, name: str, window: TimeWindow) -> list[str]:
    params = {"window[seconds]": str(max(MIN_TAG_WINDOW_S, int(window.seconds)))}
    payload = _object(client.get_json(f"/api/v2/metrics/{urllib.parse.quote(name, safe='')}/all-tags", params),
                      f"tags of {name}")
    data = payload.get("data")
    require(isinstance(data, dict) and isinstance(data.get("attributes"), dict),
            f"/api/v2/metrics/{name}/all-tags: no data.attributes", SYSTEM)
    attributes = data["attributes"]
    tags = list(attributes.get("tags") or []) + list(attributes.get("ingested_tags") or [])
    require(all(isinstance(t, str) for t in tags), f"/api/v2/metrics/{name}/all-tags: tags are not strings",
            SYSTEM)
    return sorted(set(tags))


def import_datadog_metrics(
    client: HttpClient, window: TimeWindow, *, max_values: int = DEFAULT_MAX_VALUES, show_progress: bool = True,
) -> tuple[Catalog, list[str]]:
    names = active_metrics(client, window)
    catalog = Catalog("datadog-metrics", source=client.base_url)
    notes = []
    for name in progress(names, "metrics", len(names), show_progress):
        meta = metric_metadata(client, name)
        tags: dict[str, dict[str, int]] = defaultdict(dict)
        for tag in metric_tags(client, name, window):
            key, _, value = tag.partition(":")
            tags[key][value] = 1
        labels, high = {}, []
        for key in sorted(tags):
            labels[key], cut = top_values(tags[key], max_values)
            if cut:
                high.append(key)
        catalog.metrics[name] = Metric(
            name=name, type=DD_TYPES.get(str(meta.get("type")), "unknown"),
            help=str(meta.get("description") or ""), unit=str(meta.get("unit") or ""),
            labels=labels, high_cardinality=high,
        )
    if not names:
        notes.append("no active metric since the window's start: widen it with --since")
    return catalog, notes


def facet_values(client: HttpClient, facet: str, window: TimeWindow, limit: int) -> dict[str, int]:
    """value -> log count for one facet, from logs analytics aggregate (top `limit`)."""
    body = {
        "filter": {"query": "*", "from": str(int(window.start_s * 1000)), "to": str(int(window.end_s * 1000))},
        "group_by": [{"facet": facet, "limit": limit}],
        "compute": [{"aggregation": "count"}],
    }
    payload = _object(client.post_json("/api/v2/logs/analytics/aggregate", body), f"values of {facet}")
    data = payload.get("data")
    require(isinstance(data, dict) and isinstance(data.get("buckets"), list),
            "/api/v2/logs/analytics/aggregate: no data.buckets", SYSTEM)
    out: dict[str, int] = {}
    for bucket in data["buckets"]:
        require(isinstance(bucket, dict) and isinstance(bucket.get("by"), dict),
                "/api/v2/logs/analytics/aggregate: a bucket without `by`", SYSTEM)
        value = bucket["by"].get(facet)
        if value is None or value == "":
            continue
        count = (bucket.get("computes") or {}).get("c0", 1)
        text = json.dumps(value) if isinstance(value, bool) else str(value)
        out[text] = int(count) if isinstance(count, int | float) else 1
    return out


def import_datadog_logs(
    client: HttpClient, window: TimeWindow, *, facets: tuple[str, ...] = DEFAULT_FACETS,
    max_values: int = DEFAULT_MAX_VALUES, show_progress: bool = True,
) -> tuple[Catalog, list[str]]:
    catalog = Catalog("datadog-logs", source=client.base_url)
    fields: dict[str, set[str]] = {}
    notes = []
    for facet in progress(list(facets), "facets", len(facets), show_progress):
        counts = facet_values(client, facet, window, max_values + 1)
        values, cut = top_values(counts, max_values)
        if facet.startswith("@"):
            fields[facet[1:]] = set(values)
        elif counts:
            catalog.log_labels[facet] = values
        if cut:
            notes.append(f"facet {facet}: more than {max_values} values, kept the most frequent")
    catalog.log_fields = log_fields(fields)
    return catalog, notes
