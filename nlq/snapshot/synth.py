"""Synthetic worlds from any catalog: data for every metric, stream and tag it names.

A team's catalog (imported or hand-written) says what exists but not how it
behaves; this fills the snapshot tables (`nlq.snapshot.store`'s layout, the
one every engine reads) with data shaped by each metric's type:

* counters rise at a per-series rate with noise and sometimes reset to zero
  (a restart), as `rate()` and `resets()` expect;
* gauges wander (a bounded random walk) around a level fitting the unit:
  ratios stay in [0, 1], bytes are large, seconds small;
* histograms are consistent: per step a number of observations is drawn and
  spread over the buckets (cumulative in `le`, `+Inf` equal to `_count`), and
  `_sum` grows by their total; summaries get ordered quantiles;
* Datadog metrics: counts per interval, per-second rates, wandering gauges,
  distributions as several raw values per interval;
* Loki streams carry JSON or logfmt lines (alternating by stream, or in the format
  the catalog's `log_formats` records for it) with every catalog field, or the
  fields its `stream_fields` records for the program; Datadog logs carry every tag, reserved attribute and @field.

Series per metric: labels are crossed when all combinations fit in
`max_series`; otherwise (crossing explodes) series `i` takes the `i`-th value
of each label (rotated per label), so every value of every label appears in at
least one series while a metric has at most `max_series` series.
The rotation depends on the label alone, not on the metric: two metrics with
the same labels pair their values the same way (node `n3` sits in farm `oslo`
for every metric, as in a real system), so joins and ratios of two metrics
find matching series.

Deterministic: every random draw comes from a generator seeded with the
variant's seed and a stable hash of the series, so the same catalog and seed
give the same tables (checked by `table_checksums`).  Variants differ only in
their seed.

    >>> paths = synth_world([load_catalog("mine.yaml")], "out/mine", variants=3)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np

from nlq.catalog import Catalog, Metric
from nlq.snapshot.store import TABLE_ORDER, labels_key
from nlq.snapshot.world import load_world, stable_hash

GENERATOR = "synth-2"  # synth-2: label pairs agree across metrics
DEFAULT_MAX_SERIES = 12
DEFAULT_HOURS = 6
DEFAULT_STEP_S = 15
DEFAULT_BUCKETS = ["0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5", "1", "2.5", "5", "10", "+Inf"]
DEFAULT_QUANTILES = ["0", "0.25", "0.5", "0.75", "1"]
LOG_LINES_PER_STREAM = 240
DD_LOGS = 3000
RESERVED_DD = ("service", "host", "status", "source")


@dataclass(frozen=True)
class SynthSpec:
    """The window and sizes of a synthetic world."""

    end_ms: int
    hours: float = DEFAULT_HOURS
    step_ms: int = DEFAULT_STEP_S * 1000
    max_series: int = DEFAULT_MAX_SERIES

    @property
    def steps(self) -> int:
        return int(self.hours * 3_600_000 // self.step_ms)

    @property
    def start_ms(self) -> int:
        return self.end_ms - self.steps * self.step_ms

    @classmethod
    def default(cls, **overrides) -> SynthSpec:
        """Same end as the shop snapshots (world.yaml), so eval time ranges line up."""
        return cls(end_ms=load_world().end_ms, **overrides)


def _rng(seed: int, *parts: object) -> np.random.Generator:
    return np.random.default_rng([seed, stable_hash(*parts) % (2**63)])


def label_sets(labels: dict[str, list[str]], max_series: int, salt: str = "", extra_value: str = "x") -> list[dict]:
    """Series label sets covering every value of every label.

    When every combination fits in `max_series` the labels are crossed (so
    `{farm="oslo", outcome="failed"}` exists as in a real system); otherwise
    series `i` takes the `i`-th value of each label, rotated.  `salt` (the
    metric's name at the call sites) does not move the rotation, which depends
    on the label name only: metrics sharing labels share their label pairs.
    """
    if not labels:
        return [{}]
    choices = {key: values or [f"{key}-{extra_value}"] for key, values in sorted(labels.items())}
    if math.prod(len(v) for v in choices.values()) <= max_series:
        out = [dict(zip(choices, combo, strict=True)) for combo in itertools.product(*choices.values())]
    else:
        width = min(max(len(v) for v in choices.values()), max_series)
        out = []
        for i in range(width):
            one = {}
            for key, values in choices.items():
                shift = stable_hash("label", key) % len(values)
                one[key] = values[(i + shift) % len(values)]
            out.append(one)
    unique = {labels_key(s): s for s in out}
    return [unique[k] for k in sorted(unique)]


# --------------------------------------------------------------------------- value shapes
def _level(metric: Metric, rng: np.random.Generator) -> float:
    unit = metric.unit or ""
    if metric.name.endswith(("_celsius", "_temperature")):
        return float(rng.uniform(20, 90))
    if unit == "ratio" or metric.name.endswith(("_ratio", "_percent")):
        return float(rng.uniform(0.05, 0.95))
    if unit == "bytes":
        return float(rng.uniform(1e7, 4e9))
    if unit == "seconds":
        return float(rng.uniform(0.005, 2.0))
    return float(np.exp(rng.uniform(0, 6)))


def counter_values(rng: np.random.Generator, steps: int, step_s: float, level: float) -> np.ndarray:
    rate = level * rng.uniform(0.2, 1.5)
    increments = np.maximum(rng.normal(rate * step_s, 0.25 * rate * step_s, steps), 0.0)
    values = np.cumsum(increments)
    if rng.random() < 0.3:  # a restart: the counter starts again from zero
        at = int(rng.integers(steps // 4, steps))
        values[at:] -= values[at - 1] if at > 0 else 0.0
    return np.round(values, 3)


def gauge_values(rng: np.random.Generator, steps: int, level: float, ratio: bool) -> np.ndarray:
    walk = np.cumsum(rng.normal(0, 0.02, steps))
    walk -= np.linspace(0, walk[-1], steps) * 0.5  # pull back so the walk stays near the level
    values = level * np.exp(walk)
    if ratio:
        values = np.clip(values, 0.0, 1.0)
    return np.round(values, 4)


def _finite(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def histogram_values(rng: np.random.Generator, steps: int, step_s: float, bounds: list[str], scale: float
                     ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """(cumulative bucket counts per le, _count, _sum): consistent at every step."""
    n = rng.poisson(max(scale, 0.5) * step_s, steps)
    finite = sorted((b for b in bounds if _finite(b)), key=float)
    median = float(finite[len(finite) // 2]) if finite else 1.0
    # each step's observations fall into the buckets of a log-normal around the median
    below = [0.5 * (1 + math.erf(math.log(max(float(b), 1e-12) / median) / (1.2 * math.sqrt(2)))) for b in finite]
    probs = np.diff([0.0, *below, 1.0])
    per_bucket = rng.multinomial(n, np.clip(probs, 0.0, None) / max(probs.sum(), 1e-12))
    cumulative = np.cumsum(np.cumsum(per_bucket, axis=1), axis=0).astype(np.float64)  # in le, then in time
    buckets = {b: cumulative[:, i] for i, b in enumerate(finite)}
    count = np.cumsum(n).astype(np.float64)
    if "+Inf" in bounds:
        buckets["+Inf"] = count
    total = np.cumsum(n * median * rng.uniform(0.8, 1.2, steps))
    return buckets, count, np.round(total, 4)


# --------------------------------------------------------------------------- Prometheus tables
def _families(catalog: Catalog) -> dict[str, list[Metric]]:
    """Metrics grouped so a histogram's or summary's members are generated together."""
    groups: dict[str, list[Metric]] = {}
    for name, metric in sorted(catalog.metrics.items()):
        key = name
        if metric.type in ("histogram", "summary"):
            key = metric.family or _family_from_name(name)
        groups.setdefault(key, []).append(metric)
    return groups


def _family_from_name(name: str) -> str:
    """`x` for `x_bucket`, `x_sum`, `x_count` (a hand-written catalog names no family)."""
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def prometheus_rows(catalog: Catalog, spec: SynthSpec, seed: int) -> tuple[list, list]:
    """(metadata rows, [(metric, labels, values)]) for every metric of a PromQL catalog."""
    meta, series = [], []
    step_s = spec.step_ms / 1000
    steps = spec.steps
    for family, members in _families(catalog).items():
        by_name = {m.name: m for m in members}
        for m in members:
            grouped = family if m.type in ("histogram", "summary") else None
            meta.append((m.name, m.type, m.help, m.unit or None, m.family or grouped))
        kind = members[0].type
        if kind == "histogram" and (f"{family}_bucket" in by_name or f"{family}_count" in by_name):
            bucket = by_name.get(f"{family}_bucket")
            base_labels = dict((bucket or members[0]).labels)
            bounds = base_labels.pop("le", None) or DEFAULT_BUCKETS
            if "+Inf" not in bounds:
                bounds = [*bounds, "+Inf"]
            for labels in label_sets(base_labels, spec.max_series, family):
                rng = _rng(seed, family, labels_key(labels))
                buckets, count, total = histogram_values(rng, steps, step_s, bounds, _level(members[0], rng) / 10)
                if bucket:
                    for le in bounds:
                        series.append((bucket.name, {**labels, "le": le}, buckets[le]))
                if f"{family}_count" in by_name:
                    series.append((f"{family}_count", labels, count))
                if f"{family}_sum" in by_name:
                    series.append((f"{family}_sum", labels, total))
            continue
        if kind == "summary" and family in by_name:
            base_labels = dict(by_name[family].labels)
            quantiles = sorted(base_labels.pop("quantile", None) or DEFAULT_QUANTILES, key=float)
            for labels in label_sets(base_labels, spec.max_series, family):
                rng = _rng(seed, family, labels_key(labels))
                level = _level(members[0], rng)
                base = gauge_values(rng, steps, level, False)
                for q in quantiles:
                    series.append((family, {**labels, "quantile": q}, np.round(base * (0.2 + 1.6 * float(q)), 6)))
                count = counter_values(rng, steps, step_s, 5.0)
                if f"{family}_count" in by_name:
                    series.append((f"{family}_count", labels, count))
                if f"{family}_sum" in by_name:
                    series.append((f"{family}_sum", labels, np.round(count * level, 4)))
            continue
        for m in members:  # counters, gauges, unknown, and lone histogram/summary members
            for labels in label_sets(m.labels, spec.max_series, m.name):
                rng = _rng(seed, m.name, labels_key(labels))
                level = _level(m, rng)
                if m.is_counter_like or m.type == "counter":
                    values = counter_values(rng, steps, step_s, level)
                else:
                    values = gauge_values(rng, steps, level, (m.unit == "ratio"))
                series.append((m.name, labels, values))
    return meta, series


# --------------------------------------------------------------------------- log tables
def _field_value(name: str, kind: str, values: list[str], rng: np.random.Generator) -> str:
    if values:
        return values[int(rng.integers(len(values)))]
    if kind == "number":
        return str(int(rng.integers(1, 5000)))
    if kind == "duration":
        return f"{int(rng.integers(1, 900))}ms"
    if kind == "bytes":
        return f"{int(rng.integers(1, 900))}KB"
    return f"{name}-{int(rng.integers(1, 60))}"


def loki_rows(catalog: Catalog, spec: SynthSpec, seed: int) -> tuple[list[dict], list[tuple[int, int, str]]]:
    streams = label_sets(catalog.log_labels, spec.max_series * 4, "streams")
    if not catalog.log_labels:
        return [], []
    lines = []
    span_ns = (spec.end_ms - spec.start_ms) * 1_000_000
    for sid, labels in enumerate(streams):
        rng = _rng(seed, "stream", labels_key(labels))
        ts = np.sort(rng.integers(spec.start_ms * 1_000_000, spec.start_ms * 1_000_000 + span_ns,
                                  LOG_LINES_PER_STREAM))
        log_format = _stream_format(catalog, labels, sid)
        carried = _stream_fields(catalog, labels)
        for t in ts:
            fields = {n: _field_value(n, f.kind, f.values, rng) for n, f in sorted(catalog.log_fields.items())
                      if carried is None or n in carried}
            level = labels.get("level") or ("error" if rng.random() < 0.1 else "info")
            fields.setdefault("level", level)
            fields.setdefault("msg", "request handled" if level != "error" else "request failed")
            if log_format == "json":
                line = json.dumps({k: _json_value(v, catalog, k) for k, v in fields.items()})
            elif log_format == "logfmt":
                line = " ".join(f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in fields.items())
            else:  # plain text: what a hand-rolled logger prints, no keys
                line = " ".join([fields.pop("level").upper(), fields.pop("msg"), *fields.values()])
            lines.append((sid, int(t), line))
    return streams, lines


def _stream_format(catalog: Catalog, labels: dict[str, str], sid: int) -> str:
    """The format the catalog records for the stream (`log_formats`), else JSON and logfmt by turns."""
    for label, formats in catalog.log_formats.items():
        if labels.get(label) in formats:
            return formats[labels[label]]
    return "json" if sid % 2 == 0 else "logfmt"


def _stream_fields(catalog: Catalog, labels: dict[str, str]) -> set[str] | None:
    """The fields the catalog records for the stream's program (`stream_fields`), else None: all."""
    for label, by_value in catalog.stream_fields.items():
        if labels.get(label) in by_value:
            return set(by_value[labels[label]])
    return None


def _json_value(value: str, catalog: Catalog, name: str) -> object:
    field = catalog.log_fields.get(name)
    if field and field.kind == "number":
        try:
            return int(value)
        except ValueError:
            return float(value)
    return value


def _nest(flat: dict[str, object]) -> dict:
    out: dict = {}
    for key, value in sorted(flat.items()):
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            node = nxt
        else:
            node[parts[-1]] = value
    return out


def datadog_log_rows(catalog: Catalog, spec: SynthSpec, seed: int) -> list[tuple]:
    rows = []
    rng = _rng(seed, "dd-logs")
    ts = np.sort(rng.integers(spec.start_ms, spec.end_ms, DD_LOGS))
    for t in ts:
        chosen = {k: (v[int(rng.integers(len(v)))] if v else f"{k}-1") for k, v in sorted(catalog.log_labels.items())}
        reserved = {k: chosen.pop(k, None) for k in RESERVED_DD}
        status = reserved["status"] or ("error" if rng.random() < 0.1 else "info")
        attrs = {n: _json_value(_field_value(n, f.kind, f.values, rng), catalog, n)
                 for n, f in sorted(catalog.log_fields.items())}
        tags = sorted(f"{k}:{v}" for k, v in chosen.items())
        message = f"{status} " + " ".join(f"{k}={v}" for k, v in list(attrs.items())[:3])
        rows.append((int(t), reserved["service"] or "app", reserved["host"] or "host-1", status,
                     reserved["source"] or "app", message, tags, json.dumps(_nest(attrs), sort_keys=True)))
    return rows


# --------------------------------------------------------------------------- Datadog metrics
def datadog_metric_rows(catalog: Catalog, spec: SynthSpec, seed: int) -> tuple[list, list]:
    meta, series = [], []
    interval_s = spec.step_ms // 1000
    steps = spec.steps
    ts = spec.start_ms + np.arange(steps, dtype=np.int64) * spec.step_ms
    for name, m in sorted(catalog.metrics.items()):
        meta.append((name, m.type if m.type != "unknown" else "gauge", interval_s, m.unit, m.help))
        for labels in label_sets(m.labels, spec.max_series, name):
            rng = _rng(seed, "dd", name, labels_key(labels))
            tags = sorted(f"{k}:{v}" for k, v in labels.items())
            level = _level(m, rng)
            if m.type == "count":
                values = rng.poisson(level, steps).astype(np.float64)
                series.append((name, tags, ts, values))
            elif m.type == "rate":
                series.append((name, tags, ts, np.round(np.abs(rng.normal(level, level * 0.2, steps)), 4)))
            elif m.type == "distribution":
                per = rng.integers(1, 4, steps)
                series.append((name, tags, np.repeat(ts, per),
                               np.round(rng.lognormal(math.log(level), 0.4, int(per.sum())), 4)))
            else:
                series.append((name, tags, ts, gauge_values(rng, steps, level, m.unit == "ratio")))
    return meta, series


# --------------------------------------------------------------------------- writing
def _create(con, table: str, columns: dict[str, np.ndarray], select: str = "*") -> None:
    con.register("_source", columns)
    try:
        con.execute(f"CREATE TABLE {table} AS SELECT {select} FROM _source ORDER BY {TABLE_ORDER[table]}")
    finally:
        con.unregister("_source")


def _strings(values: list[str]) -> np.ndarray:
    return np.array(values, dtype=object)


def catalogs_fingerprint(catalogs: list[Catalog]) -> str:
    blob = json.dumps([c.to_dict() for c in sorted(catalogs, key=lambda c: c.dialect)], sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def synth_snapshot(catalogs: list[Catalog], path: str | Path, seed: int, name: str,
                   spec: SynthSpec | None = None) -> Path:
    """Write one synthetic variant (all store tables) for `catalogs` to `path`, atomically."""
    spec = spec or SynthSpec.default()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    by_dialect = {c.dialect: c for c in catalogs}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)
    con = duckdb.connect(str(tmp))
    try:
        meta = {"name": name, "seed": str(seed), "start_ms": str(spec.start_ms), "end_ms": str(spec.end_ms),
                "step_ms": str(spec.step_ms), "generator": GENERATOR, "incidents": "{}",
                "catalog": catalogs_fingerprint(catalogs)}
        con.execute("CREATE TABLE meta(key VARCHAR, value VARCHAR)")
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))
        _write_prometheus(con, by_dialect.get("promql"), spec, seed)
        _write_logs(con, by_dialect.get("logql"), by_dialect.get("datadog-logs"), spec, seed)
        _write_datadog(con, by_dialect.get("datadog-metrics"), spec, seed)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def _write_prometheus(con, catalog: Catalog | None, spec: SynthSpec, seed: int) -> None:
    con.execute("CREATE TABLE prom_metadata(metric VARCHAR, type VARCHAR, help VARCHAR, unit VARCHAR, family VARCHAR)")
    meta, series = prometheus_rows(catalog, spec, seed) if catalog else ([], [])
    if meta:
        con.executemany("INSERT INTO prom_metadata VALUES (?, ?, ?, ?, ?)", sorted(meta))
    series.sort(key=lambda s: (s[0], labels_key(s[1])))
    offsets = [1 + stable_hash("offset", s[0], labels_key(s[1])) % (spec.step_ms - 1) for s in series]
    offsets = [o + 1 if o % 1000 == 0 else o for o in offsets]
    steps = np.arange(spec.steps, dtype=np.int64) * spec.step_ms
    n = len(series)
    _create(con, "prom_series", {
        "series_id": np.arange(n, dtype=np.int32),
        "metric": _strings([s[0] for s in series]),
        "labels_json": _strings([json.dumps(s[1], sort_keys=True) for s in series]),
        "labels_key": _strings([labels_key(s[1]) for s in series]),
    }, "series_id, metric, labels_json::JSON::MAP(VARCHAR, VARCHAR) AS labels, labels_key")
    total = n * spec.steps
    _create(con, "prom_samples", {
        "series_id": np.repeat(np.arange(n, dtype=np.int32), spec.steps),
        "ts": (np.concatenate([spec.start_ms + o + steps for o in offsets]) if n else np.zeros(0, np.int64)),
        "value": (np.concatenate([s[2] for s in series]) if n else np.zeros(0)).astype(np.float64),
        "stale": np.zeros(total, dtype=bool),
    }, "series_id, ts, value, stale")


def _write_logs(con, loki: Catalog | None, dd_logs: Catalog | None, spec: SynthSpec, seed: int) -> None:
    streams, lines = loki_rows(loki, spec, seed) if loki else ([], [])
    _create(con, "log_streams", {
        "stream_id": np.arange(len(streams), dtype=np.int32),
        "labels_json": _strings([json.dumps(s, sort_keys=True) for s in streams]),
    }, "stream_id, labels_json::JSON::MAP(VARCHAR, VARCHAR) AS labels")
    _create(con, "log_lines", {
        "stream_id": np.array([r[0] for r in lines], dtype=np.int32),
        "ts": np.array([r[1] for r in lines], dtype=np.int64),
        "line": _strings([r[2] for r in lines]),
    }, "stream_id, ts, line, '{}'::JSON::MAP(VARCHAR, VARCHAR) AS metadata")
    rows = datadog_log_rows(dd_logs, spec, seed) if dd_logs else []
    cols = list(zip(*rows, strict=True)) if rows else [[] for _ in range(8)]
    _create(con, "dd_logs", {
        "ts": np.array(cols[0], dtype=np.int64), "service": _strings(list(cols[1])), "host": _strings(list(cols[2])),
        "status": _strings(list(cols[3])), "source": _strings(list(cols[4])), "message": _strings(list(cols[5])),
        "tags_json": _strings([json.dumps(t) for t in cols[6]]), "attributes": _strings(list(cols[7])),
    }, "ts, service, host, status, source, message, tags_json::JSON::VARCHAR[] AS tags, "
       "attributes::JSON AS attributes")


def _write_datadog(con, catalog: Catalog | None, spec: SynthSpec, seed: int) -> None:
    con.execute("CREATE TABLE dd_metrics(metric VARCHAR, type VARCHAR, interval_s INTEGER, unit VARCHAR, "
                "description VARCHAR)")
    meta, series = datadog_metric_rows(catalog, spec, seed) if catalog else ([], [])
    if meta:
        con.executemany("INSERT INTO dd_metrics VALUES (?, ?, ?, ?, ?)", meta)
    series.sort(key=lambda s: (s[0], s[1]))
    _create(con, "dd_series", {
        "series_id": np.arange(len(series), dtype=np.int32),
        "metric": _strings([s[0] for s in series]),
        "tags_json": _strings([json.dumps(s[1]) for s in series]),
    }, "series_id, metric, tags_json::JSON::VARCHAR[] AS tags")
    _create(con, "dd_points", {
        "series_id": (np.concatenate([np.full(len(s[2]), i, dtype=np.int32) for i, s in enumerate(series)])
                      if series else np.zeros(0, np.int32)),
        "ts": np.concatenate([s[2] for s in series]) if series else np.zeros(0, np.int64),
        "value": (np.concatenate([s[3] for s in series]) if series else np.zeros(0)).astype(np.float64),
    })


def synth_world(catalogs: list[Catalog], out_dir: str | Path, *, variants: int = 3, base_seed: int = 1,
                prefix: str = "synth", spec: SynthSpec | None = None) -> list[Path]:
    """`variants` synthetic variants `<prefix>-1..N` under `out_dir`, each with its own seed."""
    out = Path(out_dir)
    paths = []
    for i in range(1, variants + 1):
        name = f"{prefix}-{i}"
        paths.append(synth_snapshot(catalogs, out / f"{name}.duckdb", base_seed * 1000 + i, name, spec))
    return paths


def open_synth(path: str | Path) -> duckdb.DuckDBPyConnection:
    """A read-only connection to a synthetic variant written by `synth_snapshot`."""
    from nlq.errors import UsageError

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"no synthetic snapshot at {path}: create it with `nlq catalog synth`")
    return duckdb.connect(str(path), read_only=True)
