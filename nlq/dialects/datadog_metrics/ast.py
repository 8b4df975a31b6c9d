"""The typed tree of a Datadog metric query, formula or monitor query."""

from __future__ import annotations

from dataclasses import dataclass, field

Span = tuple[int, int] | None


# ---- scope filters ({env:prod,!host:a,service IN (a,b)}) -------------------
@dataclass(frozen=True)
class AllScope:
    """`*`: every series."""

    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TagFilter:
    """`key:value` (value may hold `*` wildcards or be a `$template.value`), or a
    bare tag `key` (value None)."""

    key: str
    value: str | None = None
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TagIn:
    """`key IN (a, b)`, or with `negated`, `key NOT IN (a, b)`."""

    key: str
    values: tuple[str, ...]
    negated: bool = False
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class TemplateVar:
    """A dashboard template variable left in the query: `$host`, `$env.value`."""

    name: str
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FilterNot:
    operand: object
    symbol: str = "!"  # "!" or "NOT"
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FilterAnd:
    """Operands joined by `,` or `AND`; `symbols[i]` joins operands i and i+1."""

    operands: tuple
    symbols: tuple[str, ...]
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class FilterOr:
    operands: tuple
    span: Span = field(default=None, compare=False, repr=False)


# ---- modifiers (.rollup(), .fill(), .as_count(), ...) ------------------------
@dataclass(frozen=True)
class Rollup:
    """`.rollup(method, interval)`; either may be absent (`.rollup(sum)`, `.rollup(60)`)."""

    method: str | None = None
    interval: float | str | None = None
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Fill:
    """`.fill(mode[, limit])`: mode null, zero, linear or last; limit in seconds."""

    mode: str | None = None
    limit: float | None = None
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Modifier:
    """Any other `.name(args)`: as_count, as_rate, weighted, timeshift, label."""

    name: str
    args: tuple = ()
    span: Span = field(default=None, compare=False, repr=False)


# ---- expressions ------------------------------------------------------------
@dataclass(frozen=True)
class Number:
    value: float
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class String:
    """A quoted argument: `'mean'`, `"CPU"`; `value` is unquoted."""

    value: str
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Word:
    """A bare word argument: `avg` in `.rollup(avg, 60)`, `zero` in `.fill(zero)`."""

    name: str
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Keyword:
    """`direction='above'` in anomalies() and forecast()."""

    name: str
    value: object
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MetricQuery:
    aggregator: str | None
    metric: str
    scope: object
    group_by: tuple[str, ...] = ()
    modifiers: tuple = ()
    span: Span = field(default=None, compare=False, repr=False)

    def modifier(self, kind: type):
        """The last modifier of `kind` (Rollup, Fill), or None."""
        found = [m for m in self.modifiers if isinstance(m, kind)]
        return found[-1] if found else None

    def has(self, name: str) -> bool:
        return any(isinstance(m, Modifier) and m.name == name for m in self.modifiers)


@dataclass(frozen=True)
class QueryRef:
    """A formula's reference to a named query (`query1`)."""

    name: str
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Function:
    name: str
    args: tuple
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Binary:
    op: str  # + - * /
    left: object
    right: object
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Negate:
    operand: object
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class QueryList:
    """Several queries of one dashboard request, separated by commas."""

    queries: tuple
    span: Span = field(default=None, compare=False, repr=False)


# ---- monitors ---------------------------------------------------------------
@dataclass(frozen=True)
class TimeAggregation:
    """`avg(last_5m)`, `pct_change(avg(last_5m),last_5m)`."""

    name: str
    args: tuple  # window strings or nested TimeAggregation
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class MetricMonitor:
    """`avg(last_5m):<expr> > 90`."""

    time_aggregation: TimeAggregation
    query: object
    comparator: str
    threshold: float
    span: Span = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SourceMonitor:
    """`logs("status:error").index("*").rollup("count").last("5m") > 10`."""

    source: str
    query: str
    calls: tuple  # Modifier(name, (String, ...))
    comparator: str
    threshold: float
    span: Span = field(default=None, compare=False, repr=False)


Expr = MetricQuery | QueryRef | Function | Binary | Negate | Number
