"""The snapshots: bit-identical regeneration, one structure across variants, the
Prometheus/Loki/Datadog conventions the engines rely on, and visible incidents."""

from __future__ import annotations

import json

import numpy as np
import pytest

from nlq.snapshot import build_snapshot, open_snapshot, snapshot_names, table_checksums
from nlq.snapshot.catalogs import catalog_path, derive_catalogs
from nlq.snapshot.store import load_checksums
from nlq.snapshot.world import load_world

NAMES = snapshot_names()


@pytest.fixture(scope="module")
def con():
    connection = open_snapshot(NAMES[0])
    yield connection
    connection.close()


def labels_of(con, metric):
    rows = con.execute("SELECT DISTINCT unnest(map_keys(labels)) FROM prom_series WHERE metric = ?", [metric]).fetchall()
    return {r[0] for r in rows}


def test_at_least_three_variants():
    assert len(NAMES) >= 3
    assert len({load_world().variants[n]["seed"] for n in NAMES}) == len(NAMES)


@pytest.mark.slow
@pytest.mark.parametrize("name", NAMES)
def test_regeneration_is_bit_identical(name, tmp_path):
    """A fresh build hashes to the committed checksums, table by table."""
    path = build_snapshot(name, tmp_path / f"{name}.duckdb")
    import duckdb

    fresh = duckdb.connect(str(path), read_only=True)
    assert table_checksums(fresh) == load_checksums()[name]
    fresh.close()


def test_cached_snapshot_matches_committed_checksums(con):
    assert table_checksums(con) == load_checksums()[NAMES[0]]


def _structure(name):
    c = open_snapshot(name)
    out = (
        c.execute("SELECT metric, labels_key FROM prom_series ORDER BY series_id").fetchall(),
        c.execute("SELECT labels FROM log_streams ORDER BY stream_id").fetchall(),
        c.execute("SELECT metric, tags FROM dd_series ORDER BY series_id").fetchall(),
        c.execute("SELECT * FROM prom_metadata ORDER BY metric").fetchall(),
        c.execute("SELECT * FROM dd_metrics ORDER BY metric").fetchall(),
    )
    c.close()
    return out


def test_variants_share_one_structure_but_not_values():
    first = _structure(NAMES[0])
    sums = set()
    for name in NAMES:
        assert _structure(name) == first, name
        sums.add(load_checksums()[name]["prom_samples"])
    assert len(sums) == len(NAMES)


def test_window_and_resolution(con):
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    assert int(meta["end_ms"]) == 1793534400000  # 2026-11-01T12:00:00Z
    assert int(meta["end_ms"]) - int(meta["start_ms"]) >= 6 * 3600 * 1000
    assert int(meta["step_ms"]) == 15000
    lo, hi, n = con.execute("SELECT min(ts), max(ts), count(*) FROM prom_samples WHERE series_id = 0").fetchone()
    assert n >= 1440 and int(meta["start_ms"]) < lo and hi < int(meta["end_ms"])


def test_required_prometheus_label_sets(con):
    assert labels_of(con, "up") == {"job", "instance"}
    assert labels_of(con, "http_requests_total") == {"service", "method", "route", "status_code", "pod"}
    assert labels_of(con, "http_request_duration_seconds_bucket") == {"service", "route", "le", "pod"}
    assert labels_of(con, "http_request_duration_seconds_sum") == {"service", "route", "pod"}
    assert labels_of(con, "http_request_duration_seconds_count") == {"service", "route", "pod"}
    assert labels_of(con, "process_cpu_seconds_total") == {"service", "pod"}
    assert labels_of(con, "container_memory_working_set_bytes") == {"namespace", "pod", "container"}
    services = {r[0] for r in con.execute(
        "SELECT DISTINCT labels['service'] FROM prom_series WHERE metric = 'http_requests_total'").fetchall()}
    assert {"frontend", "checkout", "cart", "payments", "inventory", "search", "auth", "shipping"} <= services


def test_prometheus_families_present(con):
    metrics = {r[0] for r in con.execute("SELECT metric FROM prom_metadata").fetchall()}
    for name in ("node_cpu_seconds_total", "node_memory_MemAvailable_bytes", "container_cpu_usage_seconds_total",
                 "grpc_server_handled_total", "db_query_duration_seconds_bucket", "db_client_connections",
                 "kafka_consumergroup_lag", "rabbitmq_queue_messages_ready", "go_gc_duration_seconds"):
        assert name in metrics
    types = dict(con.execute("SELECT metric, type FROM prom_metadata").fetchall())
    assert {types[m] for m in metrics} == {"counter", "gauge", "histogram", "summary"}
    for metric, type_ in types.items():
        if metric.endswith("_total"):
            assert type_ == "counter", metric


def _matrix(con, metric, where=""):
    """{labels_key: values over time (stale markers dropped)}."""
    rows = con.execute(
        "SELECT s.labels_key, list(p.value ORDER BY p.ts) FROM prom_series s JOIN prom_samples p USING (series_id) "
        f"WHERE s.metric = ? AND NOT p.stale {where} GROUP BY s.labels_key", [metric]).fetchall()
    return {k: np.array(v, dtype=float) for k, v in rows}


def test_counters_only_drop_at_a_restart(con):
    resets = 0
    for metric in ("http_requests_total", "process_cpu_seconds_total", "node_cpu_seconds_total"):
        for key, values in _matrix(con, metric).items():
            drops = int((np.diff(values) < 0).sum())
            assert drops <= 1, (metric, key)
            resets += drops
    assert resets > 0  # the cart pod's restart resets its counters


def test_histograms_are_consistent(con):
    rows = con.execute("""
        SELECT s.labels['pod'], s.labels['route'], s.labels['le'], p.ts, p.value
        FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'http_request_duration_seconds_bucket' AND NOT p.stale
          AND s.labels['service'] = 'checkout'""").fetchall()
    buckets: dict = {}
    for pod, route, le, ts, value in rows:
        buckets.setdefault((pod, route, ts), {})[float(le)] = value
    counts = {(r[0], r[1], r[2]): r[3] for r in con.execute("""
        SELECT s.labels['pod'], s.labels['route'], p.ts, p.value FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'http_request_duration_seconds_count' AND NOT p.stale
          AND s.labels['service'] = 'checkout'""").fetchall()}
    assert len(buckets) == len(counts) > 1000
    for key, by_le in buckets.items():
        ordered = [by_le[le] for le in sorted(by_le)]
        assert ordered == sorted(ordered), key
        assert ordered[-1] == counts[key]


def test_staleness_markers_where_series_end(con):
    stale, ending = con.execute("""
        SELECT count(*) FILTER (WHERE stale), count(DISTINCT series_id) FILTER (WHERE stale)
        FROM prom_samples""").fetchone()
    assert stale > 0
    assert con.execute("SELECT count(*) FROM prom_samples WHERE stale AND value IS NOT NULL").fetchone()[0] == 0
    # The old checkout pods stop and the new ones start inside the window.
    first_last = con.execute("""
        SELECT s.labels['instance'], min(p.ts), max(p.ts) FROM prom_series s JOIN prom_samples p USING (series_id)
        WHERE s.metric = 'up' AND s.labels['job'] = 'checkout' GROUP BY 1""").fetchall()
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    start, end = int(meta["start_ms"]), int(meta["end_ms"])
    assert any(lo > start + 15000 for _, lo, _ in first_last)
    assert any(hi < end - 15000 for _, _, hi in first_last)


def test_incidents_are_visible(con):
    inc = json.loads(dict(con.execute("SELECT key, value FROM meta").fetchall())["incidents"])
    meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    start, step = int(meta["start_ms"]), int(meta["step_ms"])

    def errors_per_minute(lo, hi):
        return con.execute("""
            SELECT count(*) / ((? - ?) / 60000.0) FROM dd_logs
            WHERE service = 'payments' AND status = 'error' AND ts >= ? AND ts < ?""",
                           [hi, lo, lo, hi]).fetchone()[0]

    spike = errors_per_minute(start + inc["error_start"] * step, start + inc["error_end"] * step)
    calm = errors_per_minute(start, start + inc["error_start"] * step)
    assert spike > 20 * max(calm, 0.1)
    # The restarted cart pod logged an OOM restart.
    assert con.execute("SELECT count(*) FROM log_lines WHERE line LIKE '%OOMKilled%'").fetchone()[0] == 1


def test_logs_have_three_formats_and_the_stream_labels(con):
    n = con.execute("SELECT count(*) FROM log_lines").fetchone()[0]
    assert 10_000 <= n <= 100_000
    keys = {r[0] for r in con.execute("SELECT DISTINCT unnest(map_keys(labels)) FROM log_streams").fetchall()}
    assert {"service", "env", "level", "pod"} <= keys
    json_lines = con.execute("SELECT count(*) FROM log_lines WHERE line LIKE '{%'").fetchone()[0]
    logfmt_lines = con.execute("SELECT count(*) FROM log_lines WHERE line LIKE 'ts=%'").fetchone()[0]
    assert json_lines > 1000 and logfmt_lines > 1000 and n - json_lines - logfmt_lines > 1000
    sample = con.execute("SELECT line FROM log_lines WHERE line LIKE '{%' LIMIT 1").fetchone()[0]
    assert {"trace_id", "status", "duration", "bytes"} <= set(json.loads(sample))
    ordered = con.execute("""SELECT bool_and(ok) FROM (SELECT ts >= lag(ts, 1, 0) OVER (PARTITION BY stream_id ORDER BY ts)
                             AS ok FROM log_lines)""").fetchone()[0]
    assert ordered


def test_datadog_metrics_and_logs(con):
    types = dict(con.execute("SELECT metric, type FROM dd_metrics").fetchall())
    assert types["trace.http.request.hits"] == "count"
    assert types["trace.http.request.errors"] == "count"
    assert {"count", "rate", "gauge", "distribution"} == set(types.values())
    tags = {r[0].split(":")[0] for r in con.execute(
        "SELECT DISTINCT unnest(tags) FROM dd_series WHERE metric = 'trace.http.request.duration'").fetchall()}
    assert {"service", "resource_name", "http.status_code", "env"} <= tags
    host_tags = {r[0].split(":")[0] for r in con.execute(
        "SELECT DISTINCT unnest(tags) FROM dd_series WHERE metric = 'system.cpu.user'").fetchall()}
    assert {"host", "env"} <= host_tags
    row = con.execute("SELECT attributes FROM dd_logs WHERE status = 'error' AND service = 'payments' LIMIT 1").fetchone()
    attributes = json.loads(row[0])
    assert attributes["http"]["status_code"] >= 500 and "path" in attributes["http"]["url_details"]
    assert attributes["duration"] > 0 and attributes["usr"]["id"].startswith("u-")


@pytest.mark.parametrize("dialect", ["promql", "logql", "datadog-metrics", "datadog-logs"])
def test_committed_catalogs_equal_the_data(dialect):
    derived = _derived_catalogs()[dialect].to_dict()
    assert json.loads(catalog_path(dialect).read_text()) == derived, "run: nlq snapshot catalog"


_CATALOGS: dict = {}


def _derived_catalogs():
    if not _CATALOGS:
        _CATALOGS.update(derive_catalogs())
    return _CATALOGS


def test_catalog_lists_histogram_families():
    promql = _derived_catalogs()["promql"]
    bucket = promql.metrics["http_request_duration_seconds_bucket"]
    assert bucket.type == "histogram" and bucket.family == "http_request_duration_seconds"
    assert "+Inf" in bucket.labels["le"]
    assert promql.metrics["http_requests_total"].type == "counter"


def test_samples_lie_off_whole_seconds(con):
    """Queries evaluated on whole seconds never meet a sample on a window's edge, where
    Prometheus 2.x and 3.x disagree (docs/prometheus-versions.md, rows 1 and 2)."""
    assert con.execute("SELECT count(*) FROM prom_samples WHERE ts % 1000 = 0").fetchone()[0] == 0


def test_cli_list_and_catalog_check():
    from click.testing import CliRunner

    from nlq.cli import main

    runner = CliRunner()
    listed = runner.invoke(main, ["snapshot", "list", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [row["name"] for row in json.loads(listed.output)] == NAMES
    checked = runner.invoke(main, ["snapshot", "catalog", "--check"])
    assert checked.exit_code == 0, checked.output
    unknown = runner.invoke(main, ["snapshot", "build", "nope"])
    assert unknown.exit_code == 2 and "unknown snapshot" in unknown.output
