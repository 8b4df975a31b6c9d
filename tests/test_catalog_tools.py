"""Minimal catalogs, merge, show/search and --from-file, through the library and the CLI."""

from __future__ import annotations

import json

from click.testing import CliRunner

from nlq.catalog import Catalog, infer_unit, load_catalog
from nlq.catalog_import.files import import_file
from nlq.catalog_tools import merge_catalogs, search, write_atomic
from nlq.cli import main


def test_minimal_catalog_infers_types_and_units(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(
        "payments_processed_total: {region: [eu, us]}\n"
        "payment_latency_seconds_bucket: {le: ['0.1', '+Inf'], region: [eu]}\n"
        "heap_used_bytes: {}\n"
        "cache_hit_ratio: {cache: [sessions]}\n"
        "workers_busy:\n"
    )
    catalog = load_catalog(path)
    kinds = {n: (m.type, m.unit) for n, m in catalog.metrics.items()}
    assert kinds == {
        "payments_processed_total": ("counter", ""),
        "payment_latency_seconds_bucket": ("histogram", "seconds"),
        "heap_used_bytes": ("gauge", "bytes"),
        "cache_hit_ratio": ("gauge", "ratio"),
        "workers_busy": ("gauge", ""),
    }
    assert catalog.metrics["payments_processed_total"].labels == {"region": ["eu", "us"]}


def test_infer_unit():
    assert infer_unit("node_network_receive_bytes_total") == "bytes"
    assert infer_unit("go_gc_duration_seconds_count") == "seconds"
    assert infer_unit("seconds") == ""


def test_minimal_catalog_errors_are_clear(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("orders_total: [eu, us]\n")
    result = CliRunner().invoke(main, ["catalog", "show", str(path)])
    assert result.exit_code == 2 and "must map label names to value lists" in result.output


def test_merge_unions_labels_and_keeps_known_types():
    a = Catalog.from_dict({"dialect": "promql", "metrics": {
        "up": {"type": "gauge", "help": "Target up.", "labels": {"job": ["api"]}}}})
    b = Catalog.from_dict({"up": {"job": ["web"], "instance": ["a:1"]}, "orders_total": {}})
    merged = merge_catalogs(a, b)
    assert merged.metrics["up"].labels == {"instance": ["a:1"], "job": ["api", "web"]}
    assert merged.metrics["up"].help == "Target up."
    assert set(merged.metrics) == {"up", "orders_total"}


def test_merge_refuses_two_dialects():
    a = Catalog("promql")
    b = Catalog("logql")
    result = None
    try:
        merge_catalogs(a, b)
    except Exception as exc:  # noqa: BLE001
        result = str(exc)
    assert result and "cannot merge" in result


def test_cli_merge_and_show(tmp_path):
    a, b, out = tmp_path / "a.json", tmp_path / "b.yaml", tmp_path / "c.json"
    a.write_text(json.dumps({"http_requests_total": {"service": ["cart"]}}))
    b.write_text("http_requests_total: {service: [checkout]}\nqueue_depth: {queue: [emails]}\n")
    result = CliRunner().invoke(main, ["catalog", "merge", str(a), str(b), "-o", str(out)])
    assert result.exit_code == 0, result.output
    merged = load_catalog(out)
    assert merged.metrics["http_requests_total"].labels["service"] == ["cart", "checkout"]
    shown = CliRunner().invoke(main, ["catalog", "show", str(out), "--search", "emails"])
    assert shown.exit_code == 0 and "queue_depth (gauge)" in shown.output and "http_requests" not in shown.output
    as_json = CliRunner().invoke(main, ["catalog", "show", str(out), "--json", "--search", "checkout"])
    assert list(json.loads(as_json.output)["metrics"]) == ["http_requests_total"]
    nothing = CliRunner().invoke(main, ["catalog", "show", str(out), "--search", "zzz"])
    assert nothing.exit_code == 1 and "nothing matches" in nothing.output


def test_search_looks_at_values_and_help():
    catalog = Catalog.from_dict({"dialect": "promql", "metrics": {
        "a": {"type": "gauge", "help": "Queue latency.", "labels": {}},
        "b": {"type": "gauge", "help": "", "labels": {"x": ["LATENCY-p99"]}},
        "c": {"type": "gauge", "help": "", "labels": {}}}})
    assert sorted(search(catalog, "latency").metrics) == ["a", "b"]


def test_from_file_reads_a_saved_series_answer(tmp_path):
    saved = {"status": "success", "data": [
        {"__name__": "rpc_duration_seconds_bucket", "le": "0.1", "svc": "a"},
        {"__name__": "rpc_duration_seconds_bucket", "le": "+Inf", "svc": "a"},
        {"__name__": "rpc_duration_seconds_count", "svc": "a"},
        {"__name__": "rpc_duration_seconds_sum", "svc": "a"},
        {"__name__": "jobs_total", "svc": "a"}, {"__name__": "jobs_total", "svc": "b"}]}
    path = tmp_path / "series.json"
    path.write_text(json.dumps(saved))
    catalog = import_file(path)
    assert catalog.metrics["rpc_duration_seconds_count"].type == "histogram"
    assert catalog.metrics["rpc_duration_seconds_count"].family == "rpc_duration_seconds"
    assert catalog.metrics["jobs_total"].labels == {"svc": ["a", "b"]}
    meta = {"series": saved, "metadata": {"status": "success", "data": {
        "jobs": [{"type": "counter", "help": "Jobs run.", "unit": ""}]}}}
    path.write_text(json.dumps(meta))
    assert import_file(path).metrics["jobs_total"].help == "Jobs run."
    out = tmp_path / "out.json"
    result = CliRunner().invoke(main, ["catalog", "import", "--from-file", str(path), "-o", str(out)])
    assert result.exit_code == 0 and load_catalog(out).metrics["jobs_total"].type == "counter"


def test_write_atomic_yaml_round_trip(tmp_path):
    catalog = Catalog.from_dict({"up": {"job": ["api"]}})
    path = write_atomic(catalog, tmp_path / "c.yaml")
    assert load_catalog(path).to_dict() == catalog.to_dict()
    assert [p.name for p in tmp_path.iterdir()] == ["c.yaml"]


def test_import_needs_one_source(tmp_path):
    result = CliRunner().invoke(main, ["catalog", "import", "-o", str(tmp_path / "x.json")])
    assert result.exit_code == 2 and "exactly one of" in result.output
