"""What a LogQL grammar cannot say: Loki's type and validity rules, and the catalog.

Each check returns `QueryError`s pointing at the offending node.  The rules
follow Loki's own parser (pkg/logql/syntax): which range aggregations need or
refuse `| unwrap`, where `by`/`without` is allowed, the parameters of topk and
quantile_over_time, literals in set operations, selectors that match
everything, and the regexes, IP patterns, JSON paths and templates a query
carries.
"""

from __future__ import annotations

import difflib
import ipaddress
import re
from collections.abc import Iterator

from nlq.catalog import Catalog
from nlq.dialects.logql import ast
from nlq.errors import QueryError

# Range aggregations by what they do with `| unwrap` (Loki's RangeAggregationExpr.validate).
NEEDS_UNWRAP = {
    "avg_over_time",
    "sum_over_time",
    "min_over_time",
    "max_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "first_over_time",
    "last_over_time",
    "rate_counter",
}
REFUSES_UNWRAP = {"count_over_time", "bytes_over_time", "bytes_rate"}
GROUPING_ALLOWED = {
    "avg_over_time",
    "stddev_over_time",
    "stdvar_over_time",
    "quantile_over_time",
    "min_over_time",
    "max_over_time",
    "first_over_time",
    "last_over_time",
}
PARAM_AGGREGATIONS = {"topk", "bottomk", "approx_topk"}
PARAM_RANGE_AGGREGATIONS = {"quantile_over_time"}

# Labels Loki itself adds in a pipeline.
BUILTIN_LABELS = {"__error__", "__error_details__", "__line__", "__timestamp__", "__stream_shard__"}

TEMPLATE_FUNCTIONS = {
    # Go text/template builtins and keywords
    "and", "or", "not", "len", "index", "print", "printf", "println", "eq", "ne", "lt", "le",
    "gt", "ge", "slice", "html", "js", "urlquery", "call",
    "if", "else", "end", "range", "with", "define", "template", "block", "break", "continue",
    "nil", "true", "false",
    # Loki's own (pkg/logql/log/fmt.go)
    "ToLower", "ToUpper", "Replace", "Trim", "TrimLeft", "TrimRight", "TrimPrefix",
    "TrimSuffix", "TrimSpace", "regexReplaceAll", "regexReplaceAllLiteral", "count",
    "urldecode", "urlencode", "bytes", "duration", "duration_seconds", "unixEpochMillis",
    "unixEpochNanos", "toDateInZone", "unixToTime", "alignLeft", "alignRight", "b64dec",
    "__line__", "__timestamp__",
    # the sprig functions Loki exposes
    "b64enc", "lower", "upper", "title", "trunc", "substr", "contains", "hasPrefix",
    "hasSuffix", "indent", "nindent", "replace", "repeat", "trim", "trimAll", "trimSuffix",
    "trimPrefix", "int", "float64", "add", "sub", "mul", "div", "mod", "addf", "subf", "mulf",
    "divf", "max", "min", "maxf", "minf", "ceil", "floor", "round", "fromJson", "date",
    "toDate", "now", "unixEpoch", "default",
}  # fmt: skip

_JSON_PATH = re.compile(r'^[^.\[\]"]+(\.[^.\[\]"]+|\[\d+\]|\["(\\.|[^"\\])*"\])*$')
_PATTERN_CAPTURE = re.compile(r"<([^<>\s]*)>")
_TEMPLATE_ACTION = re.compile(r"\{\{-?(.*?)-?\}\}", re.S)
_TEMPLATE_WORD = re.compile(r'"(\\.|[^"\\])*"|`[^`]*`|[.$][\w.$]*|[A-Za-z_]\w*')


def _error(
    message: str, text: str, node, hint: str | None = None, kind: str = "semantic"
) -> QueryError:
    span = getattr(node, "span", None)
    start, end = span if span else (None, None)
    return QueryError(message, query=text, position=start, end=end, hint=hint, kind=kind)


def go_regex(pattern: str) -> re.Pattern:
    """Compile a Go (RE2) regex with Python's engine, close enough to judge validity."""
    translated = pattern.replace(r"\z", r"\Z")
    return re.compile(translated)


def regex_error(pattern: str) -> str | None:
    try:
        go_regex(pattern)
    except re.error as exc:
        return str(exc)
    except (OverflowError, RecursionError):
        return "regex too complex"
    return None


def valid_ip_pattern(pattern: str) -> bool:
    """Loki's ip(): one address, a CIDR range, or `first-last`."""
    try:
        if "/" in pattern:
            ipaddress.ip_network(pattern, strict=False)
        elif "-" in pattern:
            first, last = pattern.split("-", 1)
            a, b = ipaddress.ip_address(first.strip()), ipaddress.ip_address(last.strip())
            return a.version == b.version
        else:
            ipaddress.ip_address(pattern)
    except ValueError:
        return False
    return True


def template_error(template: str) -> str | None:
    """A Go text/template problem Loki reports when it builds the stage, else None."""
    depth_text = template
    opened = depth_text.count("{{")
    closed = len(_TEMPLATE_ACTION.findall(depth_text))
    if opened != closed:
        return "unclosed action"
    for match in _TEMPLATE_ACTION.finditer(template):
        for word in _TEMPLATE_WORD.finditer(match.group(1)):
            token = word.group(0)
            if token[0] in '"`.$':
                continue
            if token not in TEMPLATE_FUNCTIONS:
                return f'function "{token}" not defined'
    return None


def pattern_captures(pattern: str) -> list[str]:
    return [name for name in _PATTERN_CAPTURE.findall(pattern)]


def matches_empty(matcher: ast.Matcher) -> bool:
    """True when the matcher also selects streams without the label (Loki refuses those alone)."""
    if matcher.op == "=":
        return matcher.value == ""
    if matcher.op == "=~":
        try:
            return go_regex(f"^(?:{matcher.value})$").match("") is not None
        except re.error:
            return False
    return True  # != and !~ match streams lacking the label


def is_scalar(node) -> bool:
    if isinstance(node, ast.NumberLiteral):
        return True
    if isinstance(node, ast.BinaryOp):
        return is_scalar(node.left) and is_scalar(node.right)
    return False


# ------------------------------------------------------------------- walking
def walk(node) -> Iterator:
    """Every node below (and including) `node`, depth first."""
    yield node
    for name in getattr(node, "__dataclass_fields__", {}):
        if name == "span":
            continue
        value = getattr(node, name)
        if isinstance(value, tuple):
            for item in value:
                if hasattr(item, "__dataclass_fields__"):
                    yield from walk(item)
        elif hasattr(value, "__dataclass_fields__"):
            yield from walk(value)


def check(node: ast.Expr, text: str, catalog: Catalog | None = None) -> list[QueryError]:
    problems: list[QueryError] = []
    for item in walk(node):
        problems.extend(_check_node(item, text))
    if catalog is not None:
        problems.extend(check_catalog(node, text, catalog))
    return problems


def _check_node(node, text: str) -> list[QueryError]:
    out: list[QueryError] = []
    if isinstance(node, ast.Selector):
        for m in node.matchers:
            if m.op in ("=~", "!~") and (err := regex_error(m.value)):
                out.append(_error(f"invalid regex in matcher: {err}", text, m))
        if not any(not matches_empty(m) for m in node.matchers):
            out.append(
                _error(
                    "the stream selector must have at least one matcher that does not match the empty string",
                    text,
                    node,
                    hint='add an equality matcher such as {app="api"}; =~".*", != and !~ alone select everything',
                )
            )
    elif isinstance(node, ast.BinaryOp):
        for side, leg in ((node.left, "left"), (node.right, "right")):
            if isinstance(side, ast.LogQuery):
                out.append(
                    _error(
                        f"a log query cannot be the {leg} side of `{node.op}`: it returns log lines, not numbers",
                        text,
                        side,
                        hint="turn it into a metric first, e.g. count_over_time({...}[5m])",
                        kind="type",
                    )
                )
        if node.op in ast.SET_OPS:
            for side, leg in ((node.left, "left"), (node.right, "right")):
                if is_scalar(side):
                    out.append(
                        _error(
                            f"`{node.op}` works on vectors: a number cannot be its {leg} side",
                            text,
                            side,
                            hint="use vector(n) for a constant series",
                            kind="type",
                        )
                    )
        if node.return_bool and node.op not in ast.COMPARISON_OPS:
            out.append(_error("`bool` only applies to comparison operators", text, node))
        if (
            node.matching is not None
            and node.matching.card != "one-to-one"
            and node.op in ast.SET_OPS
        ):
            out.append(
                _error(f"{node.matching.card} is not allowed with `{node.op}`", text, node.matching)
            )
    elif isinstance(node, ast.VectorAggregation):
        if isinstance(node.expr, ast.LogQuery):
            out.append(
                _error(
                    f"{node.op}() needs a metric query, not a log query",
                    text,
                    node.expr,
                    hint=f"count the lines first: {node.op}(count_over_time({{...}}[5m]))",
                    kind="type",
                )
            )
        if node.op in PARAM_AGGREGATIONS:
            if node.param is None:
                out.append(
                    _error(
                        f"parameter required for {node.op}", text, node, hint=f"{node.op}(5, ...)"
                    )
                )
            elif node.param != int(node.param) or node.param <= 0:
                out.append(_error(f"{node.op} needs a whole number greater than 0", text, node))
            if node.op == "approx_topk" and node.grouping is not None:
                out.append(_error("grouping not allowed for approx_topk", text, node.grouping))
        elif node.param is not None:
            out.append(_error(f"{node.op} takes no parameter", text, node))
    elif isinstance(node, ast.RangeAggregation):
        op = node.op
        if node.range.unwrap is None and op in NEEDS_UNWRAP:
            out.append(
                _error(
                    f"{op} needs `| unwrap <label>`: it aggregates a number taken from each line",
                    text,
                    node,
                    hint=f"e.g. {op}({{...}} | logfmt | unwrap duration_ms [5m]); count lines with count_over_time",
                )
            )
        if node.range.unwrap is not None and op in REFUSES_UNWRAP:
            out.append(
                _error(
                    f"{op} counts lines or bytes and cannot take `| unwrap`",
                    text,
                    node.range.unwrap,
                    hint="use sum_over_time/avg_over_time with unwrap to aggregate a value",
                )
            )
        if node.grouping is not None and op not in GROUPING_ALLOWED:
            out.append(
                _error(
                    f"grouping not allowed for {op}",
                    text,
                    node.grouping,
                    hint=f"aggregate outside instead: sum by (...) ({op}(...))",
                )
            )
        if op in PARAM_RANGE_AGGREGATIONS:
            if node.param is None:
                out.append(
                    _error(
                        "quantile_over_time needs the quantile first: quantile_over_time(0.99, ...)",
                        text,
                        node,
                    )
                )
        elif node.param is not None:
            out.append(_error(f"{op} takes no parameter", text, node))
    elif isinstance(node, ast.LabelReplace):
        if isinstance(node.expr, ast.LogQuery):
            out.append(
                _error(
                    "label_replace needs a metric query, not a log query",
                    text,
                    node.expr,
                    kind="type",
                )
            )
        if err := regex_error(node.regex):
            out.append(_error(f"invalid regex in label_replace: {err}", text, node))
    elif isinstance(node, ast.LineFilter):
        for value in node.values:
            if value.ip:
                if node.op not in ("|=", "!="):
                    out.append(_error("ip() filters only work with |= and !=", text, value))
                elif not valid_ip_pattern(value.value):
                    out.append(_error(f"invalid ip pattern {value.value!r}", text, value))
            elif node.op in ("|~", "!~") and (err := regex_error(value.value)):
                out.append(_error(f"invalid regex in line filter: {err}", text, value))
            elif node.op in ("|>", "!>"):
                names = [n for n in pattern_captures(value.value) if n != "_"]
                if names:
                    out.append(
                        _error(
                            "named captures are not allowed in a pattern line filter",
                            text,
                            value,
                            hint="use <_> as the wildcard",
                        )
                    )
    elif isinstance(node, ast.RegexpParser):
        err = regex_error(node.regex)
        if err:
            out.append(_error(f"invalid regex in regexp parser: {err}", text, node))
        else:
            names = list(go_regex(node.regex).groupindex)
            if not names:
                out.append(
                    _error("at least one named capture must be supplied: (?P<name>...)", text, node)
                )
    elif isinstance(node, ast.PatternParser):
        names = [n for n in pattern_captures(node.pattern) if n != "_"]
        if not names:
            out.append(_error("at least one capture is required in a pattern: <name>", text, node))
        elif len(set(names)) != len(names):
            out.append(_error("duplicate capture name in pattern", text, node))
    elif isinstance(node, ast.Extraction):
        if node.path is not None and not _JSON_PATH.match(node.path):
            out.append(_error(f"cannot parse expression {node.path!r} as a JSON path", text, node))
    elif isinstance(node, ast.IpFilter):
        if not valid_ip_pattern(node.pattern):
            out.append(_error(f"invalid ip pattern {node.pattern!r}", text, node))
    elif isinstance(node, ast.StringFilter):
        if node.op in ("=~", "!~") and (err := regex_error(node.value)):
            out.append(_error(f"invalid regex in label filter: {err}", text, node))
    elif isinstance(node, ast.LineFormat):
        if err := template_error(node.template):
            out.append(_error(f"line_format template: {err}", text, node))
    elif isinstance(node, ast.LabelFormatItem):
        if not node.rename and (err := template_error(node.value)):
            out.append(_error(f"label_format template: {err}", text, node))
    elif isinstance(node, ast.NamedMatcher):
        if node.op in ("=~", "!~") and (err := regex_error(node.value or "")):
            out.append(_error(f"invalid regex: {err}", text, node))
    return out


# ------------------------------------------------------------------- catalog
def _suggest(name: str, known) -> str | None:
    close = difflib.get_close_matches(name, sorted(known), n=3)
    if close:
        return "did you mean " + " or ".join(close) + "?"
    if known:
        shown = sorted(known)[:8]
        return "known: " + ", ".join(shown) + (" ..." if len(known) > 8 else "")
    return None


def check_catalog(node: ast.Expr, text: str, catalog: Catalog) -> list[QueryError]:
    """Unknown stream labels and values; unknown fields read after a parser."""
    out: list[QueryError] = []
    labels = catalog.log_labels
    fields = catalog.log_fields
    for item in walk(node):
        if isinstance(item, ast.Selector) and labels:
            for m in item.matchers:
                if m.name not in labels:
                    out.append(
                        _error(
                            f"unknown stream label {m.name!r}",
                            text,
                            m,
                            _suggest(m.name, labels),
                            "catalog",
                        )
                    )
                elif m.op == "=" and labels[m.name] and m.value and m.value not in labels[m.name]:
                    out.append(
                        _error(
                            f"no stream has {m.name}={m.value!r}",
                            text,
                            m,
                            _suggest(m.value, labels[m.name]),
                            "catalog",
                        )
                    )
        elif isinstance(item, (ast.LogQuery, ast.LogRange)) and fields:
            out.extend(_check_fields(item, text, catalog))
    return out


def _check_fields(query, text: str, catalog: Catalog) -> list[QueryError]:
    out: list[QueryError] = []
    known = set(catalog.log_labels) | set(catalog.log_fields) | BUILTIN_LABELS
    parsed = False
    created: set[str] = set()

    def need(name: str, node) -> None:
        if parsed and name not in known and name not in created and not name.endswith("_extracted"):
            out.append(
                _error(
                    f"unknown field {name!r}: no parser in this query extracts it",
                    text,
                    node,
                    _suggest(name, set(catalog.log_fields)),
                    "catalog",
                )
            )

    stages = list(query.stages)
    for stage in stages:
        if isinstance(stage, ast.PARSER_STAGES):
            parsed = True
            for e in getattr(stage, "extractions", ()):
                if e.path is None:
                    need(e.name, e)
                created.add(e.name)
            if isinstance(stage, ast.RegexpParser) and not regex_error(stage.regex):
                created.update(go_regex(stage.regex).groupindex)
            if isinstance(stage, ast.PatternParser):
                created.update(pattern_captures(stage.pattern))
        elif isinstance(stage, ast.LabelFilterStage):
            for f in walk(stage.filter):
                if hasattr(f, "name"):
                    need(f.name, f)
        elif isinstance(stage, ast.LabelFormat):
            for i in stage.items:
                if i.rename:
                    need(i.value, i)
                created.add(i.name)
    unwrap = getattr(query, "unwrap", None)
    if unwrap is not None:
        need(unwrap.name, unwrap)
    return out
