"""Explanations derived from the AST: one sentence that follows the query."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlq import dialects
from nlq.catalog import load_catalog
from nlq.explain import explain

FIXTURES = Path(__file__).parent / "fixtures" / "translate"


def _dialect(name: str):
    try:
        spec = dialects.get(name)
        spec.parse(spec.example)
        return spec
    except Exception as exc:  # noqa: BLE001 - a dialect still being written
        pytest.skip(f"{name} parser not available: {exc}")


def sentence(query: str, dialect: str, catalog=None, question: str = "") -> str:
    return explain(_dialect(dialect).parse(query), dialect, catalog, question=question).sentence


@pytest.fixture(scope="module")
def promql_catalog():
    return load_catalog(FIXTURES / "catalog_promql.json", "promql")


def test_promql_reference_sentence():
    assert sentence('sum by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))', "promql") == (
        "Per-second rate of HTTP requests for checkout with a 5xx status code, over 5-minute windows, "
        "summed by status code."
    )


@pytest.mark.parametrize(
    "changed",
    [
        'sum by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[1h]))',  # window
        'sum by (code) (rate(http_requests_total{service="cart",code=~"5.."}[5m]))',  # label value
        'sum by (code) (rate(http_requests_total{service="checkout",code=~"4.."}[5m]))',  # matcher
        'avg by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))',  # aggregation
        'sum by (route) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))',  # grouping
        'sum by (code) (increase(http_requests_total{service="checkout",code=~"5.."}[5m]))',  # function
    ],
)
def test_promql_sentence_follows_the_query(changed):
    base = 'sum by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))'
    assert sentence(changed, "promql") != sentence(base, "promql")


def test_promql_uses_catalog_help(promql_catalog):
    text = sentence("avg_over_time(process_open_fds[10m])", "promql", promql_catalog)
    assert "open file descriptors" in text and "10-minute" in text


def test_promql_histogram_quantile():
    text = sentence(
        'histogram_quantile(0.95, sum by (le) (rate(http_request_duration_seconds_bucket{service="frontend"}[5m])))',
        "promql")
    assert text.startswith("95th percentile of HTTP request duration seconds for frontend")
    assert "bucket" not in text


def test_assumptions_name_what_the_question_left_open():
    spec = _dialect("promql")
    ast = spec.parse('sum by (code) (rate(http_requests_total{code=~"5.."}[5m]))')
    open_question = explain(ast, "promql", question="checkout errors").assumptions
    assert "assumed: 5m window" in open_question
    assert "assumed: sum across series" in open_question
    explicit = explain(ast, "promql", question="total errors per status code over the last 5 minutes").assumptions
    assert explicit == []


def test_logql_sentences():
    base = 'sum by (level) (count_over_time({service="cart"} |= "timeout" | logfmt [5m]))'
    text = sentence(base, "logql")
    assert text == ('Number of log lines from service cart, containing "timeout", parsed as logfmt, '
                    "per 5-minute window, summed by level.")
    for changed in (
        'sum by (level) (count_over_time({service="cart"} |= "timeout" | logfmt [1h]))',
        'sum by (level) (count_over_time({service="checkout"} |= "timeout" | logfmt [5m]))',
        'sum by (service) (count_over_time({service="cart"} |= "timeout" | logfmt [5m]))',
        'max by (level) (count_over_time({service="cart"} |= "timeout" | logfmt [5m]))',
    ):
        assert sentence(changed, "logql") != text
    assert sentence('{service="checkout"} |= "error" | json | status >= 500', "logql") == (
        'Log lines from service checkout, containing "error", parsed as JSON, where status ≥ 500.')


def test_datadog_metrics_sentences():
    base = "avg:system.cpu.user{env:prod,!host:web-1} by {host}.rollup(avg, 60)"
    text = sentence(base, "datadog-metrics")
    assert text == ("Metric system.cpu.user in environment prod and host other than web-1, averaged by host, "
                    "rolled up as the average over 1m intervals.")
    for changed in ("avg:system.cpu.user{env:staging,!host:web-1} by {host}.rollup(avg, 60)",
                    "max:system.cpu.user{env:prod,!host:web-1} by {host}.rollup(avg, 60)",
                    "avg:system.cpu.user{env:prod,!host:web-1} by {env}.rollup(avg, 60)",
                    "avg:system.cpu.user{env:prod,!host:web-1} by {host}.rollup(avg, 300)"):
        assert sentence(changed, "datadog-metrics") != text


def test_datadog_logs_sentences():
    text = sentence("service:web status:error @http.status_code:[500 TO 599] -@usr.id:* timeout", "datadog-logs")
    assert text == ("Logs with service web, status error, status code from 500 to 599, no @usr.id "
                    "and the text timeout.")
    assert sentence("service:cart status:error", "datadog-logs") != sentence("service:cart status:warn",
                                                                              "datadog-logs")
