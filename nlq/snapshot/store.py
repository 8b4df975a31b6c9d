"""Write a variant to DuckDB, prove it bit-identical, open it.

One file per variant, `.cache/snapshots/<name>.duckdb` (or `$NLQ_SNAPSHOT_DIR`),
built on first use.  Tables (timestamps are integers: Prometheus and Datadog in
milliseconds since the epoch, Loki in nanoseconds):

    meta(key, value)                            name, seed, start_ms, end_ms, step_ms, generator
    prom_metadata(metric, type, help, unit, family)   one row per queryable name
    prom_series(series_id, metric, labels MAP(VARCHAR, VARCHAR), labels_key)
    prom_samples(series_id, ts, value, stale)   stale = staleness marker (value NULL)
    log_streams(stream_id, labels MAP(VARCHAR, VARCHAR))
    log_lines(stream_id, ts, line, metadata MAP(VARCHAR, VARCHAR))   ts in ns; metadata empty
    dd_metrics(metric, type, interval_s, unit, description)
    dd_series(series_id, metric, tags VARCHAR[])      tags "key:value", sorted
    dd_points(series_id, ts, value)             ts = interval start; distributions: one row per value
    dd_logs(ts, service, host, status, source, message, tags VARCHAR[], attributes JSON)

`labels_key` is the canonical `{a="x", b="y"}` text (names sorted, without the
metric name), handy for joins and stable ordering.  The log tables are the ones
the LogQL engine (`nlq.engine.logql.storage`) reads.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path

import duckdb
import numpy as np

from nlq.errors import UsageError
from nlq.snapshot.ddgen import build_datadog_metrics
from nlq.snapshot.loggen import build_events, datadog_event, render_loki_line
from nlq.snapshot.promgen import build_prometheus
from nlq.snapshot.traffic import build_traffic
from nlq.snapshot.world import SNAPSHOTS_DIR, load_world

GENERATOR_VERSION = "2"
CHECKSUM_FILE = SNAPSHOTS_DIR / "checksums.json"

# Every table with the ORDER BY that makes its export canonical.
TABLE_ORDER = {
    "meta": "key",
    "prom_metadata": "metric",
    "prom_series": "series_id",
    "prom_samples": "series_id, ts",
    "log_streams": "stream_id",
    "log_lines": "stream_id, ts, line",
    "dd_metrics": "metric",
    "dd_series": "series_id",
    "dd_points": "series_id, ts, value",
    "dd_logs": "ts, service, host, message, attributes",
}


def cache_dir() -> Path:
    default = Path(__file__).resolve().parents[2] / ".cache" / "snapshots"
    return Path(os.environ.get("NLQ_SNAPSHOT_DIR", default))


def snapshot_names() -> list[str]:
    return list(load_world().variants)


def snapshot_path(name: str) -> Path:
    if name not in load_world().variants:
        raise UsageError(f"unknown snapshot {name!r}: choose one of {', '.join(snapshot_names())}")
    return cache_dir() / f"{name}.duckdb"


def labels_key(labels: dict[str, str]) -> str:
    return "{" + ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


def _map_sql(column: str) -> str:
    return f"{column}::JSON::MAP(VARCHAR, VARCHAR)"


def _create(con: duckdb.DuckDBPyConnection, table: str, columns: dict[str, np.ndarray], select: str = "*") -> None:
    """CREATE TABLE `table` from numpy columns, rows in the table's canonical order."""
    con.register("_source", columns)
    try:
        con.execute(f"CREATE TABLE {table} AS SELECT {select} FROM _source ORDER BY {TABLE_ORDER[table]}")
    finally:
        con.unregister("_source")


def build_snapshot(name: str, path: Path | None = None) -> Path:
    """Generate variant `name` and write it to `path` (default: the cache); returns the path."""
    world = load_world()
    variant = world.variant(name)
    path = path or snapshot_path(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    traffic = build_traffic(world, variant)
    prom = build_prometheus(world, variant, traffic)
    events = build_events(world, variant, traffic)
    dd = build_datadog_metrics(world, variant, traffic, prom)

    con = duckdb.connect(str(tmp))
    try:
        meta = {"name": name, "seed": str(variant.seed), "start_ms": str(world.start_ms), "end_ms": str(world.end_ms),
                "step_ms": str(world.step_ms), "generator": GENERATOR_VERSION,
                "incidents": json.dumps(vars(variant.incidents), sort_keys=True)}
        con.execute("CREATE TABLE meta(key VARCHAR, value VARCHAR)")
        con.executemany("INSERT INTO meta VALUES (?, ?)", sorted(meta.items()))

        con.execute("CREATE TABLE prom_metadata(metric VARCHAR, type VARCHAR, help VARCHAR, unit VARCHAR, family VARCHAR)")
        con.executemany("INSERT INTO prom_metadata VALUES (?, ?, ?, ?, ?)",
                        [(m, d["type"], d["help"], d["unit"], d["family"]) for m, d in sorted(prom.metadata.items())])
        order = sorted(range(len(prom.names)), key=lambda i: (prom.names[i], labels_key(prom.labels[i])))
        _create(con, "prom_series", {
            "series_id": np.arange(len(order), dtype=np.int32),
            "metric": np.array([prom.names[i] for i in order], dtype=object),
            "labels_json": np.array([json.dumps(prom.labels[i], sort_keys=True) for i in order], dtype=object),
            "labels_key": np.array([labels_key(prom.labels[i]) for i in order], dtype=object),
        }, f"series_id, metric, {_map_sql('labels_json')} AS labels, labels_key")
        steps = np.arange(prom.rows[0].shape[0], dtype=np.int64)
        ids, ts, values, stale = [], [], [], []
        for sid, i in enumerate(order):
            row = prom.rows[i]
            present = ~np.isnan(row)
            gone = np.zeros_like(present)
            gone[1:] = present[:-1] & ~present[1:]  # a staleness marker where a series vanishes
            keep = present | gone
            base = world.start_ms + prom.offsets_ms[i]
            ids.append(np.full(int(keep.sum()), sid, dtype=np.int32))
            ts.append(base + steps[keep] * world.step_ms)
            values.append(row[keep])
            stale.append(gone[keep])
        _create(con, "prom_samples", {"series_id": np.concatenate(ids), "ts": np.concatenate(ts),
                                      "value": np.concatenate(values), "stale": np.concatenate(stale)},
                "series_id, ts, CASE WHEN stale THEN NULL ELSE value END AS value, stale")

        streams: dict[str, int] = {}
        stream_labels: list[dict] = []
        entry_stream, entry_ts, entry_line = [], [], []
        dd_logs = []
        for event in events:
            service = world.services[event.service]
            labels = {"service": event.service, "env": world.env, "level": event.level, "pod": event.pod,
                      "namespace": world.namespace}
            key = labels_key(labels)
            if key not in streams:
                streams[key] = len(streams)
                stream_labels.append(labels)
            entry_stream.append(streams[key])
            entry_ts.append(event.ts_ns)
            entry_line.append(render_loki_line(event, service.log_format))
            dd_logs.append(datadog_event(world, event, service.language))
        # stream ids in label order, so that the numbering does not depend on event order
        ranked = {old: new for new, old in enumerate(sorted(range(len(stream_labels)),
                                                            key=lambda s: labels_key(stream_labels[s])))}
        _create(con, "log_streams", {
            "stream_id": np.array([ranked[s] for s in range(len(stream_labels))], dtype=np.int32),
            "labels_json": np.array([json.dumps(lab, sort_keys=True) for lab in stream_labels], dtype=object),
        }, f"stream_id, {_map_sql('labels_json')} AS labels")
        _create(con, "log_lines", {"stream_id": np.array([ranked[s] for s in entry_stream], dtype=np.int32),
                                      "ts": np.array(entry_ts, dtype=np.int64),
                                      "line": np.array(entry_line, dtype=object)},
                "stream_id, ts, line, '{}'::JSON::MAP(VARCHAR, VARCHAR) AS metadata")

        logs = {k: np.array([e[k] for e in dd_logs], dtype=object) for k in
                ("service", "host", "status", "source", "message", "attributes")}
        logs["ts"] = np.array([e["ts_ms"] for e in dd_logs], dtype=np.int64)
        logs["tags_json"] = np.array([json.dumps(e["tags"]) for e in dd_logs], dtype=object)
        _create(con, "dd_logs", logs, "ts, service, host, status, source, message, "
                "tags_json::JSON::VARCHAR[] AS tags, attributes::JSON AS attributes")

        con.execute("CREATE TABLE dd_metrics(metric VARCHAR, type VARCHAR, interval_s INTEGER, unit VARCHAR, "
                    "description VARCHAR)")
        con.executemany("INSERT INTO dd_metrics VALUES (?, ?, ?, ?, ?)",
                        [(m, d["type"], d["interval_s"], d["unit"], d["description"])
                         for m, d in sorted(dd.metadata.items())])
        dd_order = sorted(range(len(dd.names)), key=lambda i: (dd.names[i], dd.tags[i]))
        _create(con, "dd_series", {"series_id": np.arange(len(dd_order), dtype=np.int32),
                                   "metric": np.array([dd.names[i] for i in dd_order], dtype=object),
                                   "tags_json": np.array([json.dumps(dd.tags[i]) for i in dd_order], dtype=object)},
                "series_id, metric, tags_json::JSON::VARCHAR[] AS tags")
        _create(con, "dd_points", {
            "series_id": np.concatenate([np.full(len(dd.ts_ms[i]), sid, dtype=np.int32) for sid, i in enumerate(dd_order)]),
            "ts": np.concatenate([dd.ts_ms[i] for i in dd_order]),
            "value": np.concatenate([dd.values[i] for i in dd_order]),
        })
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    return path


def open_snapshot(name: str | Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to snapshot `name`, generating it on first use.

    `name` is a shop variant (`shop-a`), or the path of a DuckDB file in the
    same layout (a synthesized variant, `nlq catalog synth` or
    `nlq.snapshot.worlds.catalog_world`), which is opened as it is.

    >>> con = open_snapshot("shop-a")
    >>> con.execute("SELECT count(*) FROM prom_series WHERE metric = 'up'").fetchone()[0] > 0
    True
    """
    if is_snapshot_file(name):
        return open_snapshot_file(Path(name), read_only)
    path = snapshot_path(str(name))
    if not path.exists() or _stale_build(path):
        build_once(path, lambda: build_snapshot(str(name), path), lambda: not _stale_build(path))
    return duckdb.connect(str(path), read_only=read_only)


def is_snapshot_file(name: str | Path) -> bool:
    """True when `name` names a DuckDB file rather than a shop variant."""
    text = str(name)
    return isinstance(name, Path) or text.endswith(".duckdb") or os.sep in text


def open_snapshot_file(path: Path, read_only: bool = True) -> duckdb.DuckDBPyConnection:
    """A connection to a snapshot file, with a clear error when it is missing or not one."""
    if not path.is_file():
        raise UsageError(f"no snapshot file at {path}: make one with `nlq catalog synth --catalog FILE`")
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.Error as exc:
        raise UsageError(f"{path} is not a DuckDB snapshot: {exc}") from exc
    try:
        con.execute("SELECT value FROM meta WHERE key = 'end_ms'").fetchone()
    except duckdb.Error as exc:
        con.close()
        raise UsageError(f"{path} is not an nlq snapshot (no meta table)") from exc
    return con


def _stale_build(path: Path) -> bool:
    """True when the cached file was made by another generator version (rebuild it)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
        try:
            row = con.execute("SELECT value FROM meta WHERE key = 'generator'").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        return True
    return row is None or row[0] != GENERATOR_VERSION


def build_once(path: Path, build, is_fresh, timeout_s: float = 600) -> None:
    """Run `build()` (which writes `path`) once even when several processes ask at once.

    A lock file next to `path` serialises builders; a waiter returns as soon as
    `path` exists and `is_fresh()` holds.  A lock older than `timeout_s` is taken
    to belong to a dead process and removed.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    lock = path.with_suffix(".lock")
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
            break
        except FileExistsError:
            try:
                old = time.time() - lock.stat().st_mtime > timeout_s
            except FileNotFoundError:
                continue
            if time.monotonic() > deadline or old:
                lock.unlink(missing_ok=True)
                continue
            time.sleep(0.5)
            if path.exists() and is_fresh():
                return
    try:
        os.close(fd)
        if not path.exists() or not is_fresh():
            build()
    finally:
        lock.unlink(missing_ok=True)


def table_checksums(con: duckdb.DuckDBPyConnection) -> dict[str, str]:
    """sha256 of each table's columns, rows in a fixed order (the proof of bit-identity)."""
    out = {}
    for table, order in TABLE_ORDER.items():
        digest = hashlib.sha256()
        columns = con.execute(f"SELECT * FROM {table} ORDER BY {order}").fetchnumpy()
        for column, values in columns.items():
            digest.update(column.encode() + b"\0")
            if values.dtype == object:  # strings, maps, lists: their repr is exact
                digest.update("\x1f".join(map(repr, values)).encode())
            else:
                mask = np.ma.getmaskarray(values)
                digest.update(np.ma.filled(values, 0).tobytes() + mask.tobytes())
        out[table] = digest.hexdigest()
    return out


def load_checksums() -> dict[str, dict[str, str]]:
    return json.loads(CHECKSUM_FILE.read_text()) if CHECKSUM_FILE.exists() else {}
