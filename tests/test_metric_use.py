"""PromQL that names no metric, takes the rate of a gauge, or groups by a label its series never carry."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.cli import main
from nlq.doubts import doubts
from nlq.metric_use import labels_of, misused_metric
from nlq.training.pairs import generate_pairs

ROOT = Path(__file__).resolve().parents[1]
FIXTURE = Path(__file__).parent / "fixtures" / "translate" / "catalog_promql.json"
CATALOG = load_catalog(FIXTURE, "promql")
PROMQL = dialects.get("promql")


def why(query: str, catalog: Catalog | None = CATALOG) -> str | None:
    finding = misused_metric(PROMQL.parse(query), catalog)
    return finding and finding.message


@pytest.mark.parametrize(("query", "words"), [
    ("rate(up[5m])", "up is a gauge: rate()"),
    ('sum(increase(process_open_fds{job="api"}[1h]))', "process_open_fds is a gauge: increase()"),
    ("irate(node_memory_MemAvailable_bytes[5m]) > 0", "node_memory_MemAvailable_bytes is a gauge: irate()"),
    ('sum by (node) (rate(node_cpu_seconds_total{mode="user"}[1m]))', "carries the label node"),
    ("sum by (service) (sum by (route) (rate(http_requests_total[5m])))", "carries the label service"),
    ("sum by (le) (histogram_quantile(0.9, rate(http_request_duration_seconds_bucket[5m])))",
     "carries the label le"),
    ('{job="api"}', '`{job="api"}` names no metric'),
    ('count({instance=~".+"})', "names no metric"),
])
def test_a_misused_metric_is_named(query, words):
    assert words in (why(query) or "")


@pytest.mark.parametrize("query", [
    'sum by (route) (rate(http_requests_total{service="checkout"}[5m]))',
    "histogram_quantile(0.99, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m])))",
    "sum(rate(http_request_duration_seconds_count[5m]))",  # a histogram's _count only goes up
    "deriv(node_memory_MemAvailable_bytes[10m])",
    "max_over_time(up[1h])",
    "sum by (instance) (up) / sum by (instance) (node_memory_MemAvailable_bytes)",
    # the labels of either side may survive a join: nothing is judged that might be right
    "sum by (job) (up * on (instance) group_left node_memory_MemAvailable_bytes)",
    'sum by (team) (label_replace(up, "team", "$1", "job", "(.*)"))',
    "sum by (x) (rate(some_metric_the_catalog_lacks[5m]))",
    'count by (job) ({__name__=~"node_.*"})',
    "sum without (instance) (up)",
    "topk(3, sum by (job) (process_open_fds))",
])
def test_what_fits_the_catalog_or_cannot_be_judged_is_left_alone(query):
    assert why(query) is None


def test_nothing_is_judged_without_a_promql_catalog():
    assert why("rate(up[5m])", None) is None
    assert why('{job="api"}', Catalog("logql")) is None


def test_the_labels_of_an_expression_follow_aggregation_and_calls():
    metrics = CATALOG.metrics
    assert labels_of(PROMQL.parse("rate(http_requests_total[5m])"), metrics) == {"service", "code", "method", "route"}
    assert labels_of(PROMQL.parse("sum by (service, nope) (up)"), metrics) == set()
    assert labels_of(PROMQL.parse("sum without (instance) (up)"), metrics) == {"job"}
    assert labels_of(PROMQL.parse("histogram_quantile(0.5, http_request_duration_seconds_bucket)"),
                     metrics) == {"service", "route"}
    assert labels_of(PROMQL.parse("vector(1)"), metrics) == set()
    assert labels_of(PROMQL.parse("rate(unknown_total[5m])"), metrics) is None


def test_the_finding_points_at_the_part_to_change():
    query = 'sum(rate(up[5m])) + sum by (node) (rate(node_cpu_seconds_total[5m]))'
    finding = misused_metric(PROMQL.parse(query), CATALOG)
    assert query[slice(*finding.span)] == "rate(up[5m])"
    query = 'sum by (node) (rate(node_cpu_seconds_total[5m]))'
    assert misused_metric(PROMQL.parse(query), CATALOG).span == (0, len(query))


def test_validate_warns_and_the_translator_retries_it():
    result = CliRunner().invoke(main, ["validate", "-d", "promql", "--catalog", str(FIXTURE), "rate(up[5m])"])
    assert result.exit_code == 0, result.output
    assert "up is a gauge" in result.output
    from nlq.translate import DOUBTFUL

    assert "metric" in DOUBTFUL
    assert [code for code, _ in doubts(PROMQL.parse("rate(up[5m])"), "rate(up[5m])", CATALOG)] == ["metric"]


@pytest.mark.parametrize("world", ["", "renamed/"])
def test_no_generated_pair_and_no_curated_pair_misuses_a_metric(world):
    """The adapter learns from these: each would teach the mistake the doubt retries."""
    catalog = load_catalog(ROOT / "snapshots" / world / "catalog" / "promql.json", "promql")
    queries = [p.query for p in generate_pairs(catalog, n=400, seed=0) if p.dialect == "promql"]
    if not world:
        queries += [json.loads(line)["query"] for line in (ROOT / "fewshot" / "promql.jsonl").open()]
    assert len(queries) > 300
    assert [(q, why(q, catalog)) for q in queries if why(q, catalog)] == []
