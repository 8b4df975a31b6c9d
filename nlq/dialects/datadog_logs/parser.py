"""Datadog log search text -> `ast` nodes, through grammars/datadog_logs.lark."""

from __future__ import annotations

from lark import Token, Transformer, Tree, v_args

from nlq.dialects.datadog_common import span_of
from nlq.dialects.datadog_logs import ast
from nlq.grammar import parse_tree

GRAMMAR_FILE = "datadog_logs.lark"

TERMINAL_NAMES = {
    "TERM": "a search term",
    "VALUE": "a value",
    "PHRASE": 'a "quoted phrase"',
    "TAG_KEY": "a tag key",
    "ATTRIBUTE_NAME": "an attribute name",
    "NUMBER_VALUE": "a number",
    "CMP_OP": "a comparison (`>`, `>=`, `<`, `<=`)",
    "RANGE_OPEN": "`[` or `{`",
    "RANGE_CLOSE": "`]` or `}`",
    "RANGE_BOUND": "a range bound",
    "CIDR_BLOCK": "a CIDR block (10.0.0.0/8)",
    "_WS": "a space",
}

EXISTS_FIELDS = {"_exists_": False, "_missing_": True}


def parse(text: str) -> ast.Query:
    """Parse a log search; raise `QueryError` with a caret on bad syntax.

    >>> parse("service:web -status:info")
    And(operands=(Match(...), Not(...)))
    """
    tree = parse_tree(GRAMMAR_FILE, text, terminal_names=TERMINAL_NAMES)
    return _Builder(text).transform(tree)


def _text(token: Token | Tree, source: str) -> str:
    """Source text of a token or of a (possibly narrowed) name rule."""
    if isinstance(token, Token):
        return str(token)
    start, end = span_of(token) or (0, 0)
    return source[start:end]


def _flatten(kind, items):
    out = []
    for item in items:
        if isinstance(item, kind):
            out.extend(item.operands)
        else:
            out.append(item)
    return tuple(out)


@v_args(meta=True)
class _Builder(Transformer):
    def __init__(self, source: str):
        super().__init__()
        self.source = source

    def _span(self, meta):
        return None if getattr(meta, "empty", True) else (meta.start_pos, meta.end_pos)

    # ---- names: taken from the source so narrowed rules (string literals) work
    def attribute_name(self, meta, children):
        return self.source[meta.start_pos : meta.end_pos]

    def tag_key(self, meta, children):
        return self.source[meta.start_pos : meta.end_pos]

    def tag_value(self, meta, children):
        return ast.Text(self.source[meta.start_pos : meta.end_pos], span=self._span(meta))

    attribute_value = tag_value

    # ---- structure
    def start(self, meta, children):
        return children[0]

    def or_query(self, meta, children):
        return ast.Or(_flatten(ast.Or, children), span=self._span(meta))

    def and_query(self, meta, children):
        return ast.And(_flatten(ast.And, children), span=self._span(meta))

    def not_op(self, meta, children):
        return ast.Not(children[0], "NOT", span=self._span(meta))

    def minus_op(self, meta, children):
        return ast.Not(children[0], "-", span=self._span(meta))

    def plus_op(self, meta, children):
        return ast.Required(children[0], span=self._span(meta))

    def group(self, meta, children):
        return children[0]

    def free_text(self, meta, children):
        return ast.FreeText(self._value(children[0]), span=self._span(meta))

    def tag_match(self, meta, children):
        key, value = children
        value = self._value(value)
        field = ast.Field(key, False, span=self._span(meta))
        if key in EXISTS_FIELDS and isinstance(value, ast.Text) and not value.is_wildcard:
            target = value.raw[1:-1] if value.quoted else value.raw
            attribute = target.startswith("@")
            target_field = ast.Field(target[1:] if attribute else target, attribute)
            return ast.Exists(target_field, EXISTS_FIELDS[key], span=self._span(meta))
        return ast.Match(field, value, span=self._span(meta))

    def attribute_match(self, meta, children):
        name, value = children
        return ast.Match(ast.Field(name, True), self._value(value), span=self._span(meta))

    def full_text_match(self, meta, children):
        return ast.Match(ast.Field("*"), self._value(children[0]), span=self._span(meta))

    def comparison(self, meta, children):
        op, token = children
        value = self._value(token)
        return ast.Comparison(str(op), value.raw, value.quoted, span=self._span(meta))

    def range(self, meta, children):
        opening, low, high, closing = (str(c) for c in children)
        return ast.Range(low, high, opening == "[", closing == "]", span=self._span(meta))

    def value_group(self, meta, children):
        return self._value(children[0])

    def value_or(self, meta, children):
        items = [self._value(c) for c in children]
        return ast.ValueOr(_flatten(ast.ValueOr, items), span=self._span(meta))

    def value_and(self, meta, children):
        items = [self._value(c) for c in children]
        return ast.ValueAnd(_flatten(ast.ValueAnd, items), span=self._span(meta))

    def value_not(self, meta, children):
        symbol = "-" if self.source[meta.start_pos] == "-" else "NOT"
        return ast.ValueNot(self._value(children[0]), symbol, span=self._span(meta))

    def value_term(self, meta, children):
        return self._value(children[0])

    def cidr(self, meta, children):
        name, *blocks = children
        return ast.Cidr(name, tuple(str(b) for b in blocks), span=self._span(meta))

    # ---- helpers
    def _value(self, item):
        if isinstance(item, Token):
            text = str(item)
            if item.type == "PHRASE":
                return ast.Text(text[1:-1], True, span=span_of(item))
            return ast.Text(text, False, span=span_of(item))
        return item
