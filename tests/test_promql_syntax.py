"""PromQL syntax, one rule a line: precedence, keywords as names, literals, modifiers, errors."""

from __future__ import annotations

import math

import pytest

from nlq.dialects import get
from nlq.dialects.promql import ast, format_expr, parse
from nlq.errors import QueryError


def fmt(q: str) -> str:
    return format_expr(parse(q))


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ('SUM(rate(x{a="b"}[5m])) BY (service)', 'sum by (service) (rate(x{a="b"}[5m]))'),
        ("sum without(a)(x)", "sum without (a) (x)"),
        ("topk(5, x) by (job)", "topk by (job) (5, x)"),
        ("a + on(b) group_left(c) d", "a + on (b) group_left (c) d"),
        ("a > bool 1", "a > bool 1"),
        ("foo OFFSET 1h30m", "foo offset 1h30m"),
        ("foo offset -7m", "foo offset -7m"),
        ("foo[5m:] @ start()", "foo[5m:] @ start()"),
        ("x[1000ms]", "x[1s]"),
        ("rate(x[5m] anchored)", "rate(x[5m] anchored)"),
        ("foo[5m+1m]", "foo[5m + 1m]"),
        ("foo[step()]", "foo[step()]"),
        ('{"my.metric", "a b"="c"}', '{"my.metric", "a b"="c"}'),
        ("a + fill(0) b", "a + fill(0) b"),
        ("# a comment\nup", "up"),
    ],
)
def test_canonical_text(query, canonical):
    assert fmt(query) == canonical
    assert parse(canonical) == parse(query)


def test_precedence_and_associativity():
    # ^ is right-associative and binds tighter than unary minus
    assert parse("-1^2") == ast.Unary(
        "-", ast.Binary("^", ast.NumberLiteral(1), ast.NumberLiteral(2))
    )
    node = parse("a ^ b ^ c")
    assert isinstance(node.rhs, ast.Binary) and node.rhs.op == "^"
    node = parse("a - b - c")
    assert isinstance(node.lhs, ast.Binary) and node.lhs.op == "-"
    node = parse("a + b * c")
    assert node.op == "+" and node.rhs.op == "*"
    node = parse("a or b and c unless d")
    assert node.op == "or" and node.rhs.op == "unless"
    node = parse("a atan2 b + c")
    assert node.op == "+" and node.lhs.op == "atan2"
    assert parse("1 + -2 * 1").rhs == ast.Binary("*", ast.NumberLiteral(-2), ast.NumberLiteral(1))


@pytest.mark.parametrize(
    ("query", "value"),
    [
        ("1e3", 1000),
        (".5", 0.5),
        ("5.", 5),
        ("0x1F", 31),
        ("0755", 493),
        ("-Inf", -math.inf),
        ("+5.5e-3", 0.0055),
    ],
)
def test_numbers(query, value):
    assert parse(query) == ast.NumberLiteral(value)


def test_nan_equals_itself():
    assert parse("NaN") == parse("nan")


def test_keywords_can_be_metric_names():
    assert parse("sum(sum)").expr == ast.VectorSelector("sum", ())
    assert parse("min") == ast.VectorSelector("min", ())
    assert parse('offset{step="1s"}[5m]').vector.name == "offset"
    assert parse("summary_total") == ast.VectorSelector("summary_total", ())
    assert parse("foo and on(start) bar").matching.labels == ("start",)
    assert parse("sum without(and, by, avg)(x)").grouping == ("and", "by", "avg")
    # word operators need whitespace: `upandup` is one metric name
    assert parse("upandup") == ast.VectorSelector("upandup", ())
    # ...and `bool` never is one, so `x > bool -1` has one reading
    assert parse("x > bool -1").return_bool


def test_selectors_and_modifiers():
    node = parse('rate(http_requests_total{code=~"5..", job!="x"}[5m] offset 1h @ 1700000000)')
    m = node.args[0]
    assert m.range_ms == 300_000
    assert m.vector.offset_ms == 3_600_000 and m.vector.at == 1_700_000_000
    assert m.vector.matchers == (ast.Matcher("code", "=~", "5.."), ast.Matcher("job", "!=", "x"))
    sub = parse("max_over_time(rate(x[1m])[1h:5m] offset 1d)").args[0]
    assert (sub.range_ms, sub.step_ms, sub.offset_ms) == (3_600_000, 300_000, 86_400_000)
    assert parse('{__name__="x"}').matchers == (ast.Matcher("__name__", "=", "x"),)


def test_strings_unescape():
    assert parse(r'"a\"b\n"') == ast.StringLiteral('a"b\n')
    assert parse(r"'it\'s'") == ast.StringLiteral("it's")
    assert parse(r"`raw\n`") == ast.StringLiteral(r"raw\n")
    assert parse(r'"\u00e9\x41"') == ast.StringLiteral("éA")


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("foo[5m1h]", "units must go from largest to smallest"),
        ("foo[0m]", "duration must be greater than 0"),
        ("rate(x[5m])[1h]", "ranges only allowed for vector selectors"),
        ("foo offset 1m[5m]", "no offset modifiers allowed before range"),
        ("foo offset 1s offset 2s", "offset may not be set multiple times"),
        ("sum(x) offset 5m", "offset modifier must be preceded by"),
        ('{x=""}', "at least one non-empty matcher"),
        ('foo{__name__="bar"}', "metric name must not be set twice"),
        ("foo @ NaN", "timestamp out of bounds"),
        ("foo[5s/0d]", "division by zero"),
        ("foo offset 9.5e10", "duration out of range"),
    ],
)
def test_builder_rules(query, message):
    with pytest.raises(QueryError) as info:
        get("promql").validate(query)
    assert message in info.value.message


def test_syntax_error_points_at_the_spot():
    with pytest.raises(QueryError) as info:
        parse("sum(rate(x[5m])")
    err = info.value
    assert err.message == "the query ends too early"
    assert "`)`" in err.expected
    with pytest.raises(QueryError) as info:
        parse("up{job=api}")
    err = info.value
    assert (err.line, err.column) == (1, 8)
    assert "a quoted string" in err.expected
    assert "^" in err.render()


@pytest.mark.parametrize(
    "query", ["", "   ", "sum(", "1 +", "foo{", "upand up", "sum by (a) x", "a b", "\x00"]
)
def test_garbage_raises_query_error(query):
    with pytest.raises(QueryError):
        parse(query)


def test_spans_point_into_the_query():
    q = 'sum(rate(up{job="a"}[5m]))'
    node = parse(q)
    m = node.expr.args[0]
    assert q[m.span[0] : m.span[1]] == 'up{job="a"}[5m]'
    assert q[m.vector.matchers[0].span[0] : m.vector.matchers[0].span[1]] == 'job="a"'


def test_grammar_metric_name_is_the_generated_regex():
    import re

    from nlq.dialects.promql.parser import metric_name_regex
    from nlq.grammar import grammar_text

    text = grammar_text("promql.lark")
    assert re.search(r"^METRIC_NAME: /(.*)/$", text, re.M).group(1) == metric_name_regex()


def test_catalog_rules_are_defined_once():
    import re

    from nlq.grammar import grammar_text

    text = grammar_text("promql.lark")
    for rule in ("metric_name", "label_name", "label_value"):
        assert len(re.findall(rf"^{rule}:", text, re.M)) == 1, rule
    assert re.search(r"^matcher: label_name MATCH_OP label_value$", text, re.M)


def test_group_modifiers_read_a_parenthesis_as_labels():
    node = parse("a / on(x) group_left (y) b")
    assert node.matching.include == ("y",)
    assert parse("a / on(x) group_left sum(b)").matching.card == "many-to-one"
    assert parse(" +some_metric") == parse("+some_metric")
