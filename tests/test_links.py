"""Deep links: Grafana Explore panes, Prometheus /graph, Datadog explorers."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

from nlq.links import (
    datadog_base,
    datadog_logs,
    datadog_metrics,
    grafana_explore,
    links,
    prometheus_graph,
)

EXPR = 'sum by (job) (rate(http_requests_total{code=~"5.."}[5m]))'


def test_grafana_explore_matches_the_documented_example(monkeypatch):
    monkeypatch.setenv("NLQ_GRAFANA_URL", "https://grafana.example.com/")
    url = grafana_explore(EXPR, "prometheus", "prom-uid")
    # the worked example of ../shared/ECOSYSTEM.md, pane id "nlq"
    assert url == (
        "https://grafana.example.com/explore?schemaVersion=1&orgId=1&panes=%7B%22nlq%22%3A%7B%22datasource%22%3A"
        "%22prom-uid%22%2C%22queries%22%3A%5B%7B%22refId%22%3A%22A%22%2C%22datasource%22%3A%7B%22type%22%3A"
        "%22prometheus%22%2C%22uid%22%3A%22prom-uid%22%7D%2C%22expr%22%3A%22sum%20by%20%28job%29%20%28rate"
        "%28http_requests_total%7Bcode%3D~%5C%225..%5C%22%7D%5B5m%5D%29%29%22%2C%22range%22%3Atrue%2C"
        "%22instant%22%3Afalse%2C%22editorMode%22%3A%22code%22%7D%5D%2C%22range%22%3A%7B%22from%22%3A"
        "%22now-1h%22%2C%22to%22%3A%22now%22%7D%7D%7D"
    )


def test_grafana_panes_round_trip_with_awkward_characters():
    expr = 'sum(rate(x{path="/a&b#c"}[5m])) % 2 + 1'
    url = grafana_explore(expr, "loki", "loki-uid")
    params = parse_qs(urlsplit(url).query)
    panes = json.loads(params["panes"][0])
    pane = panes["nlq"]
    assert pane["queries"][0]["expr"] == expr
    assert pane["queries"][0]["queryType"] == "range"
    assert pane["range"] == {"from": "now-1h", "to": "now"}  # strings, as Grafana requires
    assert "&b" not in url and "#" not in url and "+" not in url


def test_prometheus_graph_encodes_the_whole_expression(monkeypatch):
    monkeypatch.setenv("NLQ_PROMETHEUS_URL", "http://prom:9090")
    url = prometheus_graph("a + b == 1")
    assert url.startswith("http://prom:9090/graph?g0.expr=a%20%2B%20b%20%3D%3D%201&g0.tab=0")
    assert parse_qs(urlsplit(url).query)["g0.expr"] == ["a + b == 1"]


def test_datadog_sites(monkeypatch):
    monkeypatch.delenv("NLQ_DATADOG_SITE", raising=False)
    assert datadog_base() == "https://app.datadoghq.com"
    assert datadog_base("datadoghq.eu") == "https://app.datadoghq.eu"
    assert datadog_base("us5.datadoghq.com") == "https://us5.datadoghq.com"
    assert datadog_base("ddog-gov.com") == "https://app.ddog-gov.com"
    monkeypatch.setenv("NLQ_DATADOG_SITE", "ap1.datadoghq.com")
    assert datadog_logs("service:api").startswith("https://ap1.datadoghq.com/logs?query=service%3Aapi")


def test_datadog_metrics_explorer_parameters():
    url = datadog_metrics("avg:system.cpu.user{env:prod} by {host}", site="datadoghq.com")
    params = parse_qs(urlsplit(url).query)
    assert url.startswith("https://app.datadoghq.com/metric/explorer?")
    assert params["exp_metric"] == ["system.cpu.user"] and params["exp_agg"] == ["avg"]
    assert params["exp_scope"] == ["env:prod"] and params["exp_group"] == ["host"]


def test_datadog_logs_time_range():
    url = datadog_logs("service:api status:error", site="datadoghq.eu", from_ts=1767225600000, to_ts=1767229200000)
    assert url == ("https://app.datadoghq.eu/logs?query=service%3Aapi%20status%3Aerror"
                   "&from_ts=1767225600000&to_ts=1767229200000&live=false")


def test_links_per_dialect():
    assert [link.title for link in links("up", "promql")] == ["Grafana Explore", "Prometheus"]
    assert [link.title for link in links('{app="x"}', "logql")] == ["Grafana Explore"]
    assert [link.title for link in links("avg:m{*}", "datadog-metrics")] == ["Datadog Metrics Explorer"]
    assert [link.title for link in links("service:x", "datadog-logs")] == ["Datadog Log Explorer"]
