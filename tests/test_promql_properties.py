"""Properties: random valid PromQL ASTs survive format -> parse; random text only ever raises QueryError."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlq.dialects.promql import ast, format_expr, parse
from nlq.dialects.promql.formatter import needs_paren
from nlq.errors import QueryError

NAMES = st.sampled_from(
    ["up", "http_requests_total", "sum", "offset", "node:cpu:rate5m", "min", "rate", "my.metric"]
)
LABELS = st.sampled_from(["job", "instance", "le", "by", "on", "a b"])
VALUES = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=8)
DURATIONS = st.sampled_from([1000, 30_000, 60_000, 300_000, 3_600_000, 5_400_000, 86_400_000, 1500])


@st.composite
def selectors(draw):
    name = draw(st.one_of(st.none(), NAMES))
    matchers = draw(
        st.lists(
            st.builds(
                ast.Matcher,
                LABELS,
                st.sampled_from(["=", "!=", "=~", "!~"]),
                st.sampled_from(["a", "b.*", "x|y", "5.."]),
            ),
            max_size=3,
        )
    )
    if name is None:
        matchers = [ast.Matcher("job", "=", draw(VALUES.filter(bool))), *matchers]
    offset = draw(st.sampled_from([0, 0, 60_000, -300_000]))
    at = draw(st.sampled_from([None, None, 1_700_000_000.0, "start", "end"]))
    return ast.VectorSelector(name, tuple(matchers), offset, at)


numbers = st.one_of(
    st.integers(-1000, 1000).map(float),
    st.floats(min_value=0.001, max_value=1e6, allow_nan=False, allow_infinity=False),
).map(ast.NumberLiteral)


@st.composite
def ranges(draw):
    vs = draw(selectors())
    inner = ast.VectorSelector(vs.name, vs.matchers)
    rng = ast.MatrixSelector(inner, draw(DURATIONS))
    return ast.Call(draw(st.sampled_from(["rate", "increase", "max_over_time", "changes"])), (rng,))


def _paren(op, child, side):
    return ast.Paren(child) if needs_paren(op, child, side) else child


@st.composite
def binaries(draw, children):
    op = draw(
        st.sampled_from(
            ["+", "-", "*", "/", "%", "^", "==", ">", "<=", "and", "or", "unless", "atan2"]
        )
    )
    lhs, rhs = draw(children), draw(children)
    is_vec = lambda n: not isinstance(n, ast.NumberLiteral)  # noqa: E731
    matching = None
    return_bool = False
    if op in ("and", "or", "unless"):
        if not (is_vec(lhs) and is_vec(rhs)):
            op = "+"
        else:
            matching = ast.VectorMatching(
                draw(st.booleans()),
                draw(st.lists(LABELS, max_size=2, unique=True).map(tuple)),
                "many-to-many",
            )
            if not matching.on and not matching.labels:
                matching = ast.VectorMatching(False, (), "many-to-many")
    if op in ("==", ">", "<=") and draw(st.booleans()):
        return_bool = True
    if op not in ("and", "or", "unless") and is_vec(lhs) and is_vec(rhs) and draw(st.booleans()):
        card = draw(st.sampled_from(["one-to-one", "many-to-one", "one-to-many"]))
        include = draw(
            st.lists(st.sampled_from(["team", "owner"]), max_size=2, unique=True).map(tuple)
        )
        matching = ast.VectorMatching(
            draw(st.booleans()), ("job",), card, include if card != "one-to-one" else ()
        )
    return ast.Binary(op, _paren(op, lhs, "lhs"), _paren(op, rhs, "rhs"), return_bool, matching)


@st.composite
def aggregations(draw, children):
    op = draw(
        st.sampled_from(["sum", "avg", "max", "count", "topk", "quantile", "count_values", "group"])
    )
    expr = draw(children)
    param = None
    if op in ("topk", "quantile"):
        param = ast.NumberLiteral(5.0)
    elif op == "count_values":
        param = ast.StringLiteral("value")
    grouping = draw(st.lists(LABELS, max_size=2, unique=True).map(tuple))
    return ast.Aggregation(
        op,
        expr,
        param,
        grouping,
        draw(st.booleans()) if grouping else False,
        has_grouping=bool(grouping),
    )


exprs = st.recursive(
    st.one_of(numbers, selectors(), ranges()),
    lambda children: st.one_of(
        binaries(children),
        aggregations(children),
        children.map(ast.Paren),
        children.filter(lambda n: not isinstance(n, ast.NumberLiteral)).map(
            lambda n: ast.Unary("-", ast.Paren(n) if isinstance(n, (ast.Binary, ast.Unary)) else n)
        ),
        st.builds(
            lambda e, r, s: ast.Subquery(ast.Paren(e), r, s),
            children,
            DURATIONS,
            st.one_of(st.none(), DURATIONS),
        ),
        children.map(lambda n: ast.Call("abs", (n,))),
    ),
    max_leaves=8,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(exprs)
def test_format_then_parse_gives_the_same_tree(node):
    text = format_expr(node)
    assert parse(text) == node, text


@settings(max_examples=80, deadline=None)
@given(st.text(max_size=40))
def test_random_text_raises_only_query_errors(text):
    try:
        parse(text)
    except QueryError:
        pass


@settings(max_examples=80, deadline=None)
@given(st.text(alphabet='sumrate(){}[]"=~!,:+-*/^ 5mxyjob@offsetbyand', max_size=40))
def test_promql_like_noise_raises_only_query_errors(text):
    try:
        node = parse(text)
    except QueryError:
        return
    format_expr(node)
