"""Text -> PromQL AST: lark's parse tree of grammars/promql.lark, transformed.

The grammar decides what is well-formed; this module adds the rules Prometheus
checks while building its tree (one offset, ranges only on selectors, duration
units in order, a selector that matches something, ...) and reports them as
`QueryError`s with the span of the offending part.
"""

from __future__ import annotations

import math
import re
from functools import lru_cache

from lark import Token, Transformer, v_args
from lark.exceptions import VisitError

from nlq.dialects.go_literals import unquote
from nlq.dialects.promql import ast
from nlq.errors import QueryError
from nlq.grammar import parse_tree

GRAMMAR_FILE = "promql.lark"

TERMINAL_NAMES = {
    "METRIC_NAME": "a metric name",
    "LABEL_NAME": "a label name",
    "STRING": "a quoted string",
    "NUMBER": "a number",
    "DURATION": "a duration (5m, 1h30m)",
    "AGG_OP": "an aggregation (sum, avg, min, max, count, ...)",
    "AGG_PARAM_OP": "an aggregation with a parameter (topk, bottomk, quantile, count_values, ...)",
    "FUNC_NAME": "a function (rate, increase, histogram_quantile, ...)",
    "MATCH_OP": "a matcher operator (=, !=, =~, !~)",
    "CMP_OP": "a comparison operator (==, !=, >, <, >=, <=)",
    "ADD_OP": "`+` or `-`",
    "MUL_OP": "`*`, `/` or `%`",
    "POW": "`^`",
    "OR": "`or`",
    "AND": "`and`",
    "UNLESS": "`unless`",
    "ATAN2": "`atan2`",
    "BY": "`by`",
    "WITHOUT": "`without`",
    "BY_AFTER": "`by`",
    "WITHOUT_AFTER": "`without`",
    "BOOL": "`bool`",
    "ON": "`on`",
    "IGNORING": "`ignoring`",
    "GROUP_SIDE": "`group_left` or `group_right`",
    "GROUP_OPEN": "`group_left(` or `group_right(`",
    "FILL": "`fill`",
    "FILL_LEFT": "`fill_left`",
    "FILL_RIGHT": "`fill_right`",
    "OFFSET": "`offset`",
    "ANCHORED": "`anchored`",
    "SMOOTHED": "`smoothed`",
    "DUR_VAR": "`step()` or `range()`",
    "DUR_MINMAX": "`max_of` or `min_of`",
    "AT_FN": "`start()` or `end()`",
    "LBRACE": "`{`",
    "RBRACE": "`}`",
    "LPAR": "`(`",
    "RPAR": "`)`",
    "LSQB": "`[`",
    "RSQB": "`]`",
    "COMMA": "`,`",
    "COLON": "`:`",
    "AT": "`@`",
}

#: words that are never metric names in Prometheus (they are operators or numbers)
NOT_METRIC_NAMES = frozenset(
    {"bool", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan"}
)

_DURATION_PART = re.compile(r"([0-9]+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {
    "y": 365 * 86_400_000,
    "w": 7 * 86_400_000,
    "d": 86_400_000,
    "h": 3_600_000,
    "m": 60_000,
    "s": 1000,
    "ms": 1,
}
_UNIT_ORDER = ["y", "w", "d", "h", "m", "s", "ms"]
#: Prometheus keeps durations in int64 nanoseconds
MAX_DURATION_S = (2**63 - 1) / 1e9


def parse_number(raw: str) -> float:
    """Prometheus's number(): Go's ParseInt(s, 0, 64) first (hex, octal `0755`), then ParseFloat."""
    low = raw.lower()
    if low in ("inf", "+inf"):
        return math.inf
    if low == "nan":
        return math.nan
    try:
        if low.startswith("0x"):
            return float(int(low, 16))
        if re.fullmatch(r"0[0-7]+", low):
            return float(int(low, 8))
    except ValueError:
        pass
    return float(raw)


def duration_ms(raw: str) -> int:
    """`1h30m` -> 5400000; units must come largest first, each at most once."""
    parts = _DURATION_PART.findall(raw)
    seen = []
    for _digits, unit in parts:
        if seen and _UNIT_ORDER.index(unit) <= _UNIT_ORDER.index(seen[-1]):
            raise ValueError(
                f"not a valid duration string: {raw!r} (units must go from largest to smallest, each once)"
            )
        seen.append(unit)
    return sum(int(d) * _UNIT_MS[u] for d, u in parts)


def _span(meta) -> tuple[int, int] | None:
    if getattr(meta, "empty", True):
        return None
    return (meta.start_pos, meta.end_pos)


def _tok_span(tok: Token) -> tuple[int, int]:
    return (tok.start_pos, tok.end_pos)


class _DurLit:
    """A duration literal or plain number inside a duration position, before folding."""

    __slots__ = ("seconds", "span", "is_duration")

    def __init__(self, seconds: float, span, is_duration: bool):
        self.seconds = seconds
        self.span = span
        self.is_duration = is_duration


@v_args(meta=True, inline=True)
class _Builder(Transformer):
    def __init__(self, text: str):
        super().__init__()
        self.text = text

    def error(self, message: str, span, hint: str | None = None) -> QueryError:
        start, end = span if span else (None, None)
        return QueryError(message, query=self.text, position=start, end=end, hint=hint)

    # --------------------------------------------------------------- literals
    def number(self, meta, tok):
        return ast.NumberLiteral(parse_number(str(tok)), span=_span(meta))

    def duration_number(self, meta, tok):
        return ast.NumberLiteral(self._duration(tok) / 1000, span=_span(meta))

    def string(self, meta, tok):
        return ast.StringLiteral(unquote(str(tok)), span=_span(meta))

    def _duration(self, tok: Token) -> int:
        try:
            return duration_ms(str(tok))
        except ValueError as exc:
            raise self.error(str(exc), _tok_span(tok)) from None

    # --------------------------------------------------------------- selectors
    def metric_name(self, meta, tok):
        return str(tok)

    def label_name(self, meta, tok):
        return unquote(str(tok)) if tok.type == "STRING" else str(tok)

    def label_value(self, meta, tok):
        return unquote(str(tok))

    def matcher(self, meta, name, op, value):
        return ast.Matcher(name, str(op), value, span=_span(meta))

    def quoted_metric(self, meta, tok):
        return ("quoted_name", unquote(str(tok)), _tok_span(tok))

    def label_matchers(self, meta, *items):
        return list(items)

    def vector_selector(self, meta, *children):
        name = None
        items = []
        for child in children:
            if isinstance(child, str):
                name = child
            else:
                items = child
        span = _span(meta)
        if name is not None and name.lower() in NOT_METRIC_NAMES:
            if name.lower() in ("inf", "nan") and not items and len(children) == 1:
                return ast.NumberLiteral(parse_number(name), span=span)
            raise self.error(
                f"unexpected keyword {name!r} where a metric name or expression belongs", span
            )
        matchers = []
        for item in items:
            if isinstance(item, tuple):
                if name is not None:
                    raise self.error("metric name must not be set twice", item[2])
                name = item[1]
            else:
                matchers.append(item)
        if name is not None and len(children) > 1 and any(m.name == "__name__" for m in matchers):
            if any(not isinstance(i, tuple) for i in items) and str(children[0]) == name:
                raise self.error(
                    "metric name must not be set twice: it is written before the braces "
                    "and in a __name__ matcher",
                    span,
                )
        return ast.VectorSelector(name, tuple(matchers), span=span)

    # --------------------------------------------------------------- postfix
    def matrix(self, meta, inner, dur):
        span = _span(meta)
        if not isinstance(inner, ast.VectorSelector):
            raise self.error(
                "ranges only allowed for vector selectors",
                span,
                hint="use a subquery for other expressions: (expr)[5m:1m]",
            )
        if inner.offset_ms or inner.offset_expr is not None:
            raise self.error(
                "no offset modifiers allowed before range",
                span,
                hint="write the range first: foo[5m] offset 1h",
            )
        if inner.at is not None:
            raise self.error(
                "no @ modifiers allowed before range",
                span,
                hint="write the range first: foo[5m] @ 1700000000",
            )
        ms, expr = self._positive(dur)
        return ast.MatrixSelector(inner, ms, span=span, range_expr=expr)

    def subquery(self, meta, inner, dur, step=None):
        ms, expr = self._positive(dur)
        step_ms, step_expr = (None, None) if step is None else self._positive(step)
        return ast.Subquery(
            inner, ms, step_ms, span=_span(meta), range_expr=expr, step_expr=step_expr
        )

    def _positive(self, dur):
        """(ms, DurationExpr | None) of a range or step; literals must be > 0."""
        if isinstance(dur, _DurLit):
            if dur.seconds <= 0:
                raise self.error("duration must be greater than 0", dur.span)
            self._in_range(dur)
            return round(dur.seconds * 1000), None
        return _fold_ms(dur), dur

    def _in_range(self, dur: _DurLit):
        if abs(dur.seconds) > MAX_DURATION_S:
            raise self.error("duration out of range", dur.span)

    def start(self, meta, *children):
        return children[-1]  # after the optional LEADING_WS

    def offset(self, meta, inner, _tok, value):
        span = _span(meta)
        ms, expr = value
        target = inner.vector if isinstance(inner, ast.MatrixSelector) else inner
        if not isinstance(target, (ast.VectorSelector, ast.Subquery)):
            raise self.error(
                "offset modifier must be preceded by an instant vector selector or range vector "
                "selector or a subquery",
                span,
                hint="move the offset onto the selector inside: rate(foo[5m] offset 1h)",
            )
        if target.offset_ms or target.offset_expr is not None:
            raise self.error("offset may not be set multiple times", span)
        new = _replace(target, offset_ms=ms, offset_expr=expr)
        if isinstance(inner, ast.MatrixSelector):
            return _replace(inner, vector=new, span=span)
        return _replace(new, span=span)

    def offset_value(self, meta, *children):
        sign = 1
        if len(children) == 2:
            sign = -1 if str(children[0]) == "-" else 1
        value = children[-1]
        if isinstance(value, _DurLit):
            lit = _DurLit(sign * value.seconds, _span(meta), value.is_duration)
            self._in_range(lit)
            return round(lit.seconds * 1000), None
        if len(children) == 2:
            value = ast.DurationExpr("neg" if sign < 0 else "pos", rhs=value, span=_span(meta))
        return _fold_ms(value), value

    def at(self, meta, inner, value):
        span = _span(meta)
        target = inner.vector if isinstance(inner, ast.MatrixSelector) else inner
        if not isinstance(target, (ast.VectorSelector, ast.Subquery)):
            raise self.error(
                "@ modifier must be preceded by an instant vector selector or range vector selector "
                "or a subquery",
                span,
            )
        if target.at is not None:
            raise self.error("@ <timestamp> may not be set multiple times", span)
        new = _replace(target, at=value)
        if isinstance(inner, ast.MatrixSelector):
            return _replace(inner, vector=new, span=span)
        return _replace(new, span=span)

    def at_value(self, meta, *children):
        if len(children) == 1 and children[0].type == "AT_FN":
            return str(children[0]).lower()
        sign = -1 if len(children) == 2 and str(children[0]) == "-" else 1
        tok = children[-1]
        value = self._duration(tok) / 1000 if tok.type == "DURATION" else parse_number(str(tok))
        value *= sign
        if math.isinf(value) or math.isnan(value) or abs(value) > 9.2e15:
            raise self.error("timestamp out of bounds for @ modifier", _span(meta))
        return value

    def anchored(self, meta, inner, _tok):
        return self._modifier(meta, inner, "anchored")

    def smoothed(self, meta, inner, _tok):
        return self._modifier(meta, inner, "smoothed")

    def _modifier(self, meta, inner, word):
        span = _span(meta)
        target = inner.vector if isinstance(inner, ast.MatrixSelector) else inner
        if not isinstance(target, ast.VectorSelector):
            raise self.error(
                f"{word} modifier can only be used on a vector or range selector", span
            )
        if target.modifier is not None:
            raise self.error(f"{target.modifier} and {word} may not be set together or twice", span)
        new = _replace(target, modifier=word)
        if isinstance(inner, ast.MatrixSelector):
            return _replace(inner, vector=new, span=span)
        return _replace(new, span=span)

    # ---------------------------------------------------------- duration exprs
    def dur_lit(self, meta, tok):
        return _DurLit(self._duration(tok) / 1000, _span(meta), True)

    def dur_num(self, meta, tok):
        return _DurLit(parse_number(str(tok)), _span(meta), False)

    def dur_paren(self, meta, inner):
        return ast.DurationExpr("paren", lhs=_dur(inner), span=_span(meta))

    def dur_var(self, meta, tok):
        return ast.DurationExpr(str(tok).lower(), span=_span(meta))

    def dur_minmax(self, meta, tok, a, b):
        return ast.DurationExpr(str(tok).lower(), lhs=_dur(a), rhs=_dur(b), span=_span(meta))

    def dur_unary(self, meta, op, inner):
        if isinstance(inner, _DurLit):  # Prometheus folds a sign into a literal
            return _DurLit(
                -inner.seconds if str(op) == "-" else inner.seconds, _span(meta), inner.is_duration
            )
        return ast.DurationExpr("neg" if str(op) == "-" else "pos", rhs=inner, span=_span(meta))

    def dur_binary(self, meta, lhs, op, rhs):
        op = str(op)
        if op in "/%" and isinstance(rhs, _DurLit) and rhs.seconds == 0:
            raise self.error("division by zero" if op == "/" else "modulo by zero", _span(meta))
        return ast.DurationExpr(op, lhs=_dur(lhs), rhs=_dur(rhs), span=_span(meta))

    # ------------------------------------------------------------- operators
    def paren(self, meta, inner):
        return ast.Paren(inner, span=_span(meta))

    def unary(self, meta, op, inner):
        op = str(op)
        if isinstance(inner, ast.NumberLiteral):
            value = inner.value if op == "+" or math.isnan(inner.value) else -inner.value
            return ast.NumberLiteral(value, span=_span(meta))
        return ast.Unary(op, inner, span=_span(meta))

    def binary(self, meta, lhs, op, mod, rhs):
        word = str(op).strip().lower()
        return_bool, matching, fill = mod
        if word in ("and", "or", "unless"):
            on, labels = (matching.on, matching.labels) if matching else (False, ())
            if matching is not None and matching.card != "one-to-one":
                raise self.error(f"no grouping allowed for {word!r} operation", matching.span)
            matching = ast.VectorMatching(
                on, labels, "many-to-many", span=matching.span if matching else None
            )
        lhs_fill, rhs_fill = fill
        return ast.Binary(
            word,
            lhs,
            rhs,
            return_bool,
            matching,
            span=_span(meta),
            fill_lhs=lhs_fill,
            fill_rhs=rhs_fill,
        )

    def bin_mod(self, meta, *children):
        return_bool = False
        matching = None
        fill = (None, None)
        for child in children:
            if isinstance(child, Token):
                return_bool = True
            elif isinstance(child, ast.VectorMatching):
                matching = child
            else:
                fill = child
        return return_bool, matching, fill

    def matching(self, meta, tok, labels, group=None):
        on = str(tok).lower() == "on"
        card, include = "one-to-one", ()
        if group is not None:
            card, include = group
        return ast.VectorMatching(on, labels, card, include, span=_span(meta))

    def group(self, meta, tok, labels=()):
        side = str(tok).lower()
        return ("many-to-one" if side.startswith("group_left") else "one-to-many"), labels

    def group_labels(self, meta, *names):
        return tuple(names)

    def fill_both(self, meta, _tok, value):
        return (value, value)

    def fill_left_first(self, meta, _tok, left, _tok2=None, right=None):
        return (left, right)

    def fill_right_first(self, meta, _tok, right, _tok2=None, left=None):
        return (left, right)

    def fill_value(self, meta, *children):
        tok = children[-1]
        value = self._duration(tok) / 1000 if tok.type == "DURATION" else parse_number(str(tok))
        return -value if len(children) == 2 and str(children[0]) == "-" else value

    # ------------------------------------------------------ aggregations, calls
    def label_list(self, meta, *names):
        return tuple(names)

    def grouping(self, meta, tok, labels):
        return ("without" in str(tok).lower(), labels)

    grouping_after = grouping

    def aggregation(self, meta, op, *rest):
        grouping = (False, ())
        has_grouping = False
        args = []
        for item in rest:
            if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], bool):
                grouping = item
                has_grouping = True
            else:
                args.append(item)
        param = args[0] if len(args) == 2 else None
        without, labels = grouping
        return ast.Aggregation(
            str(op).lower(),
            args[-1],
            param,
            labels,
            without,
            span=_span(meta),
            has_grouping=has_grouping,
        )

    def call(self, meta, name, *args):
        return ast.Call(str(name), tuple(args), span=_span(meta))


def _dur(node):
    """A duration operand as a DurationExpr (literals become num/dur leaves)."""
    if isinstance(node, _DurLit):
        if node.is_duration:
            return ast.DurationExpr("dur", value=round(node.seconds * 1000), span=node.span)
        return ast.DurationExpr("num", value=node.seconds, span=node.span)
    return node


def fold_seconds(
    node: ast.DurationExpr, step_s: float | None = None, range_s: float | None = None
) -> float | None:
    """The value of a duration expression in seconds; None when it needs an unknown step()/range()."""
    op = node.op
    if op == "dur":
        return node.value / 1000
    if op == "num":
        return node.value
    if op == "step":
        return step_s
    if op == "range":
        return range_s
    if op == "paren":
        return fold_seconds(node.lhs, step_s, range_s)
    if op in ("neg", "pos"):
        v = fold_seconds(node.rhs, step_s, range_s)
        return None if v is None else (-v if op == "neg" else v)
    a = fold_seconds(node.lhs, step_s, range_s)
    b = fold_seconds(node.rhs, step_s, range_s)
    if a is None or b is None:
        return None
    try:
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "/":
            return a / b
        if op == "%":
            return math.fmod(a, b)
        if op == "^":
            return a**b
        if op == "max_of":
            return max(a, b)
        if op == "min_of":
            return min(a, b)
    except (ZeroDivisionError, OverflowError, ValueError):
        return None
    return None


def _fold_ms(node) -> int:
    node = _dur(node)
    value = fold_seconds(node)
    if value is None or math.isnan(value) or math.isinf(value) or abs(value) > MAX_DURATION_S:
        return 0
    return round(value * 1000)


def _replace(node, **changes):
    from dataclasses import replace

    return replace(node, **changes)


@lru_cache(maxsize=4096)
def _parse_cached(text: str):
    tree = parse_tree(GRAMMAR_FILE, text, terminal_names=TERMINAL_NAMES)
    try:
        return _Builder(text).transform(tree)
    except VisitError as exc:
        if isinstance(exc.orig_exc, QueryError):
            raise exc.orig_exc from None
        raise


def parse(text: str) -> ast.Expr:
    """Parse a PromQL query into its AST; raise `QueryError` on bad syntax.

    >>> parse('sum by (job) (rate(up[5m]))').op
    'sum'
    """
    if not isinstance(text, str):
        raise QueryError("a query must be text")
    if "\x00" in text or len(text) > 100_000:
        raise QueryError("the query holds a NUL byte or is too long", query=text[:200])
    return _parse_cached(text)


__all__ = [
    "GRAMMAR_FILE",
    "TERMINAL_NAMES",
    "duration_ms",
    "fold_seconds",
    "parse",
    "parse_number",
    "unquote",
]


def metric_name_regex(excluded=("bool", "group_left", "group_right"), max_len: int = 200) -> str:
    """The METRIC_NAME regex of grammars/promql.lark: any metric name except `excluded` (any case).

    Neither lark nor llguidance has lookaround, so "not these words" is spelled
    out: names of other lengths, plus, for each word, the names of its length
    that differ from it at some position.  Alternatives go longest first, since
    Python's `re` takes the first alternative that matches.
    """
    first, rest = "a-zA-Z_:", "a-zA-Z0-9_:"

    def chars(spec: str) -> list[str]:
        out = set(re.sub(r".-.", "", spec))
        for lo, hi in re.findall(r"(.)-(.)", spec):
            out |= {chr(c) for c in range(ord(lo), ord(hi) + 1)}
        return sorted(out, key=ord)

    def char_class(spec: str, without: str) -> str:
        keep = [c for c in chars(spec) if c.lower() != without.lower()]
        runs, i = [], 0
        while i < len(keep):
            j = i
            while j + 1 < len(keep) and ord(keep[j + 1]) == ord(keep[j]) + 1:
                j += 1
            runs.append(
                keep[i] if i == j else keep[i] + keep[j] if j == i + 1 else f"{keep[i]}-{keep[j]}"
            )
            i = j + 1
        return "[" + "".join(runs) + "]"

    def tail(n: int) -> str:
        return "" if n == 0 else f"[{rest}]" if n == 1 else f"[{rest}]{{{n}}}"

    by_length: list[tuple[int, str]] = []
    lengths = {len(w) for w in excluded}
    free = [n for n in range(1, max_len + 1) if n not in lengths]
    runs: list[list[int]] = []
    for n in free:
        if runs and runs[-1][1] == n - 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    for lo, hi in runs:
        reps = f"{{{lo - 1}}}" if lo == hi else f"{{{lo - 1},{hi - 1}}}"
        by_length.append((hi, f"[{first}][{rest}]{reps}"))
    for word in excluded:
        for i, ch in enumerate(word):
            prefix = "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word[:i])
            by_length.append(
                (
                    len(word),
                    prefix + char_class(first if i == 0 else rest, ch) + tail(len(word) - i - 1),
                )
            )
    by_length.sort(key=lambda item: -item[0])
    return "|".join(alt for _n, alt in by_length)
