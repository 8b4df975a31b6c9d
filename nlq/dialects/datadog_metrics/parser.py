"""Datadog metric query text -> `ast` nodes, through grammars/datadog_metrics.lark."""

from __future__ import annotations

from lark import Transformer, v_args

from nlq.dialects.datadog_common import unescape
from nlq.dialects.datadog_metrics import ast
from nlq.grammar import parse_tree

GRAMMAR_FILE = "datadog_metrics.lark"

TERMINAL_NAMES = {
    "METRIC_NAME": "a metric name",
    "TAG_KEY": "a tag key",
    "TAG_VALUE": "a tag value",
    "TEMPLATE_VAR": "a template variable ($name)",
    "IDENT": "a name",
    "STRING": "a quoted string",
    "NUMBER": "a number",
    "SIGNED_NUMBER": "a number",
    "INT": "an integer",
    "WINDOW": "an evaluation window (last_5m)",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*` or `/`",
    "COMPARATOR": "a comparison (`>`, `>=`, `<`, `<=`, `==`, `!=`)",
    "AND_KW": "AND",
    "_OR": "OR",
    "_NOT": "NOT",
    "IN_OP": "IN",
    "COMMA": "`,`",
}


def parse(text: str):
    """Parse a metric query, formula, query list or monitor query.

    >>> parse("avg:system.cpu.user{env:prod} by {host}").group_by
    ('host',)
    """
    tree = parse_tree(GRAMMAR_FILE, text, terminal_names=TERMINAL_NAMES)
    return _Builder(text).transform(tree)


def _unquote(text: str) -> str:
    """`'mean'` -> `mean`, `"a \\"b\\""` -> `a "b"`."""
    return unescape(text[1:-1])


def _literal(value):
    """A method argument as plain Python: 60.0, 'avg', 'CPU User'."""
    if isinstance(value, ast.Number):
        return value.value
    if isinstance(value, ast.Word):
        return value.name
    if isinstance(value, ast.String):
        return value.value
    return value


@v_args(meta=True)
class _Builder(Transformer):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def _span(self, meta):
        return None if getattr(meta, "empty", True) else (meta.start_pos, meta.end_pos)

    def _slice(self, meta) -> str:
        return self.source[meta.start_pos : meta.end_pos]

    # narrowable names: read from the source so narrowed rules (literals) work
    def metric_name(self, meta, children):
        return self._slice(meta)

    def tag_key(self, meta, children):
        return self._slice(meta)

    def tag_value(self, meta, children):
        return self._slice(meta)

    def start(self, meta, children):
        return children[0]

    def query_list(self, meta, children):
        if len(children) == 1:
            return children[0]
        return ast.QueryList(tuple(children), span=self._span(meta))

    def binary(self, meta, children):
        left, op, right = children
        return ast.Binary(str(op), left, right, span=self._span(meta))

    def negate(self, meta, children):
        return ast.Negate(children[0], span=self._span(meta))

    def number(self, meta, children):
        return ast.Number(float(children[0]), span=self._span(meta))

    def string(self, meta, children):
        return ast.String(_unquote(str(children[0])), span=self._span(meta))

    def word(self, meta, children):
        return ast.Word(str(children[0]), span=self._span(meta))

    def keyword(self, meta, children):
        name, value = children
        return ast.Keyword(str(name), value, span=self._span(meta))

    def query_ref(self, meta, children):
        return ast.QueryRef(str(children[0]), span=self._span(meta))

    def function_call(self, meta, children):
        name, *args = children
        return ast.Function(str(name), tuple(args), span=self._span(meta))

    # ---- metric query
    def metric_query(self, meta, children):
        aggregator = None
        items = list(children)
        if isinstance(items[0], tuple) and items[0][0] == "aggregator":
            aggregator = items.pop(0)[1]
        metric = items.pop(0)
        scope = items.pop(0)
        group_by: tuple[str, ...] = ()
        if items and isinstance(items[0], tuple) and items[0][0] == "group_by":
            group_by = items.pop(0)[1]
        return ast.MetricQuery(
            aggregator, metric, scope, group_by, tuple(items), span=self._span(meta)
        )

    def space_aggregator(self, meta, children):
        return ("aggregator", str(children[0]))

    def group_by(self, meta, children):
        return ("group_by", tuple(children))

    def all_groups(self, meta, children):
        return "*"

    def all_scope(self, meta, children):
        return ast.AllScope(span=self._span(meta))

    def filter_or(self, meta, children):
        return ast.FilterOr(tuple(children), span=self._span(meta))

    def filter_and(self, meta, children):
        operands = children[0::2]
        symbols = tuple("," if str(op) == "," else "AND" for op in children[1::2])
        return ast.FilterAnd(tuple(operands), symbols, span=self._span(meta))

    def and_op(self, meta, children):
        return children[0]

    def not_word(self, meta, children):
        return ast.FilterNot(children[0], "NOT", span=self._span(meta))

    def not_bang(self, meta, children):
        return ast.FilterNot(children[0], "!", span=self._span(meta))

    def tag_match(self, meta, children):
        key, value = children
        if isinstance(value, ast.TemplateVar):
            value = value.name
        return ast.TagFilter(key, value, span=self._span(meta))

    def bare_tag(self, meta, children):
        return ast.TagFilter(children[0], None, span=self._span(meta))

    def tag_in(self, meta, children):
        key, op, *values = children
        negated = "not" in str(op).lower()
        return ast.TagIn(key, tuple(values), negated, span=self._span(meta))

    def template_var(self, meta, children):
        return ast.TemplateVar(str(children[0]), span=self._span(meta))

    def method(self, meta, children):
        name, *args = children
        name = str(name)
        span = self._span(meta)
        values = [_literal(a) for a in args]
        if name == "rollup" and 1 <= len(values) <= 3:
            if isinstance(values[0], float):
                if len(values) == 1:
                    return ast.Rollup(None, values[0], span=span)
            elif len(values) <= 2:
                return ast.Rollup(values[0], values[1] if len(values) == 2 else None, span=span)
        if name == "fill" and 1 <= len(values) <= 2:
            if isinstance(values[0], float) and len(values) == 1:
                return ast.Fill(None, values[0], span=span)
            if isinstance(values[0], str) and (len(values) == 1 or isinstance(values[1], float)):
                return ast.Fill(values[0], values[1] if len(values) == 2 else None, span=span)
        return ast.Modifier(name, tuple(args), span=span)

    # ---- monitors
    def metric_monitor(self, meta, children):
        time_agg, query, comparator, threshold = children
        return ast.MetricMonitor(
            time_agg, query, str(comparator), float(threshold), span=self._span(meta)
        )

    def source_monitor(self, meta, children):
        source, *calls, comparator, threshold = children
        name, query = source
        return ast.SourceMonitor(
            name, query, tuple(calls), str(comparator), float(threshold), span=self._span(meta)
        )

    def time_aggregation(self, meta, children):
        name, *args = children
        return ast.TimeAggregation(
            str(name),
            tuple(a if isinstance(a, ast.TimeAggregation) else str(a) for a in args),
            span=self._span(meta),
        )

    def source_call(self, meta, children):
        name, query = children
        return (str(name), _unquote(str(query)))

    def source_method(self, meta, children):
        name, *args = children
        return ast.Modifier(
            str(name), tuple(ast.String(_unquote(str(a))) for a in args), span=self._span(meta)
        )


__all__ = ["GRAMMAR_FILE", "parse"]
