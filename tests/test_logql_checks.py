"""LogQL's semantic and catalog checks, one rule a case, and the errors a person sees."""

from __future__ import annotations

import pytest

from nlq import validate
from nlq.catalog import Catalog, LogField
from nlq.dialects.logql import ast, parse


def error_of(query: str, catalog: Catalog | None = None):
    result = validate(query, "logql", catalog)
    assert not result.valid, f"expected {query!r} to be refused"
    return result.error


@pytest.mark.parametrize(
    "query, words",
    [
        ('{app="a"} + 1', "log query"),
        ('sum({app="a"})', "metric query"),
        ('count_over_time({app="a"} | logfmt | unwrap v [1m])', "cannot take `| unwrap`"),
        ('bytes_rate({app="a"} | logfmt | unwrap v [1m])', "cannot take `| unwrap`"),
        ('sum_over_time({app="a"}[1m])', "needs `| unwrap"),
        ('rate_counter({app="a"}[1m])', "needs `| unwrap"),
        ('quantile_over_time(0.5, {app="a"}[1m])', "needs `| unwrap"),
        ('quantile_over_time({app="a"} | logfmt | unwrap v [1m])', "quantile"),
        ('sum_over_time(5, {app="a"} | logfmt | unwrap v [1m])', "takes no parameter"),
        ('rate({app="a"}[1m]) by (app)', "grouping not allowed"),
        ('sum_over_time({app="a"} | logfmt | unwrap v [1m]) by (app)', "grouping not allowed"),
        ('topk(count_over_time({app="a"}[1m]))', "parameter required"),
        ('topk(1.5, count_over_time({app="a"}[1m]))', "whole number"),
        ('sum(3, count_over_time({app="a"}[1m]))', "takes no parameter"),
        ('approx_topk(2, count_over_time({app="a"}[1m])) by (app)', "grouping not allowed"),
        ("1 and 2", "vectors"),
        ('count_over_time({app="a"}[1m]) or 1', "vectors"),
        ('{app=~".*"}', "at least one matcher"),
        ('{app!="a"}', "at least one matcher"),
        ('{app="a"} |~ "("', "invalid regex"),
        ('{app="a"} |~ ip("1.2.3.4")', "|= and !="),
        ('{app="a"} |= ip("bogus")', "invalid ip"),
        ('{app="a"} |> "<verb> /api"', "named captures"),
        ('{app="a"} | regexp "nocapture"', "named capture"),
        ('{app="a"} | pattern "no captures"', "capture"),
        ('{app="a"} | json bad="user["', "JSON path"),
        ('{app="a"} | line_format "{{ nosuchfunc }}"', "not defined"),
        ('{app="a"} | label_format x="{{"', "unclosed"),
        ('label_replace(vector(1), "a", "$1", "b", "(")', "invalid regex"),
    ],
)
def test_semantic_rule_refuses(query, words):
    error = error_of(query)
    assert words in error.message, error.render()
    assert error.position is not None


@pytest.mark.parametrize(
    "query",
    [
        'rate({app="a"} | logfmt | unwrap v [1m])',
        'absent_over_time({app="a"} | logfmt | unwrap v [1m])',
        'quantile_over_time(0.99, {app="a"} | json | unwrap duration(d) [5m]) by (pod)',
        'sum by (app) (count_over_time({app="a"}[5m])) or vector(0)',
        '{app="a"} | logfmt | addr = ip("10.0.0.0/8") or level="error", code >= 500',
        '{app="a"} | line_format "{{ .msg | upper }} {{ __line__ }}"',
        'label_replace(vector(0), "foo", "bar", "", "")',
    ],
)
def test_valid_queries_pass(query):
    result = validate(query, "logql")
    assert result.valid, result.error and result.error.render()


def test_syntax_error_has_line_column_caret_and_expected():
    error = error_of('count_over_time({app="a"})')
    text = error.render()
    assert error.line == 1 and error.column == 26
    assert "^" in text and "range in brackets" in text


def test_error_caret_points_at_the_offending_node():
    query = 'sum(rate({app="a"}[1m])) + {app="b"}'
    error = error_of(query)
    assert query[error.position : error.end] == '{app="b"}'


def test_label_filter_precedence_follows_loki():
    # comma and juxtaposition take everything to their right; `and` binds tighter than `or`
    node = parse('{a="1"} | x="1" or y="1" z="1"')
    f = node.stages[0].filter
    assert isinstance(f, ast.OrFilter) and isinstance(f.right, ast.AndFilter)
    node = parse('{a="1"} | x="1" and y="1" or z="1"')
    f = node.stages[0].filter
    assert isinstance(f, ast.OrFilter) and isinstance(f.left, ast.AndFilter)


def test_parse_builds_the_expected_tree():
    node = parse(
        'sum by (app) (rate({app="a"} |= "err" | json | unwrap bytes(size) [5m] offset 1m))'
    )
    assert isinstance(node, ast.VectorAggregation) and node.grouping.labels == ("app",)
    rng = node.expr.range
    assert rng.range == "5m" and rng.offset == "1m"
    assert rng.unwrap == ast.Unwrap("size", "bytes")
    assert rng.stages[0] == ast.LineFilter("|=", (ast.LineFilterValue("err"),))


CATALOG = Catalog(
    dialect="logql",
    log_labels={"app": ["cart", "api"], "namespace": ["prod"]},
    log_fields={
        "status": LogField("status", "number"),
        "duration": LogField("duration", "duration"),
    },
)


def test_catalog_unknown_label_value_and_field():
    assert "unknown stream label" in error_of('{ap="cart"}', CATALOG).message
    err = error_of('{app="cartt"}', CATALOG)
    assert "cart" in (err.hint or "") and err.kind == "catalog"
    err = error_of('{app="cart"} | json | statuss >= 500', CATALOG)
    assert "unknown field" in err.message and "status" in (err.hint or "")
    assert validate(
        '{app="cart"} | json | status >= 500 | namespace="prod"', "logql", CATALOG
    ).valid
    assert validate('{app="cart"} | json code="a.b" | code="1"', "logql", CATALOG).valid
    assert validate(
        'sum_over_time({app="cart"} | logfmt | unwrap duration(duration) [5m])', "logql", CATALOG
    ).valid
