"""Semantic and catalog checks of the Datadog dialects, with the message a person sees."""

from __future__ import annotations

import pytest

from nlq.catalog import Catalog, LogField, Metric
from nlq.validation import validate

METRICS = Catalog(
    "datadog-metrics",
    metrics={
        "system.cpu.user": Metric(
            "system.cpu.user", "gauge", labels={"host": ["web-1", "web-2"], "env": ["prod", "dev"]}
        ),
        "trace.http.request.hits": Metric(
            "trace.http.request.hits", "count", labels={"service": ["cart", "web"]}
        ),
        "checkout.order.value": Metric(
            "checkout.order.value", "distribution", labels={"service": ["checkout"]}
        ),
    },
)
LOGS = Catalog(
    "datadog-logs",
    log_labels={"env": ["prod"], "service": ["web"]},
    log_fields={
        "http.status_code": LogField("http.status_code", "number"),
        "usr.id": LogField("usr.id"),
    },
)


@pytest.mark.parametrize(
    ("query", "message", "hint"),
    [
        (
            "avg:system.cpu.usr{*}",
            "unknown metric 'system.cpu.usr'",
            "did you mean 'system.cpu.user'?",
        ),
        ("avg:system.cpu.user{hots:web-1}", "has no tag 'hots'", "did you mean 'host'?"),
        ("avg:system.cpu.user{host:web-3}", "has no value 'web-3'", "did you mean 'web-"),
        ("avg:system.cpu.user{*} by {hots}", "has no tag 'hots'", "did you mean 'host'?"),
        ("avg:system.cpu.user{*}.as_count()", "no effect on gauge metrics", "remove it"),
        ("p99:system.cpu.user{*}", "needs a distribution metric", "use avg"),
    ],
)
def test_metric_catalog_checks(query, message, hint):
    result = validate(query, "datadog-metrics", METRICS)
    assert not result.valid
    assert message in result.error.message
    assert hint in (result.error.hint or "")


@pytest.mark.parametrize(
    "query",
    [
        "sum:trace.http.request.hits{service:cart}.as_count()",
        "p95:checkout.order.value{service:checkout}",
        "avg:system.cpu.user{host:web-*} by {host}",
        "avg:system.cpu.user{host:$host.value}",
    ],
)
def test_metric_catalog_accepts(query):
    assert validate(query, "datadog-metrics", METRICS).valid


@pytest.mark.parametrize(
    ("query", "message", "hint"),
    [
        (
            "@http.status_cod:>=500",
            "unknown attribute @http.status_cod",
            "did you mean 'http.status_code'?",
        ),
        ("servce:web", "unknown tag 'servce'", "did you mean 'service'?"),
        ("usr.id:u-1", "unknown tag 'usr.id'", "search it as @usr.id"),
    ],
)
def test_log_catalog_checks(query, message, hint):
    result = validate(query, "datadog-logs", LOGS)
    assert not result.valid
    assert message in result.error.message
    assert hint in (result.error.hint or "")


def test_log_catalog_accepts_reserved_attributes_and_known_facets():
    assert validate(
        "service:web status:error host:a @http.status_code:[500 TO 599] env:prod",
        "datadog-logs",
        LOGS,
    ).valid


def test_errors_point_at_the_problem():
    error = validate("avg:system.cpu.user{env:prod AND !host:a}", "datadog-metrics").error
    assert error.line == 1 and error.column == 21
    assert "hint: write `env:prod AND NOT host:a`" in error.render()
    error = validate("abs(per_sec(avg:a{*}))", "datadog-metrics").error
    assert (error.column, error.end - error.position) == (5, 7)
    error = validate("avg:a{*} by host", "datadog-metrics").error
    assert error.column == 13 and "`{`" in error.render()
