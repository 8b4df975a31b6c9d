"""Property tests: random LogQL trees format and parse back to themselves; garbage only raises QueryError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlq.dialects.logql import ast, format_expr, parse
from nlq.dialects.logql.checks import check
from nlq.errors import QueryError

KEYWORDS = {
    "or",
    "and",
    "unless",
    "by",
    "without",
    "bool",
    "offset",
    "on",
    "ignoring",
    "unwrap",
    "ip",
}
names = st.one_of(
    st.sampled_from(
        ["app", "level", "status", "duration", "pod", "__error__", "rate", "json_path"]
    ),
    st.from_regex(r"[a-z_][a-z0-9_]{0,6}", fullmatch=True).filter(lambda s: s not in KEYWORDS),
)
strings = st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF), max_size=8)
numbers = st.one_of(st.integers(-1000, 1000).map(float), st.sampled_from([0.5, 0.99, 1e-3, 2.5e10]))
durations = st.sampled_from(["5m", "250ms", "1h30m", "1.5s", "-5m", "2d", "90s"])
ranges = st.sampled_from(["1m", "5m", "30s", "1h", "1h30m", "500ms"])

matchers = st.builds(ast.Matcher, names, st.sampled_from(["=", "!=", "=~", "!~"]), strings)
selectors = st.builds(ast.Selector, st.lists(matchers, min_size=1, max_size=3).map(tuple))

primary_filters = st.one_of(
    st.builds(ast.StringFilter, names, st.sampled_from(["=", "!=", "=~", "!~"]), strings),
    st.builds(ast.IpFilter, names, st.sampled_from(["=", "!="]), st.just("10.0.0.0/8")),
    st.builds(
        ast.NumberFilter, names, st.sampled_from(["==", "=", "!=", ">", ">=", "<", "<="]), numbers
    ),
    st.builds(ast.DurationFilter, names, st.sampled_from([">", "<=", "=="]), durations),
    st.builds(
        ast.BytesFilter,
        names,
        st.sampled_from([">", "<", "!="]),
        st.sampled_from(["20KB", "1.5MiB", "3B"]),
    ),
)
label_filters = st.recursive(
    primary_filters,
    lambda inner: st.one_of(
        st.builds(ast.AndFilter, inner, inner), st.builds(ast.OrFilter, inner, inner)
    ),
    max_leaves=5,
)
line_values = st.one_of(
    st.builds(ast.LineFilterValue, strings),
    st.builds(ast.LineFilterValue, st.just("10.0.0.1"), st.just(True)),
)
extractions = st.builds(ast.Extraction, names, st.one_of(st.none(), st.just("a.b[0]")))
stages = st.one_of(
    st.builds(
        ast.LineFilter,
        st.sampled_from(["|=", "!=", "|~", "!~", "|>", "!>"]),
        st.lists(line_values, min_size=1, max_size=3).map(tuple),
    ),
    st.builds(ast.JsonParser, st.lists(extractions, max_size=2).map(tuple)),
    st.builds(
        ast.LogfmtParser,
        st.sampled_from([(), ("--strict",), ("--strict", "--keep-empty")]),
        st.lists(extractions, max_size=2).map(tuple),
    ),
    st.builds(ast.RegexpParser, strings),
    st.builds(ast.PatternParser, strings),
    st.builds(ast.UnpackParser),
    st.builds(ast.LabelFilterStage, label_filters),
    st.builds(ast.LineFormat, strings),
    st.builds(
        ast.LabelFormat,
        st.lists(
            st.builds(ast.LabelFormatItem, names, names, st.just(True))
            | st.builds(ast.LabelFormatItem, names, strings, st.just(False)),
            min_size=1,
            max_size=2,
        ).map(tuple),
    ),
    st.builds(ast.Decolorize),
    st.builds(
        ast.Drop, st.lists(st.builds(ast.NamedMatcher, names), min_size=1, max_size=2).map(tuple)
    ),
    st.builds(
        ast.Keep,
        st.lists(
            st.builds(ast.NamedMatcher, names, st.just("="), strings), min_size=1, max_size=2
        ).map(tuple),
    ),
)


def _writable(pipeline: tuple) -> bool:
    """False for a `drop` ending in a bare name right before a `!=` or `!~` line filter:
    `| drop app != "x"` reads as a drop of the matcher app != "x" (in Loki's grammar
    too), so no LogQL text has the other tree."""
    for stage, following in zip(pipeline, pipeline[1:], strict=False):
        if (isinstance(stage, ast.Drop) and stage.items[-1].op is None
                and isinstance(following, ast.LineFilter) and following.op in ("!=", "!~")):
            return False
    return True


pipelines = st.lists(stages, max_size=4).map(tuple).filter(_writable)
unwraps = st.builds(
    ast.Unwrap,
    names,
    st.sampled_from([None, "duration", "duration_seconds", "bytes"]),
    st.lists(label_filters, max_size=1).map(tuple),
)
log_ranges = st.builds(
    ast.LogRange,
    selectors,
    pipelines,
    st.one_of(st.none(), unwraps),
    ranges,
    st.sampled_from([None, "5m", "-1h"]),
)
groupings = st.one_of(
    st.none(), st.builds(ast.Grouping, st.booleans(), st.lists(names, max_size=3).map(tuple))
)
range_aggs = st.builds(
    ast.RangeAggregation,
    st.sampled_from(
        [
            "rate",
            "count_over_time",
            "sum_over_time",
            "quantile_over_time",
            "rate_counter",
            "absent_over_time",
        ]
    ),
    log_ranges,
    st.one_of(st.none(), st.just(0.99)),
    groupings,
)
log_queries = st.builds(ast.LogQuery, selectors, pipelines)
leaves = st.one_of(
    range_aggs,
    st.builds(ast.NumberLiteral, numbers),
    st.builds(ast.VectorExpr, numbers.map(abs)),
    log_queries,
)
matchings = st.one_of(
    st.none(),
    st.builds(
        ast.VectorMatching,
        st.booleans(),
        st.lists(names, max_size=2).map(tuple),
        st.sampled_from(["one-to-one", "group_left", "group_right"]),
        st.lists(names, max_size=2).map(tuple),
    ).map(lambda m: m if m.card != "one-to-one" else ast.VectorMatching(m.on, m.labels)),
)


def _exprs(inner):
    return st.one_of(
        st.builds(
            ast.BinaryOp,
            st.sampled_from(list(ast.PRECEDENCE)),
            inner,
            inner,
            st.booleans(),
            matchings,
        ),
        st.builds(
            ast.VectorAggregation,
            st.sampled_from(["sum", "topk", "sort_desc"]),
            inner,
            st.one_of(st.none(), st.just(3.0)),
            groupings,
        ),
        st.builds(ast.LabelReplace, inner, names, strings, names, strings),
    )


exprs = st.recursive(leaves, _exprs, max_leaves=4)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs)
def test_random_trees_round_trip(node):
    text = format_expr(node)
    assert parse(text) == node, text


@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list('{}()[]|=~!<>"`,.+-*/%^ #abcdefilmnoprstuvwxyz0123456789_\\\n')
        ),
        max_size=40,
    )
)
def test_garbage_only_raises_query_errors(text):
    try:
        node = parse(text)
    except QueryError:
        return
    check(node, text)
