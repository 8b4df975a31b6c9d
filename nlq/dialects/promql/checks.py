"""Semantic checks a PromQL grammar cannot express: value types, modifiers, regexes, the catalog.

Type rules follow Prometheus's `checkAST` (promql/parser/parse.go): every
operator and function argument is checked against the four value types
(instant vector, range vector, scalar, string).  Catalog rules (kind
"catalog") need a `Catalog`: unknown metrics and labels with "did you mean",
values never observed, counters read without rate(), histogram_quantile over
something that is not a `_bucket` series.
"""

from __future__ import annotations

import difflib
import re

from nlq.catalog import Catalog
from nlq.dialects.logql.checks import regex_error as _python_regex_error
from nlq.dialects.promql import ast
from nlq.dialects.promql.formatter import format_expr
from nlq.dialects.promql.functions import (
    AGGREGATIONS,
    COUNTER_FUNCTIONS,
    FUNCTIONS,
    GAUGE_FUNCTIONS,
)
from nlq.errors import QueryError

INSTANT, RANGE, SCALAR, STRING = "instant vector", "range vector", "scalar", "string"
COMPARISONS = {"==", "!=", ">", "<", ">=", "<="}
SET_OPS = {"and", "or", "unless"}
#: calls and aggregations that read a counter's raw value on purpose
_RAW_COUNTER_OK_CALLS = {
    "absent",
    "timestamp",
    "present_over_time",
    "changes",
    "resets",
    "count_over_time",
    "absent_over_time",
    "last_over_time",
}
_RAW_COUNTER_OK_AGGS = {"count", "group", "count_values"}
_RE2_UNSUPPORTED = re.compile(r"\(\?<?[=!]|\\[1-9]|\(\?P=|\(\?>|\(\?\(")


_INLINE_FLAGS = re.compile(r"\(\?[imsU]+\)")


def regex_error(pattern: str) -> str | None:
    """Why Go's RE2 would refuse `pattern`, or None (lookarounds and backreferences included)."""
    if _RE2_UNSUPPORTED.search(pattern):
        return "lookarounds, backreferences and atomic groups are not supported (Go RE2 syntax)"
    # RE2 takes flag groups anywhere (`a((?i)b)`); Python only at the start: judge without them
    return _python_regex_error(_INLINE_FLAGS.sub("", pattern.replace("(?U)", "")))


def _error(
    message: str, text: str, node, hint: str | None = None, kind: str = "type"
) -> QueryError:
    span = getattr(node, "span", None)
    start, end = span if span else (None, None)
    return QueryError(message, query=text, position=start, end=end, hint=hint, kind=kind)


def children(node) -> list:
    if isinstance(node, ast.MatrixSelector):
        return [node.vector]
    if isinstance(node, (ast.Subquery, ast.Paren, ast.Unary)):
        return [node.expr]
    if isinstance(node, ast.Binary):
        return [node.lhs, node.rhs]
    if isinstance(node, ast.Aggregation):
        return [c for c in (node.param, node.expr) if c is not None]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def walk(node, parents: tuple = ()):
    """(node, ancestors) for every node, depth first."""
    yield node, parents
    for child in children(node):
        yield from walk(child, parents + (node,))


def _strip(node):
    while isinstance(node, ast.Paren):
        node = node.expr
    return node


class _TypeChecker:
    def __init__(self, text: str):
        self.text = text
        self.problems: list[QueryError] = []
        #: selectors that may match everything (info()'s label selector)
        self.may_match_all: set[int] = set()

    def err(self, message, node, hint=None, kind="type"):
        self.problems.append(_error(message, self.text, node, hint, kind))

    def type_of(self, node) -> str:
        if isinstance(node, ast.NumberLiteral):
            return SCALAR
        if isinstance(node, ast.StringLiteral):
            return STRING
        if isinstance(node, ast.VectorSelector):
            self._selector(node)
            return INSTANT
        if isinstance(node, ast.MatrixSelector):
            self._selector(node.vector)
            return RANGE
        if isinstance(node, ast.Subquery):
            inner = self.type_of(node.expr)
            if inner != INSTANT:
                self.err(
                    f"subquery is only allowed on an instant vector, got {inner}",
                    node,
                    hint="a subquery re-evaluates an instant-vector expression: rate(x[5m])[1h:1m]",
                )
            return RANGE
        if isinstance(node, ast.Paren):
            return self.type_of(node.expr)
        if isinstance(node, ast.Unary):
            inner = self.type_of(node.expr)
            if inner not in (SCALAR, INSTANT):
                self.err(
                    f"unary expression only allowed on expressions of type scalar or instant vector, "
                    f"got {inner}",
                    node,
                )
            return inner
        if isinstance(node, ast.Binary):
            return self._binary(node)
        if isinstance(node, ast.Aggregation):
            return self._aggregation(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        raise TypeError(f"not a PromQL AST node: {node!r}")

    def _selector(self, vs: ast.VectorSelector) -> None:
        if (
            vs.name is None
            and id(vs) not in self.may_match_all
            and all(matches_empty(m) for m in vs.matchers)
        ):
            self.err(
                "vector selector must contain at least one non-empty matcher",
                vs,
                hint='name a metric (up{job="api"}) or add a matcher that cannot match the empty string',
                kind="syntax",
            )
        for m in vs.matchers:
            if m.op in ("=~", "!~") and (why := regex_error(m.value)):
                self.err(
                    f"invalid regular expression in matcher {m.name}{m.op}{m.value!r}: {why}",
                    m,
                    hint="PromQL regexes use Go RE2 syntax, anchored at both ends",
                    kind="semantic",
                )

    def _binary(self, node: ast.Binary) -> str:
        lt = self.type_of(node.lhs)
        rt = self.type_of(node.rhs)
        for side, t in ((node.lhs, lt), (node.rhs, rt)):
            if t not in (SCALAR, INSTANT):
                hint = None
                if t == RANGE:
                    hint = f"apply a function first: rate({format_expr(_strip(side))}) or avg_over_time(...)"
                self.err(
                    f"binary expression must contain only scalar and instant vector types, got {t}",
                    side,
                    hint=hint,
                )
                return INSTANT
        op = node.op
        if node.return_bool and op not in COMPARISONS:  # not the trim operators </ and >/ either
            self.err(
                "bool modifier can only be used on comparison operators",
                node,
                hint="drop `bool`, or compare: a > bool b",
            )
        if op in SET_OPS and (lt == SCALAR or rt == SCALAR):
            self.err(
                f"set operator {op!r} not allowed in binary scalar expression",
                node,
                hint=f"`{op}` works between two instant vectors; for a threshold use a comparison: x > 5",
            )
        if op in COMPARISONS and lt == SCALAR and rt == SCALAR and not node.return_bool:
            self.err(
                "comparisons between scalars must use BOOL modifier",
                node,
                hint=f"write `{format_expr(node.lhs)} {op} bool {format_expr(node.rhs)}`",
            )
        m = node.matching
        explicit = m is not None and (m.on or m.labels or m.card in ("many-to-one", "one-to-many"))
        if (explicit or node.fill_lhs is not None or node.fill_rhs is not None) and (
            lt == SCALAR or rt == SCALAR
        ):
            self.err("vector matching only allowed between instant vectors", node)
        if m is not None:
            if m.on:
                for label in m.include:
                    if label in m.labels:
                        self.err(
                            f"label {label!r} must not occur in ON and GROUP clause at once", node
                        )
            self._duplicates(m.labels, node, "on/ignoring")
            self._duplicates(m.include, node, "group_left/group_right")
        return INSTANT if INSTANT in (lt, rt) else SCALAR

    def _duplicates(self, labels, node, where):
        seen = set()
        for label in labels:
            if label in seen:
                self.err(
                    f"duplicate label {label!r} in {where}",
                    node,
                    hint="name each label once",
                    kind="semantic",
                )
            seen.add(label)

    def _aggregation(self, node: ast.Aggregation) -> str:
        t = self.type_of(node.expr)
        if t != INSTANT:
            hint = None
            if t == RANGE:
                hint = (
                    f"aggregate a rate or an _over_time function: {node.op}(rate("
                    f"{format_expr(_strip(node.expr))}))"
                )
            self.err(
                f"expected type instant vector in aggregation expression, got {t}",
                node.expr,
                hint=hint,
            )
        spec = AGGREGATIONS.get(node.op)
        if spec is not None and spec.param_type is not None:
            if node.param is None:
                self.err(f"{node.op}() needs a parameter", node)
            else:
                pt = self.type_of(node.param)
                if pt != spec.param_type:
                    self.err(
                        f"expected type {spec.param_type} in aggregation parameter, got {pt}",
                        node.param,
                        hint='count_values takes a label name first: count_values("value", x)'
                        if node.op == "count_values"
                        else f"{node.op} takes a number first: {node.op}(5, x)",
                    )
        elif node.param is not None:
            self.err(f"{node.op}() takes no parameter", node.param)
        self._duplicates(node.grouping, node, "the grouping")
        return INSTANT

    def _call(self, node: ast.Call) -> str:
        fn = FUNCTIONS.get(node.func)
        if fn is None:
            self.err(
                f"unknown function {node.func!r}",
                node,
                hint=_did_you_mean(node.func, FUNCTIONS),
                kind="syntax",
            )
            return INSTANT
        n = len(node.args)
        if n < fn.min_args or (fn.max_args is not None and n > fn.max_args):
            expected = (
                str(fn.min_args)
                if fn.max_args == fn.min_args
                else (
                    f"{fn.min_args} to {fn.max_args}"
                    if fn.max_args is not None
                    else f"at least {fn.min_args}"
                )
            )
            self.err(
                f"expected {expected} argument(s) in call to {node.func!r}, got {n}",
                node,
                hint=f"usage: {fn.signature()}",
            )
            for arg in node.args:
                self.type_of(arg)
            return fn.return_type
        if node.func == "info" and n == 2:
            self.may_match_all.add(id(_strip(node.args[1])))
        for i, arg in enumerate(node.args):
            want = fn.arg_type(i)
            got = self.type_of(arg)
            if got != want:
                self.err(
                    f"expected type {want} in call to function {node.func!r}, got {got}",
                    arg,
                    hint=self._call_hint(node, arg, want, got),
                )
        if node.func == "label_replace" and n == 5:
            regex = _strip(node.args[4])
            if isinstance(regex, ast.StringLiteral) and (why := regex_error(regex.value)):
                self.err(
                    f"invalid regular expression in label_replace(): {why}", regex, kind="semantic"
                )
        if node.func == "info" and n == 2:
            sel = _strip(node.args[1])
            if not isinstance(sel, ast.VectorSelector) or sel.name is not None:
                self.err(
                    'the second argument of info() must be a label selector like {k8s_cluster_name=~".+"}',
                    node.args[1],
                )
        return fn.return_type

    def _call_hint(self, node, arg, want, got) -> str | None:
        inner = _strip(arg)
        if want == RANGE and got == INSTANT and isinstance(inner, ast.VectorSelector):
            return f"{node.func}() needs a range vector: did you mean {node.func}({format_expr(inner)}[5m])?"
        if want == RANGE and got == INSTANT:
            return f"{node.func}() needs a range vector: make a subquery, {node.func}(({format_expr(inner)})[5m:1m])"
        if want == INSTANT and got == RANGE:
            return (
                f"{node.func}() takes an instant vector: drop the range, or compute one first, "
                f"e.g. {node.func}(rate(...))"
            )
        if want == INSTANT and got == SCALAR:
            return f"wrap the number: {node.func}(vector({format_expr(inner)}))"
        if want == SCALAR and got == INSTANT:
            return f"turn the vector into a scalar with scalar({format_expr(inner)})"
        return None


def matches_empty(m: ast.Matcher) -> bool:
    """True when the matcher selects series that lack the label (it matches "")."""
    if m.op == "=":
        return m.value == ""
    if m.op == "!=":
        return m.value != ""
    try:
        hit = re.fullmatch(m.value, "") is not None
    except re.error:
        return False
    return hit if m.op == "=~" else not hit


def _did_you_mean(name: str, known) -> str | None:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    return ("did you mean " + " or ".join(close) + "?") if close else None


def check(node: ast.Expr, text: str, catalog: Catalog | None = None) -> list[QueryError]:
    """Every problem found, type errors first; catalog ones only when a catalog is given.

    >>> from nlq.dialects.promql.parser import parse
    >>> check(parse("rate(up)"), "rate(up)")[0].hint
    'rate() needs a range vector: did you mean rate(up[5m])?'
    """
    checker = _TypeChecker(text)
    checker.type_of(node)
    problems = checker.problems
    problems += _histogram_quantile_le(node, text)
    if catalog is not None:
        problems += check_catalog(node, text, catalog)
    return problems


def _value_path(node):
    """The aggregations whose output flows into `node`'s value (not the side joined in by group_x)."""
    node = _strip(node)
    if isinstance(node, ast.Aggregation):
        yield node
    elif isinstance(node, ast.Binary):
        card = node.matching.card if node.matching else "one-to-one"
        if card != "one-to-many":
            yield from _value_path(node.lhs)
        if card != "many-to-one":
            yield from _value_path(node.rhs)
    elif isinstance(node, ast.Call):
        for arg in node.args:
            yield from _value_path(arg)


def _histogram_quantile_le(node, text) -> list[QueryError]:
    """histogram_quantile over classic `_bucket` series must keep `le` when it aggregates."""
    out = []
    for item, _parents in walk(node):
        if not (
            isinstance(item, ast.Call) and item.func == "histogram_quantile" and len(item.args) == 2
        ):
            continue
        for agg in _value_path(item.args[1]):
            buckets = any(
                isinstance(s, ast.VectorSelector) and (s.name or "").endswith("_bucket")
                for s, _ in walk(agg)
            )
            if buckets and not agg.without and "le" not in agg.grouping:
                labels = ", ".join(agg.grouping)
                out.append(
                    _error(
                        f"{agg.op} by ({labels}) drops the `le` label that histogram_quantile() needs",
                        text,
                        agg,
                        hint=f"keep it: {agg.op} by ({', '.join((*agg.grouping, 'le'))}) (...)",
                        kind="semantic",
                    )
                )
                break
    return out


def check_catalog(node: ast.Expr, text: str, catalog: Catalog) -> list[QueryError]:
    """Catalog rules (kind "catalog"): names, labels, values, counters, histogram buckets."""
    out: list[QueryError] = []
    metrics = catalog.metrics
    for item, parents in walk(node):
        if isinstance(item, ast.VectorSelector):
            out += _check_selector(item, parents, text, catalog)
        if (
            isinstance(item, ast.Call)
            and item.func == "histogram_quantile"
            and len(item.args) == 2
            and metrics
        ):
            names = [
                s.name
                for s, _ in walk(item.args[1])
                if isinstance(s, ast.VectorSelector) and s.name
            ]
            known = [metrics[n] for n in names if n in metrics]
            if known and not any(m.holds_buckets for m in known):
                base = re.sub(r"_(sum|count|total)$", "", names[0])
                hint = None
                if f"{base}_bucket" in metrics:
                    hint = f"did you mean {base}_bucket? histogram_quantile(0.9, sum by (le) (rate({base}_bucket[5m])))"
                out.append(
                    _error(
                        "histogram_quantile() needs a histogram's _bucket series with an `le` label, got "
                        + ", ".join(sorted(set(names))),
                        text,
                        item.args[1],
                        hint=hint,
                        kind="catalog",
                    )
                )
        if isinstance(item, ast.Call) and item.func in GAUGE_FUNCTIONS and metrics:
            for s, _ in walk(item):
                if (
                    isinstance(s, ast.VectorSelector)
                    and s.name in metrics
                    and metrics[s.name].type == "counter"
                ):
                    out.append(
                        _error(
                            f"{item.func}() is meant for gauges, but {s.name} is a counter",
                            text,
                            item,
                            hint=f"use increase() or rate(): rate({s.name}[5m])",
                            kind="catalog",
                        )
                    )
    return out


def _check_selector(vs: ast.VectorSelector, parents, text, catalog) -> list[QueryError]:
    out = []
    metrics = catalog.metrics
    if not metrics:
        return out
    name = vs.name
    if name is None:
        for m in vs.matchers:
            if m.name == "__name__" and m.op == "=":
                name = m.value
    if name is None:
        return out
    metric = metrics.get(name)
    if metric is None:
        out.append(
            _error(
                f"unknown metric {name!r}",
                text,
                vs,
                hint=_did_you_mean(name, metrics) or _known(metrics),
                kind="catalog",
            )
        )
        return out
    for m in vs.matchers:
        if m.name == "__name__" or not metric.labels:
            continue
        if m.name not in metric.labels:
            out.append(
                _error(
                    f"unknown label {m.name!r} for metric {name!r}",
                    text,
                    m,
                    hint=_did_you_mean(m.name, metric.labels) or _known(metric.labels),
                    kind="catalog",
                )
            )
            continue
        values = metric.labels.get(m.name) or []
        if (
            m.op == "="
            and values
            and m.name not in metric.high_cardinality
            and m.value not in values
        ):
            out.append(
                _error(
                    f"value {m.value!r} was never observed for label {m.name!r} of {name!r}",
                    text,
                    m,
                    hint=_did_you_mean(m.value, values) or _known(values),
                    kind="catalog",
                )
            )
    if metric.is_counter_like and not any(
        isinstance(p, (ast.MatrixSelector, ast.Subquery)) for p in parents
    ):
        raw_ok = any(
            (isinstance(p, ast.Call) and p.func in _RAW_COUNTER_OK_CALLS | COUNTER_FUNCTIONS)
            or (isinstance(p, ast.Aggregation) and p.op in _RAW_COUNTER_OK_AGGS)
            for p in parents
        )
        if not raw_ok:
            out.append(
                _error(
                    f"{name} is a {metric.type} ({'a counter' if metric.type == 'counter' else 'counter-like'}): "
                    "its raw value only grows; use rate() or increase()",
                    text,
                    vs,
                    hint=f"rate({format_expr(vs)}[5m]) for a per-second rate, increase(...[1h]) for a count",
                    kind="catalog",
                )
            )
    return out


def _known(names) -> str | None:
    names = sorted(names)
    if not names:
        return None
    return "known: " + ", ".join(names[:8]) + (" ..." if len(names) > 8 else "")


__all__ = ["check", "check_catalog", "regex_error", "walk"]
