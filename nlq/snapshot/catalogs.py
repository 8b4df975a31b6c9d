"""Catalogs derived from the snapshot data, one per dialect.

What a query over the snapshots may name: every metric with its type, help and
observed label values, Loki stream labels and the fields their lines carry,
Datadog metric tags and log facets.  The committed files in snapshots/catalog/
are checked by a test to equal `derive_catalogs()` over every variant.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from nlq.catalog import Catalog, Metric
from nlq.catalog_import.common import log_fields, top_values
from nlq.log_formats import fields_by_stream, kind_label, line_fields, stream_formats
from nlq.snapshot.store import open_snapshot, snapshot_names
from nlq.snapshot.world import SNAPSHOTS_DIR

CATALOG_DIR = SNAPSHOTS_DIR / "catalog"
# Label and field value lists longer than this are cut to the most frequent ones; a log
# field lists its values under catalog_import.common's limits, as an import does.
MAX_VALUES = 50


def _flatten(prefix: str, value: object, into: dict[str, set[str]]) -> None:
    if isinstance(value, dict):
        for key, inner in value.items():
            _flatten(f"{prefix}.{key}" if prefix else key, inner, into)
    else:
        into[prefix].add(json.dumps(value) if isinstance(value, bool) else str(value))


def derive_catalogs(names: list[str] | None = None) -> dict[str, Catalog]:
    """The four catalogs, union over the variants `names` (default: all)."""
    prom_labels: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    prom_meta: dict[str, tuple] = {}
    log_labels: dict[str, set[str]] = defaultdict(set)
    loki_fields: dict[str, set[str]] = defaultdict(set)
    dd_tags: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    dd_meta: dict[str, tuple] = {}
    ddl_labels: dict[str, set[str]] = defaultdict(set)
    ddl_fields: dict[str, set[str]] = defaultdict(set)
    stream_formats_seen: list[tuple[dict[str, str], str]] = []
    stream_fields_seen: list[tuple[dict[str, str], set[str]]] = []
    for name in names or snapshot_names():
        con = open_snapshot(name)
        for metric, type_, help_, unit, family in con.execute("SELECT * FROM prom_metadata").fetchall():
            prom_meta[metric] = (type_, help_, unit, family)
        for metric, labels in con.execute("SELECT metric, labels FROM prom_series").fetchall():
            for key, value in labels.items():
                prom_labels[metric][key][value] += 1
        stream_labels = dict(con.execute("SELECT stream_id, labels FROM log_streams").fetchall())
        for labels in stream_labels.values():
            for key, value in labels.items():
                log_labels[key].add(value)
        formats: dict[int, set[str]] = defaultdict(set)  # stream -> the formats of its lines
        found: dict[int, dict[str, set[str]]] = defaultdict(lambda: defaultdict(set))  # stream -> its fields
        for stream_id, line in con.execute("SELECT stream_id, line FROM log_lines").fetchall():
            formats[stream_id].add(line_fields(line, found[stream_id]))
        stream_formats_seen += [(stream_labels[sid], fmt) for sid, fmts in formats.items() for fmt in fmts]
        for stream_id, fields in found.items():
            stream_fields_seen.append((stream_labels[stream_id], set(fields)))
            for key, values in fields.items():
                loki_fields[key] |= values
        for metric, type_, interval, unit, desc in con.execute("SELECT * FROM dd_metrics").fetchall():
            dd_meta[metric] = (type_, interval, unit, desc)
        for metric, tags in con.execute("SELECT metric, tags FROM dd_series").fetchall():
            for tag in tags:
                key, _, value = tag.partition(":")
                dd_tags[metric][key][value] += 1
        rows = con.execute("SELECT service, host, status, source, tags, attributes FROM dd_logs").fetchall()
        for service, host, status, source, tags, attributes in rows:
            for key, value in (("service", service), ("host", host), ("status", status), ("source", source)):
                ddl_labels[key].add(value)
            for tag in tags:
                key, _, value = tag.partition(":")
                ddl_labels[key].add(value)
            _flatten("", json.loads(attributes), ddl_fields)
        con.close()

    promql = Catalog("promql")
    for metric, (type_, help_, unit, family) in sorted(prom_meta.items()):
        labels, cut = {}, []
        for key, counts in sorted(prom_labels[metric].items()):
            labels[key], was_cut = top_values(counts, MAX_VALUES)
            if was_cut:
                cut.append(key)
        promql.metrics[metric] = Metric(metric, type_, help_, unit or "", labels, cut, family)
    program = kind_label([labels for labels, _ in stream_fields_seen])  # the label naming each stream's program
    logql = Catalog("logql", log_labels={k: sorted(v) for k, v in log_labels.items()}, log_fields=log_fields(loki_fields),
                    log_formats=stream_formats(stream_formats_seen, program),
                    stream_fields=fields_by_stream(stream_fields_seen, program))
    dd_metrics = Catalog("datadog-metrics")
    for metric, (type_, _interval, unit, desc) in sorted(dd_meta.items()):
        labels, cut = {}, []
        for key, counts in sorted(dd_tags[metric].items()):
            labels[key], was_cut = top_values(counts, MAX_VALUES)
            if was_cut:
                cut.append(key)
        dd_metrics.metrics[metric] = Metric(metric, type_, desc, unit or "", labels, cut)
    dd_logs = Catalog("datadog-logs", log_labels={k: sorted(v) for k, v in ddl_labels.items()},
                      log_fields=log_fields(ddl_fields))
    return {c.dialect: c for c in (promql, logql, dd_metrics, dd_logs)}


def catalog_path(dialect: str) -> Path:
    return CATALOG_DIR / f"{dialect}.json"


def write_catalogs(names: list[str] | None = None) -> list[Path]:
    CATALOG_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for dialect, catalog in derive_catalogs(names).items():
        catalog.save(catalog_path(dialect))
        paths.append(catalog_path(dialect))
    return paths
