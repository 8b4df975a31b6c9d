"""The Datadog log search evaluator: Vector's 200 checks, and rules of
https://docs.datadoghq.com/logs/explorer/search_syntax/ pinned one by one.
"""

from __future__ import annotations

import pytest
from datadog_util import CORPUS_DIR

from nlq.conformance import datadog_search
from nlq.engine.datadog.search import matches, search

CHECKS = CORPUS_DIR / datadog_search.FILE_PATTERN


def test_vector_search_syntax_checks_all_pass():
    if not CHECKS.is_file():
        pytest.skip(f"not found: {CHECKS}")
    results = datadog_search.run_file(CHECKS)
    failed = [r for r in results if r.status != "passed"]
    print(f"\nvector-search-syntax-checks: {len(results) - len(failed)}/{len(results)} passed")
    assert len(results) == 200
    assert not failed, "\n".join(f"{r.line}: {r.query} -> {r.got} {r.reason}" for r in failed)


WEB_ERROR = {
    "message": "Payment failed: timeout after 30s",
    "service": "web-store",
    "status": "error",
    "host": "i-123",
    "tags": ["env:prod", "version:beta", "team:payments"],
    "http": {"status_code": 503, "url": "/api-v1/checkout", "method": "POST"},
    "duration": 1500,
    "network": {"client": {"ip": "13.1.2.3"}},
    "users": {"names": ["Peter", "Ann"]},
}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        # "A single term is a single word": whole words of the message.
        ("timeout", True),
        ("time", False),
        # "A sequence is a group of words surrounded by double quotes".
        ('"failed: timeout"', True),
        ('"timeout failed"', False),
        # AND (implicit), OR, - exclusion.
        ("timeout Payment", True),
        ("timeout AND nothing", False),
        ("nothing OR timeout", True),
        ("timeout -Payment", False),
        # Attributes with @, nested by dots; wildcards; escapes.
        ("@http.method:POST", True),
        ("@http.url:/api\\-v1/*", True),
        ("@http.url:/api\\-v2/*", False),
        # Numerical values: comparisons and ranges on numeric attributes.
        ("@http.status_code:>=500", True),
        ("@http.status_code:[400 TO 499]", False),
        ("@http.status_code:[500 TO 599]", True),
        ("@duration:>1000", True),
        # Tags: key:value, env:(prod OR test), (env:prod AND -version:beta).
        ("env:(prod OR test)", True),
        ("(env:prod AND -version:beta)", False),
        ("service:web*", True),
        ("service:*mongo", False),
        # Reserved attributes are searched without @.
        ("status:error host:i-123", True),
        # Arrays: a value matches when one element does.
        ("@users.names:Peter", True),
        # CIDR().
        ("CIDR(@network.client.ip, 13.0.0.0/8)", True),
        ("NOT(CIDR(@network.client.ip, 13.0.0.0/8))", False),
        # Existence.
        ("_exists_:@http.status_code -_exists_:@error", True),
        ("-@http.status_code:*", False),
        # Full-text search across attributes and the message.
        ("*:POST", True),
        ("*:payments", False),
    ],
)
def test_documented_rules(query, expected):
    assert matches(query, WEB_ERROR) is expected


def test_search_returns_the_matching_events_as_a_bag():
    events = [{"status": "error"}, {"status": "info"}, {"status": "error"}]
    assert search("status:error", events) == [events[0], events[2]]


def test_search_over_the_dd_logs_table():
    import duckdb

    from nlq.engine.datadog.logs import search_logs

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE dd_logs(ts BIGINT, service VARCHAR, host VARCHAR, status VARCHAR, source VARCHAR, "
        "message VARCHAR, tags VARCHAR[], attributes JSON)"
    )
    rows = [
        (
            1000,
            "web",
            "h1",
            "error",
            "go",
            "GET /a 500",
            ["env:prod"],
            '{"http": {"status_code": 500}, "trace_id": "t1"}',
        ),
        (
            2000,
            "web",
            "h1",
            "info",
            "go",
            "GET /a 200",
            ["env:prod"],
            '{"http": {"status_code": 200}}',
        ),
        (
            3000,
            "api",
            "h2",
            "error",
            "go",
            "GET /b 502",
            ["env:dev"],
            '{"http": {"status_code": 502}}',
        ),
        (
            3000,
            "api",
            "h2",
            "error",
            "go",
            "GET /b 502",
            ["env:dev"],
            '{"http": {"status_code": 502}}',
        ),
    ]
    con.executemany("INSERT INTO dd_logs VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    found = search_logs(con, "@http.status_code:>=500")
    assert [(e["timestamp"], e["service"]) for e in found] == [
        (1000, "web"),
        (3000, "api"),
        (3000, "api"),
    ]
    assert [e["timestamp"] for e in search_logs(con, "env:prod -status:info")] == [1000]
    assert [e["timestamp"] for e in search_logs(con, "trace_id:t1")] == [1000]
    assert search_logs(con, "status:error", start_ms=2000, end_ms=3000) == []


def test_engine_registry_returns_log_streams():
    import duckdb

    from nlq.engine import run_query
    from nlq.results import TimeRange

    con = duckdb.connect()
    con.execute(
        "CREATE TABLE dd_logs(ts BIGINT, service VARCHAR, host VARCHAR, status VARCHAR, source VARCHAR, "
        "message VARCHAR, tags VARCHAR[], attributes JSON)"
    )
    con.execute(
        "INSERT INTO dd_logs VALUES (1000, 'web', 'h1', 'error', 'go', 'boom', ['env:prod'], '{}')"
    )
    con.execute(
        "INSERT INTO dd_logs VALUES (2000, 'web', 'h1', 'info', 'go', 'fine', ['env:prod'], '{}')"
    )
    result = run_query("datadog-logs", "status:error", con, TimeRange.range(0, 5000, 1000))
    assert result.type == "streams"
    assert [(s.labels["service"], s.lines) for s in result.series] == [
        ("web", [(1_000_000_000, "boom")])
    ]
