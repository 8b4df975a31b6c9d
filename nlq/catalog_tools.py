"""Work with catalog files: merge two, show or search one, write one atomically.

    >>> merged = merge_catalogs(load_catalog("a.json"), load_catalog("b.yaml"))   # doctest: +SKIP
    >>> [m.name for m in search(merged, "latency")]                               # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from nlq.catalog import Catalog, LogField, Metric
from nlq.errors import UsageError


def _union(a: list[str], b: list[str]) -> list[str]:
    return sorted(set(a) | set(b))


def _merge_metric(a: Metric, b: Metric) -> Metric:
    """One metric seen in two catalogs: labels and values unioned; known type/help/unit win."""
    labels = {k: _union(a.labels.get(k, []), b.labels.get(k, [])) for k in sorted(set(a.labels) | set(b.labels))}
    return Metric(
        name=a.name,
        type=a.type if a.type != "unknown" else b.type,
        help=a.help or b.help,
        unit=a.unit or b.unit,
        labels=labels,
        high_cardinality=sorted(set(a.high_cardinality) | set(b.high_cardinality)),
        family=a.family or b.family,
    )


def merge_catalogs(a: Catalog, b: Catalog) -> Catalog:
    """Union of two catalogs of the same dialect (the first one's metadata wins on conflict)."""
    if a.dialect != b.dialect:
        raise UsageError(f"cannot merge a {a.dialect} catalog with a {b.dialect} catalog")
    metrics = dict(a.metrics)
    for name, metric in b.metrics.items():
        metrics[name] = _merge_metric(metrics[name], metric) if name in metrics else metric
    log_labels = {k: _union(a.log_labels.get(k, []), b.log_labels.get(k, []))
                  for k in set(a.log_labels) | set(b.log_labels)}
    fields = dict(a.log_fields)
    for name, f in b.log_fields.items():
        if name in fields:
            mine = fields[name]
            kind = mine.kind if mine.kind == f.kind else "string"
            fields[name] = LogField(name, kind, _union(mine.values, f.values) if mine.values and f.values else [])
        else:
            fields[name] = f
    formats = {k: {**b.log_formats.get(k, {}), **a.log_formats.get(k, {})}
               for k in set(a.log_formats) | set(b.log_formats)}
    stream_fields = {k: {v: _union(a.stream_fields.get(k, {}).get(v, []), b.stream_fields.get(k, {}).get(v, []))
                         for v in set(a.stream_fields.get(k, {})) | set(b.stream_fields.get(k, {}))}
                     for k in set(a.stream_fields) | set(b.stream_fields)}
    return Catalog(a.dialect, metrics, log_labels, fields, source=f"{a.source}+{b.source}",
                   log_formats=formats, stream_fields=stream_fields)


def search(catalog: Catalog, text: str) -> Catalog:
    """The part of `catalog` whose names, help, labels or values contain `text` (any case)."""
    needle = text.lower()
    hits = Catalog(catalog.dialect, source=catalog.source)
    for name, m in catalog.metrics.items():
        haystack = " ".join([name, m.help, *m.labels, *(v for vs in m.labels.values() for v in vs)]).lower()
        if needle in haystack:
            hits.metrics[name] = m
    for name, values in catalog.log_labels.items():
        if needle in name.lower() or any(needle in v.lower() for v in values):
            hits.log_labels[name] = values
    for name, f in catalog.log_fields.items():
        if needle in name.lower() or any(needle in v.lower() for v in f.values):
            hits.log_fields[name] = f
    return hits


def summary_lines(catalog: Catalog, max_values: int = 8) -> list[str]:
    """A person's view: one line per metric (type, unit, labels with a few values) or log label/field."""
    lines = []
    for name, m in sorted(catalog.metrics.items()):
        unit = f", {m.unit}" if m.unit else ""
        lines.append(f"{name} ({m.type}{unit})" + (f": {m.help}" if m.help else ""))
        for label, values in sorted(m.labels.items()):
            shown = ", ".join(values[:max_values]) + (f", … ({len(values)} values)" if len(values) > max_values else "")
            mark = " [high cardinality]" if label in m.high_cardinality else ""
            lines.append(f"    {label}: {shown}{mark}")
    label_word = "tag" if catalog.dialect == "datadog-logs" else "label"
    for name, values in sorted(catalog.log_labels.items()):
        shown = ", ".join(values[:max_values]) + (f", … ({len(values)} values)" if len(values) > max_values else "")
        lines.append(f"{label_word} {name}: {shown}")
    for name, f in sorted(catalog.log_fields.items()):
        shown = f": {', '.join(f.values[:max_values])}" if f.values else ""
        lines.append(f"field {name} ({f.kind}){shown}")
    return lines


def counts(catalog: Catalog) -> dict[str, int]:
    return {
        "metrics": len(catalog.metrics),
        "labels": len(catalog.label_names()),
        "label_values": sum(len(v) for m in catalog.metrics.values() for v in m.labels.values()),
        "log_labels": len(catalog.log_labels),
        "log_fields": len(catalog.log_fields),
    }


def write_atomic(catalog: Catalog, path: str | Path) -> Path:
    """Write the catalog as JSON (or YAML by extension) via a temporary file: never a partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    data = catalog.to_dict()
    if path.suffix in (".yaml", ".yml"):
        import yaml

        text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    else:
        text = json.dumps(data, indent=1) + "\n"
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
