"""PromQL semantic checks: one small test per type rule and per catalog rule, message and hint asserted."""

from __future__ import annotations

import pytest

from nlq.catalog import Catalog, Metric
from nlq.dialects import get
from nlq.errors import QueryError

PROMQL = get("promql")


def problems(query: str, catalog: Catalog | None = None) -> list[QueryError]:
    return PROMQL.check(PROMQL.parse(query), query, catalog)


def first(query: str, catalog: Catalog | None = None) -> QueryError:
    found = problems(query, catalog)
    assert found, f"no problem found in {query!r}"
    return found[0]


@pytest.mark.parametrize(
    ("query", "message", "hint"),
    [
        (
            "rate(up)",
            "expected type range vector in call to function 'rate', got instant vector",
            "rate() needs a range vector: did you mean rate(up[5m])?",
        ),
        ("rate(sum(up))", "expected type range vector", "make a subquery"),
        (
            "abs(up[5m])",
            "expected type instant vector in call to function 'abs', got range vector",
            "drop the range",
        ),
        ("floor(1)", "got scalar", "wrap the number: floor(vector(1))"),
        ("clamp_max(up, up)", "expected type scalar", "scalar(up)"),
        ("time(up)", "expected 0 argument(s) in call to 'time', got 1", "usage: time() scalar"),
        ("round()", "expected 1 to 2 argument(s)", None),
        (
            "sum(up[5m])",
            "expected type instant vector in aggregation expression, got range vector",
            "sum(rate(",
        ),
        ("topk(up, up)", "expected type scalar in aggregation parameter", "topk(5, x)"),
        (
            "count_values(5, up)",
            "expected type string in aggregation parameter",
            'count_values("value", x)',
        ),
        ("up + bool up", "bool modifier can only be used on comparison operators", None),
        ("1 == 1", "comparisons between scalars must use BOOL modifier", "1 == bool 1"),
        ("up and 1", "set operator 'and' not allowed in binary scalar expression", None),
        ("up * on(job) 2", "vector matching only allowed between instant vectors", None),
        (
            "up + up[5m]",
            "binary expression must contain only scalar and instant vector types",
            "rate(up[5m])",
        ),
        (
            '-"a"',
            "unary expression only allowed on expressions of type scalar or instant vector",
            None,
        ),
        ("up[5m][10m:1m]", "subquery is only allowed on an instant vector", None),
        (
            "a * on(x) group_left(x) b",
            "label 'x' must not occur in ON and GROUP clause at once",
            None,
        ),
        ("sum by (job, job) (up)", "duplicate label 'job' in the grouping", None),
        ('up{job=~"(?=a)"}', "invalid regular expression", "Go RE2"),
        ('up{job=~"("}', "invalid regular expression", None),
        (
            'label_replace(up, "a", "$1", "b", "(")',
            "invalid regular expression in label_replace()",
            None,
        ),
        (
            "histogram_quantile(0.9, sum by (job) (rate(x_bucket[5m])))",
            "drops the `le` label",
            "sum by (job, le)",
        ),
        ('info(up, {a="b"} == 1)', "second argument of info() must be a label selector", None),
    ],
)
def test_type_rules(query, message, hint):
    err = first(query)
    assert message in err.message
    if hint is not None:
        assert hint in (err.hint or "")
    assert err.position is not None


def test_well_typed_queries_pass():
    for q in [
        "sum by (job) (rate(http_requests_total[5m]))",
        "up == bool 1",
        "1 + 1",
        "vector(1) and up",
        'label_replace(up, "a", "$1", "b", "(.*)")',
        "histogram_quantile(0.9, sum by (le) (rate(x_bucket[5m])))",
        "time() - timestamp(up)",
        'count_values("v", up)',
        "rate(x[5m])[1h:1m]",
    ]:
        assert problems(q) == [], q


@pytest.fixture
def catalog() -> Catalog:
    return Catalog(
        dialect="promql",
        metrics={
            "http_requests_total": Metric(
                "http_requests_total",
                "counter",
                labels={"service": ["cart", "checkout"], "code": ["200", "500"]},
            ),
            "http_request_duration_seconds_bucket": Metric(
                "http_request_duration_seconds_bucket",
                "histogram",
                labels={"service": ["cart"], "le": ["0.1", "+Inf"]},
            ),
            "http_request_duration_seconds_sum": Metric(
                "http_request_duration_seconds_sum", "histogram", labels={"service": ["cart"]}
            ),
            "memory_bytes": Metric("memory_bytes", "gauge", labels={"service": ["cart"]}),
        },
    )


def test_unknown_metric_suggests(catalog):
    err = first("rate(http_request_total[5m])", catalog)
    assert err.kind == "catalog"
    assert err.message == "unknown metric 'http_request_total'"
    assert err.hint == "did you mean http_requests_total?"


def test_unknown_label_suggests(catalog):
    err = first('rate(http_requests_total{servce="cart"}[5m])', catalog)
    assert err.message == "unknown label 'servce' for metric 'http_requests_total'"
    assert err.hint == "did you mean service?"


def test_value_never_observed(catalog):
    err = first('rate(http_requests_total{service="kart"}[5m])', catalog)
    assert err.kind == "catalog"
    assert "'kart' was never observed for label 'service'" in err.message
    assert err.hint == "did you mean cart?"


def test_counter_without_rate(catalog):
    err = first("http_requests_total > 5", catalog)
    assert "its raw value only grows; use rate() or increase()" in err.message
    assert err.hint.startswith("rate(http_requests_total[5m])")
    assert problems("sum(rate(http_requests_total[5m])) > 5", catalog) == []
    assert problems("absent(http_requests_total)", catalog) == []


def test_counter_in_a_gauge_function(catalog):
    err = first("delta(http_requests_total[5m])", catalog)
    assert "delta() is meant for gauges" in err.message


def test_histogram_quantile_needs_buckets(catalog):
    err = first("histogram_quantile(0.9, rate(http_request_duration_seconds_sum[5m]))", catalog)
    assert "needs a histogram's _bucket series" in err.message
    assert "did you mean http_request_duration_seconds_bucket?" in err.hint
    ok = "histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))"
    assert problems(ok, catalog) == []


def test_validate_raises_the_first_problem():
    with pytest.raises(QueryError) as info:
        PROMQL.validate("rate(up)")
    assert info.value.hint == "rate() needs a range vector: did you mean rate(up[5m])?"
    assert "^" in info.value.render()
