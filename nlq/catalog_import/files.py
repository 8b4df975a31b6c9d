"""`nlq catalog import --from-file`: a catalog from exported JSON.

Accepted, recognised by shape:

* an nlq catalog, full or minimal (`{"metric": {"label": [values]}}`), JSON or YAML;
* a saved Prometheus `/api/v1/series` answer (`{"status": "success", "data":
  [{"__name__": ..., ...}]}`, or just the list), e.g. from
  `curl -G prom:9090/api/v1/series --data-urlencode 'match[]={__name__=~".+"}'`;
* `{"series": <that>, "metadata": <a saved /api/v1/metadata answer>}` for types and help.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from nlq.catalog import Catalog, Metric, infer_unit, load_catalog
from nlq.catalog_import.common import DEFAULT_MAX_VALUES, top_values
from nlq.catalog_import.http import ImportFailure
from nlq.catalog_import.prometheus import resolve_type
from nlq.errors import UsageError


def _unwrap(payload: object) -> object:
    if isinstance(payload, dict) and payload.get("status") == "success" and "data" in payload:
        return payload["data"]
    return payload


def _is_series(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(s, dict) and "__name__" in s for s in value)


def import_file(path: str | Path, dialect: str | None = None, max_values: int = DEFAULT_MAX_VALUES) -> Catalog:
    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no such file: {path}")
    if path.suffix in (".yaml", ".yml"):
        return load_catalog(path, dialect)
    try:
        payload = json.loads(path.read_text())
    except ValueError as exc:
        raise UsageError(f"{path}: not valid JSON: {exc}") from exc
    series, meta = None, {}
    if isinstance(payload, dict) and "series" in payload:
        series = _unwrap(payload["series"])
        meta = _unwrap(payload.get("metadata") or {})
    elif _is_series(_unwrap(payload)):
        series = _unwrap(payload)
    if series is None:
        return load_catalog(path, dialect)
    if not _is_series(series) or not isinstance(meta, dict):
        raise ImportFailure(f"{path}: `series` must be a list of label sets with __name__, `metadata` an object")
    return catalog_from_series(series, {k: v[0] for k, v in meta.items() if isinstance(v, list) and v},
                               max_values, source=str(path))


def catalog_from_series(series: list[dict], meta: dict[str, dict], max_values: int, source: str = "") -> Catalog:
    """A PromQL catalog from label sets (with __name__) and family metadata."""
    counts: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(int)))
    for labels in series:
        name = str(labels["__name__"])
        counts[name]  # a metric without labels still counts
        for key, value in labels.items():
            if key != "__name__":
                counts[name][key][str(value)] += 1
    catalog = Catalog("promql", source=source)
    names = set(counts)
    for name in sorted(counts):
        type_, family, entry = resolve_type(name, meta, names, set(counts[name]))
        labels, high = {}, []
        for key in sorted(counts[name]):
            labels[key], cut = top_values(counts[name][key], max_values)
            if cut:
                high.append(key)
        catalog.metrics[name] = Metric(name, type_, str(entry.get("help", "")),
                                       str(entry.get("unit") or infer_unit(name)), labels, high, family)
    return catalog
