"""Catalog slices: value linking and histogram families in the metric ranking."""

from __future__ import annotations

from pathlib import Path

from nlq.catalog import Catalog, load_catalog
from nlq.prompting.catalog_slice import catalog_slice, compact_catalog_slice

ROOT = Path(__file__).resolve().parents[1]
SERVICES = ["billing", "storefront", "lookup"]
CATALOG = Catalog.from_dict({
    "node_memory_available_bytes": {"instance": ["ip-10-0-0-1:9100", "ip-10-0-0-2:9100"]},
    "node_memory_free_bytes": {"instance": ["ip-10-0-0-1:9100", "ip-10-0-0-2:9100"]},
    "node_memory_total_bytes": {"instance": ["ip-10-0-0-1:9100", "ip-10-0-0-2:9100"]},
    "container_memory_working_set_bytes": {"container": SERVICES, "pod": ["billing-7f-x1", "lookup-2c-k9"]},
    "api_latency_seconds_bucket": {"service": SERVICES, "route": ["/pay", "/find"], "le": ["0.1", "1", "+Inf"]},
    "api_latency_seconds_sum": {"service": SERVICES, "route": ["/pay", "/find"]},
    "api_latency_seconds_count": {"service": SERVICES, "route": ["/pay", "/find"]},
    "db_latency_seconds_bucket": {"db": ["orders"], "le": ["0.1", "1", "+Inf"]},
    "db_latency_seconds_sum": {"db": ["orders"]},
    "db_latency_seconds_count": {"db": ["orders"]},
    "orders_placed_total": {"service": ["billing"], "region": ["north"]},
    # the services are everywhere, as in a real catalog: "billing" alone says little to BM25
    **{f"{name}": {"service": SERVICES, "pod": ["billing-7f-x1", "lookup-2c-k9"]}
       for name in ("process_cpu_seconds_total", "process_open_fds", "go_goroutines", "api_requests_total",
                    "process_resident_bytes")},
})


def test_metrics_carrying_the_named_value_outrank_better_name_matches():
    names = catalog_slice(CATALOG, "how much memory are the billing pods using", k=2).names
    assert names[0] == "container_memory_working_set_bytes"
    # a node metric has no series for billing, however well it matches "memory"
    assert all("billing" in sum(CATALOG.metrics[n].labels.values(), []) for n in names), names


def test_without_a_named_value_the_name_match_decides():
    names = catalog_slice(CATALOG, "free memory on the nodes", k=1).names
    assert names == ["node_memory_free_bytes"]


def test_a_value_that_is_also_a_metric_name_word_links_nothing():
    # "orders" is a db value, but also the name of orders_placed_total: weighed as a name
    names = catalog_slice(CATALOG, "orders placed in the north", k=1).names
    assert names == ["orders_placed_total"]


def test_a_histogram_family_takes_one_of_the_k_places():
    catalog = load_catalog(ROOT / "snapshots" / "catalog" / "promql.json", "promql")
    slice_ = compact_catalog_slice(catalog, "p99 http request duration of checkout", k=2)
    lines = slice_.text.splitlines()
    assert len(lines) == 2  # bucket, sum and count would have filled both places
    assert lines[0].startswith("http_request_duration_seconds_bucket http_request_duration_seconds_count")
