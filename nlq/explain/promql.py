"""Explain a PromQL AST (nlq.dialects.promql.ast) in one sentence.

    sum by (code) (rate(http_requests_total{service="checkout",code=~"5.."}[5m]))
    -> Per-second rate of HTTP requests for checkout with a 5xx status code,
       over 5-minute windows, summed by status code.

The subject comes from the catalog's help text when it is short and plain,
else from the metric name (`node_cpu_seconds_total` -> "node CPU seconds").
"""

from __future__ import annotations

import re
from typing import Any

from nlq.catalog import Catalog
from nlq.explain import Facts
from nlq.explain.words import AGGREGATIONS, join, label, matcher_phrase, seconds_to_duration

ACRONYMS = {"http": "HTTP", "cpu": "CPU", "api": "API", "grpc": "gRPC", "io": "I/O", "fds": "file descriptors",
            "db": "DB", "gc": "GC", "jvm": "JVM", "tcp": "TCP", "udp": "UDP", "dns": "DNS", "ssl": "SSL",
            "tls": "TLS", "os": "OS", "fs": "filesystem", "mem": "memory", "kube": "Kubernetes"}
SUBJECT_LABELS = ("service", "job", "app", "application", "container", "deployment")
RANGE_FUNCTIONS = {
    "rate": "per-second rate of {x}",
    "irate": "instant per-second rate of {x}",
    "increase": "increase in {x}",
    "delta": "change in {x}",
    "idelta": "last change in {x}",
    "deriv": "per-second derivative of {x}",
    "changes": "number of changes of {x}",
    "resets": "number of counter resets of {x}",
    "avg_over_time": "average of {x}",
    "sum_over_time": "sum of {x}",
    "min_over_time": "minimum of {x}",
    "max_over_time": "maximum of {x}",
    "count_over_time": "number of samples of {x}",
    "last_over_time": "latest {x}",
    "stddev_over_time": "standard deviation of {x}",
    "stdvar_over_time": "variance of {x}",
    "present_over_time": "whether {x} had samples",
    "absent_over_time": "whether {x} had no samples",
    "quantile_over_time": "{q} quantile of {x}",
    "predict_linear": "linear prediction of {x}",
}
COMPARISONS = {"==": "equals", "!=": "differs from", ">": "is above", ">=": "is at least",
               "<": "is below", "<=": "is at most"}
ARITHMETIC = {"+": "plus", "-": "minus", "*": "times", "/": "divided by", "%": "modulo", "^": "to the power of"}


def ms(value: int) -> str:
    return seconds_to_duration(value / 1000)


def window_words(value_ms: int) -> str:
    d = ms(value_ms)
    match = re.fullmatch(r"(\d+)([smhd])", d)
    if not match:
        return f"{d} windows"
    unit = {"s": "second", "m": "minute", "h": "hour", "d": "day"}[match[2]]
    return f"{match[1]}-{unit} windows"


def subject(name: str | None, catalog: Catalog | None) -> str:
    """A noun phrase for a metric."""
    if not name:
        return "the selected series"
    metric = catalog.metric(name) if catalog else None
    if metric and metric.help:
        text = re.sub(r"^(the |total (number of )?|number of |cumulative |count of )", "", metric.help.strip(),
                      flags=re.IGNORECASE)
        text = re.split(r"[,;(]| by | per ", text.rstrip("."))[0].strip()
        if 2 <= len(text.split()) <= 7:
            return text[0].lower() + text[1:] if not text[:2].isupper() else text
    base = re.sub(r"_(total|count|sum|bucket|info)$", "", name)
    words = [ACRONYMS.get(w.lower(), w) for w in base.split("_") if w]
    return " ".join(words)


def _selector_phrase(selector: Any, catalog: Catalog | None) -> str:
    text = subject(selector.name, catalog)
    matchers = [m for m in selector.matchers if m.name != "__name__"]
    lead = [m for m in matchers if m.name in SUBJECT_LABELS and m.op == "=" ]
    rest = [m for m in matchers if m not in lead]
    if lead:
        text += " for " + join([m.value for m in lead])
    if rest:
        phrases = []
        for m in rest:
            phrase = matcher_phrase(m.name, m.op, m.value)
            phrases.append(phrase if phrase.startswith(("a ", "not ", "any ", "no ")) else phrase)
        text += " with " + join(phrases)
    if selector.offset_ms:
        text += f", as of {ms(abs(selector.offset_ms))} {'ago' if selector.offset_ms > 0 else 'ahead'}"
    return text


def _number(node: Any) -> str:
    value = getattr(node, "value", None)
    if isinstance(value, float | int):
        return f"{value:g}"
    return "a parameter"


def _percentile(q: Any) -> str:
    value = getattr(q, "value", None)
    if isinstance(value, float | int):
        pct = value * 100
        if 0 < pct < 100 and pct == int(pct):
            n = int(pct)
            suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
            return f"{n}{suffix} percentile"
        return f"{value:g} quantile"
    return "quantile"


class _Explainer:
    def __init__(self, catalog: Catalog | None):
        self.catalog = catalog
        self.facts = Facts()

    def describe(self, node: Any) -> str:
        method = getattr(self, "_" + type(node).__name__, None)
        if method is None:
            return type(node).__name__
        return method(node)

    def _NumberLiteral(self, node: Any) -> str:
        return f"{node.value:g}"

    def _StringLiteral(self, node: Any) -> str:
        return f'"{node.value}"'

    def _VectorSelector(self, node: Any) -> str:
        return _selector_phrase(node, self.catalog)

    def _MatrixSelector(self, node: Any) -> str:
        self.facts.windows.append(ms(node.range_ms))
        return f"{_selector_phrase(node.vector, self.catalog)} over the last {ms(node.range_ms)}"

    def _Paren(self, node: Any) -> str:
        return self.describe(node.expr)

    def _Unary(self, node: Any) -> str:
        inner = self.describe(node.expr)
        return f"minus {inner}" if node.op == "-" else inner

    def _Subquery(self, node: Any) -> str:
        self.facts.windows.append(ms(node.range_ms))
        step = f" every {ms(node.step_ms)}" if node.step_ms else ""
        return f"{self.describe(node.expr)}, evaluated over the last {ms(node.range_ms)}{step}"

    def _Call(self, node: Any) -> str:
        func, args = node.func, node.args
        if func in RANGE_FUNCTIONS and args:
            matrix = args[-1] if func == "quantile_over_time" else args[0]
            if type(matrix).__name__ == "MatrixSelector":
                self.facts.windows.append(ms(matrix.range_ms))
                x = _selector_phrase(matrix.vector, self.catalog)
                q = _percentile(args[0]) if func == "quantile_over_time" else ""
                text = RANGE_FUNCTIONS[func].format(x=x, q=q)
                return f"{text}, over {window_words(matrix.range_ms)}"
            q = _percentile(args[0]) if func == "quantile_over_time" else ""
            return RANGE_FUNCTIONS[func].format(x=self.describe(matrix), q=q)
        if func == "histogram_quantile" and len(args) == 2:
            inner = self.describe(args[1])
            inner = re.sub(r"^per-second rate of ", "", inner)
            return f"{_percentile(args[0])} of {inner}"
        if func in ("abs", "ceil", "floor", "round", "sqrt", "exp", "ln", "log2", "log10"):
            return f"{func} of {self.describe(args[0])}" if args else func
        if func in ("absent", "absent_over_time"):
            return f"whether {self.describe(args[0])} is missing" if args else func
        if func == "time":
            return "the current time"
        if func in ("sort", "sort_desc"):
            return f"{self.describe(args[0])}, sorted{' descending' if func == 'sort_desc' else ''}"
        if func in ("label_replace", "label_join") and args:
            return self.describe(args[0])
        if func in ("clamp_min", "clamp_max", "clamp") and args:
            return f"{self.describe(args[0])}, clamped"
        if func == "vector" and args:
            return self.describe(args[0])
        inner = ", ".join(self.describe(a) for a in args)
        return f"{func}({inner})"

    def _Aggregation(self, node: Any) -> str:
        inner = self.describe(node.expr)
        grouping = [name for name in node.grouping if name != "le"]
        if node.op == "sum" and not node.without and "le" in node.grouping and not grouping:
            return inner  # the buckets of a histogram summed for histogram_quantile: no news
        self.facts.aggregations.append(node.op)
        labels = [label(name) for name in grouping]
        if node.op in ("topk", "bottomk", "limitk") and node.param is not None:
            which = {"topk": "top", "bottomk": "bottom", "limitk": "first"}[node.op]
            text = f"the {which} {_number(node.param)} series of {inner}"
        elif node.op == "quantile" and node.param is not None:
            text = f"{_percentile(node.param)} across series of {inner}"
        elif node.op == "count_values":
            text = f"{inner}, counted by value"
        else:
            text = f"{inner}, {AGGREGATIONS.get(node.op, node.op)}"
        if node.without:
            return text + (f" over all labels but {join(labels)}" if labels else "")
        if labels:
            self.facts.grouping.extend(grouping)
            return text + f" by {join(labels)}"
        if node.op in ("sum", "avg", "min", "max", "count", "stddev", "stdvar", "group"):
            return text + " across all series"
        return text

    def _Binary(self, node: Any) -> str:
        lhs, rhs = self.describe(node.lhs), self.describe(node.rhs)
        if node.op in COMPARISONS:
            scalar_rhs = type(node.rhs).__name__ == "NumberLiteral"
            if node.return_bool:
                return f"1 where {lhs} {COMPARISONS[node.op]} {rhs}, else 0"
            if scalar_rhs:
                return f"{lhs}, where it {COMPARISONS[node.op]} {rhs}"
            return f"{lhs}, where it {COMPARISONS[node.op]} {rhs}"
        if node.op in ARITHMETIC:
            if node.op == "/" and type(node.rhs).__name__ != "NumberLiteral":
                return f"{lhs}, as a share of {rhs}"
            return f"{lhs} {ARITHMETIC[node.op]} {rhs}"
        if node.op == "and":
            return f"{lhs}, only where {rhs} exists"
        if node.op == "or":
            return f"{lhs}, or else {rhs}"
        if node.op == "unless":
            return f"{lhs}, except where {rhs} exists"
        return f"{lhs} {node.op} {rhs}"


def describe(ast: Any, catalog: Catalog | None = None) -> tuple[str, Facts]:
    explainer = _Explainer(catalog)
    return explainer.describe(ast), explainer.facts
