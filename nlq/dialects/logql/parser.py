"""Text -> LogQL AST: lark's parse tree of grammars/logql.lark, transformed."""

from __future__ import annotations

from lark import Token, Transformer, Tree, v_args
from lark.exceptions import VisitError

from nlq.dialects.go_literals import unquote
from nlq.dialects.logql import ast
from nlq.errors import QueryError
from nlq.grammar import parse_tree

GRAMMAR_FILE = "logql.lark"

TERMINAL_NAMES = {
    "NAME": "a label name",
    "STRING": "a quoted string",
    "NUMBER": "a number",
    "DURATION": "a duration (5m, 250ms)",
    "BYTES": "a size (20KB, 1.5MiB)",
    "RANGE": "a range in brackets ([5m])",
    "RANGE_OP": "a range aggregation (rate, count_over_time, ...)",
    "AGG_OP": "an aggregation (sum, avg, topk, ...)",
    "MATCH_OP": "a matcher operator (=, !=, =~, !~)",
    "LINE_OP": "a line filter (|=, !=, |~, !~, |>, !>)",
    "CMP_OP": "a comparison operator",
    "LF_CMP_OP": "a comparison operator",
    "EQ_OP": "`=` or `!=`",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "SIGN": "a sign",
    "OR": "`or`",
    "AND": "`and`",
    "UNLESS": "`unless`",
    "BY": "`by`",
    "WITHOUT": "`without`",
    "BOOL": "`bool`",
    "OFFSET": "`offset`",
    "UNWRAP": "`unwrap`",
    "CONV": "a conversion (duration, duration_seconds, bytes)",
    "FLAG": "a parser flag (--strict, --keep-empty)",
    "GROUP": "`group_left` or `group_right`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "COMMA": "`,`",
    "VBAR": "`|`",
    "EQUAL": "`=`",
}




def parse_number(text: str) -> float:
    text = text.lower()
    if text.startswith(("0x", "+0x", "-0x")):
        return float.fromhex(text)
    return float(text)


# Loki's lexer makes these words keywords, so `| json != "x"` is the json parser and
# then a line filter, never a label filter on a label called `json`.  The grammar
# cannot reserve words (no lookaround in llguidance); this puts the reading right.
_BARE_STAGES = {
    "json": ast.JsonParser,
    "logfmt": ast.LogfmtParser,
    "unpack": ast.UnpackParser,
    "decolorize": ast.Decolorize,
}


def _reserved_word_stage(stage) -> list:
    f = getattr(stage, "filter", None)
    if (
        isinstance(stage, ast.LabelFilterStage)
        and isinstance(f, ast.StringFilter | ast.IpFilter)
        and f.name in _BARE_STAGES
        and f.op in ("!=", "!~")
    ):
        start, end = f.span or (None, None)
        name_end = None if start is None else start + len(f.name)
        keyword = _BARE_STAGES[f.name](span=None if start is None else (start, name_end))
        # `| unpack != ip("10.0.0.1")` too: the ip() line filter
        value = (ast.LineFilterValue(f.pattern, True) if isinstance(f, ast.IpFilter)
                 else ast.LineFilterValue(f.value))
        line = ast.LineFilter(f.op, (value,), span=None if start is None else (name_end, end))
        return [keyword, line]
    return [stage]


def _glued(keyword: Token, extractions: list) -> bool:
    """Is the first extraction written against the parser's keyword (`json_path="x"`)?

    Loki's lexer reads `json_path` as one identifier, so `| json_path="x"` is a
    label filter.  Whitespace is ignored between tokens, so the grammar also
    admits `json` + extraction `_path="x"`; this picks Loki's reading.
    """
    if not extractions or not all(isinstance(e, ast.Extraction) for e in extractions):
        return False
    first = extractions[0]
    return first.span is not None and first.span[0] == keyword.end_pos and all(
        e.path is not None for e in extractions
    )


def _glued_label_filter(keyword: Token, extractions: list, span) -> ast.LabelFilterStage:
    first, *rest = extractions
    condition = ast.StringFilter(str(keyword) + first.name, "=", first.path, span=first.span)
    for extraction in rest:
        condition = ast.AndFilter(
            condition, ast.StringFilter(extraction.name, "=", extraction.path, span=extraction.span)
        )
    return ast.LabelFilterStage(condition, span=span)


def _span(meta) -> ast.Span:
    if getattr(meta, "empty", True):
        return None
    return (meta.start_pos, meta.end_pos)


def _tok_span(tok: Token) -> ast.Span:
    return (tok.start_pos, tok.end_pos)


@v_args(meta=True)
class _ToAst(Transformer):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def _str(self, tok: Token) -> str:
        return unquote(str(tok), self.text, tok.start_pos or 0)

    # -- names
    def label_name(self, meta, children):
        return str(children[0])

    def field_name(self, meta, children):
        return str(children[0])

    def new_label(self, meta, children):
        return str(children[0])

    def label_ref(self, meta, children):
        return str(children[0])

    def label_value(self, meta, children):
        return self._str(children[0])

    # -- expressions
    def start(self, meta, children):
        return children[0]

    def paren(self, meta, children):
        return children[0]

    def literal(self, meta, children):
        sign = "-" if len(children) == 2 and children[0] == "-" else ""
        return ast.NumberLiteral(parse_number(sign + str(children[-1])), span=_span(meta))

    def binary(self, meta, children):
        left, op, mod, right = children
        return_bool, matching = mod
        return ast.BinaryOp(str(op).strip(), left, right, return_bool, matching, span=_span(meta))

    def bin_mod(self, meta, children):
        return_bool = False
        matching = None
        for child in children:
            if isinstance(child, Token) and child.type == "BOOL":
                return_bool = True
            elif isinstance(child, ast.VectorMatching):
                matching = child
        return (return_bool, matching)

    def matching(self, meta, children):
        on = str(children[0]) == "on"
        labels: tuple[str, ...] = ()
        card, include = "one-to-one", ()
        for child in children[1:]:
            if isinstance(child, tuple) and child and child[0] == "group":
                card, include = child[1], child[2]
            elif isinstance(child, list):
                labels = tuple(child)
        return ast.VectorMatching(on, labels, card, include, span=_span(meta))

    def group(self, meta, children):
        include = tuple(children[1]) if len(children) > 1 else ()
        return ("group", str(children[0]), include)

    def label_list(self, meta, children):
        return list(children)

    def grouping(self, meta, children):
        without = str(children[0]).strip() == "without"
        labels = tuple(children[1]) if len(children) > 1 else ()
        return ast.Grouping(without, labels, span=_span(meta))

    def range_agg(self, meta, children):
        op = str(children[0])
        param = None
        log_range = None
        grouping = None
        for child in children[1:]:
            if isinstance(child, Token) and child.type == "NUMBER":
                param = parse_number(str(child))
            elif isinstance(child, ast.LogRange):
                log_range = child
            elif isinstance(child, ast.Grouping):
                grouping = child
        return ast.RangeAggregation(op, log_range, param, grouping, span=_span(meta))

    def log_range(self, meta, children):
        selector = None
        stages: tuple = ()
        unwrap = None
        rng = ""
        offset = None
        for child in children:
            if isinstance(child, ast.Selector):
                selector = child
            elif isinstance(child, Token) and child.type == "RANGE":
                rng = str(child)[1:-1]
            elif isinstance(child, tuple) and child and child[0] == "offset":
                offset = child[1]
            elif isinstance(child, ast.Unwrap):
                unwrap = child
            elif isinstance(child, list):
                stages = tuple(child)
        return ast.LogRange(selector, stages, unwrap, rng, offset, span=_span(meta))

    def paren_range(self, meta, children):
        return children[0]

    def offset(self, meta, children):
        return ("offset", str(children[1]))

    def unwrap(self, meta, children):
        conversion, name = children[1]
        return ast.Unwrap(name, conversion, tuple(children[2:]), span=_span(meta))

    def unwrap_source(self, meta, children):
        if len(children) == 2:
            return (str(children[0]), children[1])
        return (None, children[0])

    def vector_agg(self, meta, children):
        op = str(children[0])
        param = None
        grouping = None
        expr = None
        for child in children[1:]:
            if isinstance(child, Token) and child.type == "NUMBER":
                param = parse_number(str(child))
            elif isinstance(child, ast.Grouping):
                grouping = child
            else:
                expr = child
        return ast.VectorAggregation(op, expr, param, grouping, span=_span(meta))

    def label_replace(self, meta, children):
        _, expr, dst, repl, src, regex = children
        return ast.LabelReplace(
            expr,
            self._str(dst),
            self._str(repl),
            self._str(src),
            self._str(regex),
            span=_span(meta),
        )

    def vector_fn(self, meta, children):
        return ast.VectorExpr(parse_number(str(children[1])), span=_span(meta))

    # -- log queries
    def log_expr(self, meta, children):
        stages = tuple(children[1]) if len(children) > 1 else ()
        return ast.LogQuery(children[0], stages, span=_span(meta))

    def selector(self, meta, children):
        return ast.Selector(tuple(children), span=_span(meta))

    def matcher(self, meta, children):
        name, op, value = children
        return ast.Matcher(name, str(op), value, span=_span(meta))

    def pipeline(self, meta, children):
        return [stage for child in children for stage in _reserved_word_stage(child)]

    def line_filter(self, meta, children):
        op = str(children[0])
        values = tuple(c for c in children[1:] if isinstance(c, ast.LineFilterValue))
        return ast.LineFilter(op, values, span=_span(meta))

    def line_value(self, meta, children):
        return ast.LineFilterValue(self._str(children[0]), False, span=_span(meta))

    def ip_value(self, meta, children):
        return ast.LineFilterValue(self._str(children[1]), True, span=_span(meta))

    def json_parser(self, meta, children):
        keyword, extractions = children[0], children[1:]
        if _glued(keyword, extractions):
            return _glued_label_filter(keyword, extractions, _span(meta))
        return ast.JsonParser(tuple(extractions), span=_span(meta))

    def logfmt_parser(self, meta, children):
        flags = tuple(str(c) for c in children[1:] if isinstance(c, Token) and c.type == "FLAG")
        extractions = tuple(c for c in children[1:] if isinstance(c, ast.Extraction))
        if not flags and _glued(children[0], list(extractions)):
            return _glued_label_filter(children[0], list(extractions), _span(meta))
        return ast.LogfmtParser(flags, extractions, span=_span(meta))

    def regexp_parser(self, meta, children):
        return ast.RegexpParser(self._str(children[1]), span=_span(meta))

    def pattern_parser(self, meta, children):
        return ast.PatternParser(self._str(children[1]), span=_span(meta))

    def unpack_parser(self, meta, children):
        return ast.UnpackParser(span=_span(meta))

    def extraction_path(self, meta, children):
        return ast.Extraction(children[0], self._str(children[1]), span=_span(meta))

    def extraction_field(self, meta, children):
        return ast.Extraction(children[0], None, span=_span(meta))

    def label_filter_stage(self, meta, children):
        return ast.LabelFilterStage(children[0], span=_span(meta))

    def line_format(self, meta, children):
        return ast.LineFormat(self._str(children[1]), span=_span(meta))

    def label_format(self, meta, children):
        return ast.LabelFormat(tuple(children[1:]), span=_span(meta))

    def label_rename(self, meta, children):
        return ast.LabelFormatItem(children[0], children[1], True, span=_span(meta))

    def label_template(self, meta, children):
        return ast.LabelFormatItem(children[0], self._str(children[1]), False, span=_span(meta))

    def decolorize(self, meta, children):
        return ast.Decolorize(span=_span(meta))

    def drop(self, meta, children):
        return ast.Drop(tuple(children[1:]), span=_span(meta))

    def keep(self, meta, children):
        return ast.Keep(tuple(children[1:]), span=_span(meta))

    def named_matcher(self, meta, children):
        if len(children) == 3:
            return ast.NamedMatcher(
                children[0], str(children[1]), self._str(children[2]), span=_span(meta)
            )
        return ast.NamedMatcher(children[0], span=_span(meta))

    # -- label filters
    def lf_binary(self, meta, children):
        left, op, right = children
        cls = ast.OrFilter if str(op).strip() == "or" else ast.AndFilter
        return cls(left, right, span=_span(meta))

    def lf_comma(self, meta, children):
        return ast.AndFilter(children[0], children[1], span=_span(meta))

    lf_juxtaposed = lf_comma

    def lf_string(self, meta, children):
        name, op, value = children
        return ast.StringFilter(name, str(op), self._str(value), span=_span(meta))

    def lf_ip(self, meta, children):
        name, op, _ip, value = children
        return ast.IpFilter(name, str(op), self._str(value), span=_span(meta))

    def lf_number(self, meta, children):
        name, op = children[0], str(children[1])
        sign = "-" if len(children) == 4 and children[2] == "-" else ""
        return ast.NumberFilter(name, op, parse_number(sign + str(children[-1])), span=_span(meta))

    def lf_duration(self, meta, children):
        name, op, value = children
        return ast.DurationFilter(name, str(op), str(value), span=_span(meta))

    def lf_bytes(self, meta, children):
        name, op, value = children
        return ast.BytesFilter(name, str(op), str(value), span=_span(meta))


def parse(text: str, start: str = "start") -> ast.Expr:
    """Parse a LogQL query into its AST; raise `QueryError` on bad syntax.

    >>> parse('{app="cart"} |= "error"').selector.matchers[0].value
    'cart'
    """
    tree = parse_tree(GRAMMAR_FILE, text, start=start, terminal_names=TERMINAL_NAMES)
    return to_ast(tree, text)


def to_ast(tree: Tree, text: str) -> ast.Expr:
    try:
        return _ToAst(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise
