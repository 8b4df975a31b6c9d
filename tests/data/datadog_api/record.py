"""Write the recorded Datadog API answers in this folder from snapshot shop-a.

Each file holds one answer in the exact shape of Datadog's documented API
(https://docs.datadoghq.com/api/latest/metrics/, .../logs/#aggregate-events),
as the official client models it (datadog-api-client-python v1/v2 models):

    v1_metrics.json                    GET /api/v1/metrics?from=...
    v1_metrics/<name>.json             GET /api/v1/metrics/<name>
    v2_all_tags/<name>.json            GET /api/v2/metrics/<name>/all-tags
    logs_aggregate/<facet>.json        POST /api/v2/logs/analytics/aggregate grouped by <facet>

Run: .venv/bin/python tests/data/datadog_api/record.py
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from nlq.snapshot import open_snapshot

HERE = Path(__file__).resolve().parent
LIMIT = 250


def _write(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(payload, indent=1, sort_keys=True) + "\n")


def _flatten(prefix: str, value: object, into: dict[str, Counter]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, into)
    else:
        into.setdefault(prefix, Counter())[json.dumps(value) if isinstance(value, bool) else value] += 1


def main() -> None:
    con = open_snapshot("shop-a")
    start_s = int(con.execute("SELECT value FROM meta WHERE key = 'start_ms'").fetchone()[0]) // 1000
    metrics = con.execute("SELECT metric, type, interval_s, unit, description FROM dd_metrics ORDER BY metric").fetchall()
    _write(HERE / "v1_metrics.json", {"from": str(start_s), "metrics": [m[0] for m in metrics]})
    for name, type_, interval, unit, description in metrics:
        _write(HERE / "v1_metrics" / f"{name}.json", {
            "description": description, "integration": None, "per_unit": None,
            "short_name": name.rsplit(".", 1)[-1].replace("_", " "), "statsd_interval": interval,
            "type": type_, "unit": unit or None,
        })
        tags = sorted({t for (ts,) in con.execute("SELECT tags FROM dd_series WHERE metric = ?", [name]).fetchall()
                       for t in ts})
        _write(HERE / "v2_all_tags" / f"{name}.json",
               {"data": {"type": "metrics", "id": name, "attributes": {"tags": tags, "ingested_tags": []}}})
    facets: dict[str, Counter] = {}
    rows = con.execute("SELECT service, host, status, source, tags, attributes FROM dd_logs").fetchall()
    for service, host, status, source, tags, attributes in rows:
        for key, value in (("service", service), ("host", host), ("status", status), ("source", source)):
            facets.setdefault(key, Counter())[value] += 1
        for tag in tags:
            key, _, value = tag.partition(":")
            facets.setdefault(key, Counter())[value] += 1
        attrs: dict[str, Counter] = {}
        _flatten("", json.loads(attributes), attrs)
        for key, counts in attrs.items():
            facets.setdefault("@" + key, Counter()).update(counts)
    for facet, counts in sorted(facets.items()):
        top = sorted(counts.items(), key=lambda kv: (-kv[1], str(kv[0])))[:LIMIT]
        _write(HERE / "logs_aggregate" / f"{facet}.json", {
            "data": {"buckets": [{"by": {facet: value}, "computes": {"c0": count}} for value, count in top]},
            "meta": {"elapsed": 42, "request_id": "recorded", "status": "done"},
        })
    con.close()


if __name__ == "__main__":
    main()
