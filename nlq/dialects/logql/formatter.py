"""LogQL AST -> canonical text.

One spelling per meaning: single spaces around operators and pipes, grouping
before the arguments (`sum by (app) (...)`), the range after the pipeline
(`{app="a"} |= "x" [5m]`), label filters joined with `and`/`or`, and only the
parentheses precedence needs.  `parse(format(parse(q))) == parse(q)`.
"""

from __future__ import annotations

from nlq.dialects.go_literals import format_number
from nlq.dialects.go_literals import quote as quote_double
from nlq.dialects.logql import ast


def quote(value: str) -> str:
    """A Go string literal for `value`: raw backticks when that reads better."""
    if ("\\" in value or '"' in value) and "`" not in value and "\n" not in value:
        return f"`{value}`"
    return quote_double(value)


def format_expr(node) -> str:
    return _Formatter().expr(node)


class _Formatter:
    def expr(self, node) -> str:
        method = getattr(self, "_" + type(node).__name__)
        return method(node)

    # -- metric expressions
    def _NumberLiteral(self, node: ast.NumberLiteral) -> str:
        return format_number(node.value)

    def _VectorExpr(self, node: ast.VectorExpr) -> str:
        return f"vector({format_number(node.value)})"

    def _LabelReplace(self, node: ast.LabelReplace) -> str:
        args = ", ".join(quote(s) for s in (node.dst, node.replacement, node.src, node.regex))
        return f"label_replace({self.expr(node.expr)}, {args})"

    def _grouping(self, grouping: ast.Grouping | None) -> str:
        if grouping is None:
            return ""
        word = "without" if grouping.without else "by"
        return f"{word} ({', '.join(grouping.labels)})"

    def _VectorAggregation(self, node: ast.VectorAggregation) -> str:
        param = "" if node.param is None else format_number(node.param) + ", "
        grouping = self._grouping(node.grouping)
        head = f"{node.op} {grouping} " if grouping else node.op
        return f"{head}({param}{self.expr(node.expr)})"

    def _RangeAggregation(self, node: ast.RangeAggregation) -> str:
        param = "" if node.param is None else format_number(node.param) + ", "
        text = f"{node.op}({param}{self.log_range(node.range)})"
        if node.grouping is not None:
            text += " " + self._grouping(node.grouping)
        return text

    def _BinaryOp(self, node: ast.BinaryOp) -> str:
        prec = ast.PRECEDENCE[node.op]
        right_assoc = node.op == "^"
        left = self.operand(node.left, prec, parens_on_equal=right_assoc)
        right = self.operand(node.right, prec, parens_on_equal=not right_assoc)
        mod = ""
        if node.return_bool:
            mod += " bool"
        m = node.matching
        if m is not None:
            mod += f" {'on' if m.on else 'ignoring'} ({', '.join(m.labels)})"
            if m.card != "one-to-one":
                mod += f" {m.card}"
                if m.include or right.startswith("("):
                    mod += f" ({', '.join(m.include)})"
        return f"{left} {node.op}{mod} {right}"

    def operand(self, node, prec: int, parens_on_equal: bool) -> str:
        text = self.expr(node)
        if isinstance(node, ast.LogQuery):
            # a type error, but keep it readable: `| x == 1` would read as a label filter
            return f"({text})"
        if isinstance(node, ast.BinaryOp):
            inner = ast.PRECEDENCE[node.op]
            if inner < prec or (inner == prec and parens_on_equal):
                return f"({text})"
        elif isinstance(node, ast.NumberLiteral) and node.value < 0 and prec == 6:
            # `-2 ^ 2` reads as (-2) ^ 2 in LogQL, the same as written
            return text
        return text

    # -- log queries
    def _LogQuery(self, node: ast.LogQuery) -> str:
        return self.selector(node.selector) + self.stages(node.stages)

    def selector(self, node: ast.Selector) -> str:
        return "{" + ", ".join(f"{m.name}{m.op}{quote(m.value)}" for m in node.matchers) + "}"

    def stages(self, stages) -> str:
        return "".join(" " + self.stage(s) for s in stages)

    def log_range(self, node: ast.LogRange) -> str:
        text = self.selector(node.selector) + self.stages(node.stages)
        if node.unwrap is not None:
            text += " " + self.unwrap(node.unwrap)
        text += f" [{node.range}]" if (node.stages or node.unwrap) else f"[{node.range}]"
        if node.offset is not None:
            text += f" offset {node.offset}"
        return text

    def unwrap(self, node: ast.Unwrap) -> str:
        text = (
            f"| unwrap {node.conversion}({node.name})"
            if node.conversion
            else f"| unwrap {node.name}"
        )
        for f in node.post_filters:
            text += " | " + self.label_filter(f)
        return text

    def stage(self, node) -> str:
        if isinstance(node, ast.LineFilter):
            values = " or ".join(
                f"ip({quote(v.value)})" if v.ip else quote(v.value) for v in node.values
            )
            return f"{node.op} {values}"
        if isinstance(node, ast.JsonParser):
            return "| json" + self.extractions(node.extractions)
        if isinstance(node, ast.LogfmtParser):
            flags = "".join(" " + f for f in node.flags)
            return "| logfmt" + flags + self.extractions(node.extractions)
        if isinstance(node, ast.RegexpParser):
            return f"| regexp {quote(node.regex)}"
        if isinstance(node, ast.PatternParser):
            return f"| pattern {quote(node.pattern)}"
        if isinstance(node, ast.UnpackParser):
            return "| unpack"
        if isinstance(node, ast.LabelFilterStage):
            return "| " + self.label_filter(node.filter)
        if isinstance(node, ast.LineFormat):
            return f"| line_format {quote(node.template)}"
        if isinstance(node, ast.LabelFormat):
            items = ", ".join(
                f"{i.name}={i.value}" if i.rename else f"{i.name}={quote(i.value)}"
                for i in node.items
            )
            return f"| label_format {items}"
        if isinstance(node, ast.Decolorize):
            return "| decolorize"
        if isinstance(node, (ast.Drop, ast.Keep)):
            word = "drop" if isinstance(node, ast.Drop) else "keep"
            items = ", ".join(
                i.name if i.op is None else f"{i.name}{i.op}{quote(i.value or '')}"
                for i in node.items
            )
            return f"| {word} {items}"
        raise TypeError(f"not a pipeline stage: {node!r}")

    def extractions(self, items) -> str:
        if not items:
            return ""
        return " " + ", ".join(
            e.name if e.path is None else f"{e.name}={quote(e.path)}" for e in items
        )

    def label_filter(self, node) -> str:
        if isinstance(node, ast.OrFilter):
            left = self.label_filter(node.left)
            right = self.label_filter(node.right)
            if isinstance(node.right, ast.OrFilter):
                right = f"({right})"
            return f"{left} or {right}"
        if isinstance(node, ast.AndFilter):
            left = self.label_filter(node.left)
            right = self.label_filter(node.right)
            if isinstance(node.left, ast.OrFilter):
                left = f"({left})"
            if isinstance(node.right, (ast.OrFilter, ast.AndFilter)):
                right = f"({right})"
            return f"{left} and {right}"
        if isinstance(node, ast.StringFilter):
            return f"{node.name}{node.op}{quote(node.value)}"
        if isinstance(node, ast.IpFilter):
            return f"{node.name} {node.op} ip({quote(node.pattern)})"
        if isinstance(node, ast.NumberFilter):
            return f"{node.name} {node.op} {format_number(node.value)}"
        if isinstance(node, (ast.DurationFilter, ast.BytesFilter)):
            return f"{node.name} {node.op} {node.text}"
        raise TypeError(f"not a label filter: {node!r}")
