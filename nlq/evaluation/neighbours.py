"""The neighbour check: does the scorer tell a gold from its near misses?

Each gold is mutated the way a model tends to get a query almost right
(`rate` for `increase`, `avg` for `sum`, `without` for `by`, another window,
another label value); every mutant that still parses and differs from the gold
after canonical formatting is scored against the gold.  A mutant the scorer
calls equivalent is a near miss it would let through; the share it catches
says how sharp execution-equivalence on the snapshots is.

    >>> report = neighbour_check(load_cases(dialect="promql"), Scorer())   # doctest: +SKIP
    >>> report.caught_share()                                              # doctest: +SKIP
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from nlq import dialects
from nlq.catalog import Catalog
from nlq.errors import QueryError
from nlq.evaluation.cases import Case
from nlq.evaluation.scoring import Scorer

MUTATION_KINDS = ("rate<->increase", "sum<->avg", "by<->without", "window", "label value")

_WINDOW = re.compile(r"\[(\d+)([smh])(?=[:\]])")
_ROLLUP = re.compile(r"\.rollup\((\w+), (\d+)\)")
_PROM_MATCHER = re.compile(r'\b([A-Za-z_][A-Za-z0-9_]*)\s*(=|!=)\s*"([^"]*)"')
_DD_TAG = re.compile(r"(?<![@\w.])([A-Za-z_][A-Za-z0-9_.\-]*):([A-Za-z0-9_.\-/]+)")
_DD_ATTR = re.compile(r"@([A-Za-z_][A-Za-z0-9_.]*):([A-Za-z0-9_.\-/]+)")


@dataclass
class Mutant:
    case_id: str
    kind: str
    query: str
    caught: bool | None = None
    reason: str = ""
    #: why the mutant means the same as the gold on any data ("" for a real near miss)
    equivalent: str = ""

    def to_dict(self) -> dict:
        return {
            "case": self.case_id,
            "kind": self.kind,
            "query": self.query,
            "caught": self.caught,
            "reason": self.reason,
            "equivalent": self.equivalent,
        }


@dataclass
class NeighbourReport:
    mutants: list[Mutant] = field(default_factory=list)

    def near_misses(self) -> list[Mutant]:
        """The mutants that differ from the gold in meaning (equivalent mutants set apart)."""
        return [m for m in self.mutants if not m.equivalent]

    def equivalents(self) -> list[Mutant]:
        return [m for m in self.mutants if m.equivalent]

    def by_kind(self) -> dict[str, tuple[int, int, int]]:
        """kind -> (near misses scored, caught, equivalent mutants set apart)."""
        out: dict[str, tuple[int, int, int]] = {}
        for m in self.mutants:
            n, c, e = out.get(m.kind, (0, 0, 0))
            if m.equivalent:
                out[m.kind] = (n, c, e + 1)
            else:
                out[m.kind] = (n + 1, c + bool(m.caught), e)
        return out

    def caught_share(self) -> float:
        """The share of near misses (not equivalent mutants) the scorer tells from the gold."""
        near = self.near_misses()
        return sum(bool(m.caught) for m in near) / len(near) if near else 0.0


# --------------------------------------------------------------------------- mutations
def _swap_first(text: str, pattern: str, a: str, b: str) -> str | None:
    """Replace the first match of `pattern` (which matches `a` or `b`) by the other word."""
    match = re.search(pattern, text)
    if not match:
        return None
    word = match.group(0)
    other = word.replace(a, b) if a in word else word.replace(b, a)
    return text[: match.start()] + other + text[match.end() :]


def _other_window(text: str, step_s: int = 0) -> str | None:
    match = _WINDOW.search(text)
    if match:
        number, unit = int(match.group(1)), match.group(2)
        new = number * 2 if number < 6 or unit != "h" else number // 2
        return text[: match.start()] + f"[{new}{unit}" + text[match.end() :]
    match = _ROLLUP.search(text)
    if match:
        seconds = int(match.group(2))
        if seconds * 2 <= step_s:
            # a rollup no coarser than the step is overridden by it (Datadog's rule and the
            # engine's): doubling it would change nothing, so the near miss is a coarser one
            seconds = step_s
        return (
            text[: match.start()]
            + f".rollup({match.group(1)}, {seconds * 2})"
            + text[match.end() :]
        )
    return None


def _values(catalog: Catalog, label: str) -> list[str]:
    values: set[str] = set()
    for metric in catalog.metrics.values():
        values.update(metric.labels.get(label, []))
    values.update(catalog.log_labels.get(label, []))
    if label in catalog.log_fields:
        values.update(catalog.log_fields[label].values)
    return sorted(values)


def _other_value(values: list[str], current: str) -> str | None:
    others = [v for v in values if v != current]
    if not others:
        return None
    if current in values:  # the next one round the sorted list: deterministic
        index = values.index(current)
        return (
            values[(index + 1) % len(values)]
            if values[(index + 1) % len(values)] != current
            else others[0]
        )
    return others[0]


def _other_label_value(case: Case, catalog: Catalog) -> str | None:
    text = case.gold
    if case.dialect in ("promql", "logql"):
        for match in _PROM_MATCHER.finditer(text):
            label, value = match.group(1), match.group(3)
            new = _other_value(_values(catalog, label), value)
            if new is not None:
                return text[: match.start(3)] + new + text[match.end(3) :]
        return None
    for pattern, prefix in ((_DD_TAG, ""), (_DD_ATTR, "")):
        for match in pattern.finditer(text):
            label, value = match.group(1), match.group(2)
            new = _other_value(_values(catalog, prefix + label), value)
            if new is not None and re.fullmatch(r"[A-Za-z0-9_.\-/]+", new):
                return text[: match.start(2)] + new + text[match.end(2) :]
    return None


def _rate_increase(case: Case) -> str | None:
    if case.dialect == "promql":
        return _swap_first(case.gold, r"\b(rate|increase)\(", "rate", "increase")
    if case.dialect == "logql":
        return _swap_first(case.gold, r"\b(rate|count_over_time)\(", "rate", "count_over_time")
    if case.dialect == "datadog-metrics":
        return _swap_first(case.gold, r"\.as_(count|rate)\(\)", "as_count", "as_rate")
    return None


def _sum_avg(case: Case) -> str | None:
    if case.dialect in ("promql", "logql"):
        return _swap_first(case.gold, r"\b(sum|avg)(?=\s*(\(|by\b|without\b))", "sum", "avg")
    if case.dialect == "datadog-metrics":
        return _swap_first(case.gold, r"\b(sum|avg):", "sum", "avg")
    return None


def _by_without(case: Case) -> str | None:
    if case.dialect in ("promql", "logql"):
        return _swap_first(case.gold, r"\b(by|without)(?=\s*\()", "by", "without")
    return None


def mutations(case: Case, catalog: Catalog) -> Iterator[tuple[str, str]]:
    """(kind, mutated query) for each mutation that applies to `case.gold`."""
    makers: dict[str, Callable[[], str | None]] = {
        "rate<->increase": lambda: _rate_increase(case),
        "sum<->avg": lambda: _sum_avg(case),
        "by<->without": lambda: _by_without(case),
        "window": lambda: _other_window(case.gold, case.step_ms // 1000)
        if case.dialect != "datadog-logs"
        else None,
        "label value": lambda: _other_label_value(case, catalog),
    }
    for kind, make in makers.items():
        query = make()
        if query and query != case.gold:
            yield kind, query


def neighbour_check(
    cases: Iterable[Case], scorer: Scorer, progress: Callable[[Case], None] | None = None
) -> NeighbourReport:
    """Score every near-miss mutant of every case's gold; see the module docstring."""
    report = NeighbourReport()
    for case in cases:
        gold_canonical = scorer.canonical(case.dialect, case.gold)
        for kind, query in mutations(case, scorer.catalog_for(case)):
            canonical = scorer.canonical(case.dialect, query)
            if canonical is None or canonical == gold_canonical:
                continue  # not a query, or the same query written differently
            score = scorer.score(case, query)
            report.mutants.append(
                Mutant(
                    case.id,
                    kind,
                    query,
                    not score.equivalent,
                    score.reason if not score.equivalent else "same answer",
                    equivalent=equivalence(case.dialect, case.gold, query),
                )
            )
        if progress:
            progress(case)
    return report


# --------------------------------------------------------------------------- equivalent mutants
# A mutant is set apart as *equivalent* only by a rule that holds on any data, read off
# the two ASTs: where they differ and what lies above the difference.  Coincidences of
# the snapshots (every zone has one host) are not rules: such mutants stay near misses,
# and when the scorer misses them the report says the snapshots cannot tell them apart.

#: aggregations whose output has a group wherever one of its members has a sample
_PRESENCE_KEEPING = frozenset({"sum", "avg", "min", "max", "count", "group", "stddev", "stdvar"})
#: pairs of range functions that differ by a positive factor per series (the range) and
#: return a sample exactly when the other does
_SCALED_RANGE_FUNCTIONS = (frozenset({"rate", "increase"}), frozenset({"rate", "count_over_time"}))
_IGNORED_FIELDS = frozenset({"span", "has_grouping"})


def _fields(node: object) -> list[tuple[str, object]]:
    names = getattr(node, "__dataclass_fields__", {})
    return [(n, getattr(node, n)) for n in names if n not in _IGNORED_FIELDS]


def _same(a: object, b: object) -> bool:
    if type(a) is not type(b):
        return False
    if hasattr(a, "__dataclass_fields__"):
        return all(_same(x, y) for (_, x), (_, y) in zip(_fields(a), _fields(b), strict=True))
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def diff_path(a: object, b: object) -> list[tuple[object, object]] | None:
    """[(gold node, mutant node), ...] from the root down to the one node where they differ.

    The last pair differs in its own fields (an operator, a function name); every pair
    above it differs only inside one child.  None when the trees are equal or differ in
    more than one place.
    """
    if _same(a, b):
        return None
    if type(a) is not type(b) or not hasattr(a, "__dataclass_fields__"):
        return [(a, b)]
    differing = []  # children that differ
    own = False  # the node's own fields (op, func, grouping labels) differ
    for (_, x), (_, y) in zip(_fields(a), _fields(b), strict=True):
        if _same(x, y):
            continue
        if isinstance(x, tuple) and isinstance(y, tuple) and len(x) == len(y):
            inner = [(u, v) for u, v in zip(x, y, strict=True) if not _same(u, v)]
            if all(hasattr(u, "__dataclass_fields__") for u, _ in inner):
                differing += inner
                continue
        if hasattr(x, "__dataclass_fields__") and type(x) is type(y):
            differing.append((x, y))
        else:
            own = True
    if own:
        return [(a, b)] if not differing else None
    if len(differing) != 1:
        return None
    below = diff_path(*differing[0])
    return None if below is None else [(a, b), *below]


def _op(node: object) -> str | None:
    """The aggregation operator or function name of an AST node."""
    return getattr(node, "op", None) or getattr(node, "func", None)


def _is_paren(node: object) -> bool:
    return type(node).__name__ == "Paren"


def _is_aggregation(node: object) -> bool:
    return type(node).__name__ in ("Aggregation", "VectorAggregation")


def _grouping(node: object) -> tuple[bool, tuple[str, ...]]:
    """(without, labels) of an aggregation in either AST."""
    grouping = getattr(node, "grouping", None)
    if hasattr(grouping, "labels"):  # LogQL's Grouping node
        return grouping.without, tuple(grouping.labels)
    return bool(getattr(node, "without", False)), tuple(grouping or ())


def _value_only_change(gold: object, mutant: object) -> str:
    """"sum<->avg" / "rate<->increase" when the differing nodes differ only in a value-changing way."""
    a, b = _op(gold), _op(mutant)
    if a is None or b is None or type(gold) is not type(mutant):
        return ""
    if {a, b} == {"sum", "avg"} and _is_aggregation(gold) and _grouping(gold) == _grouping(mutant) \
            and getattr(gold, "param", None) is None:
        return "sum<->avg"
    if frozenset({a, b}) in _SCALED_RANGE_FUNCTIONS:
        return f"{a}<->{b}"
    return ""


def _histogram_rule(path: list[tuple[object, object]], change: str) -> str:
    """histogram_quantile(q, sum|avg by (le, ...) (rate|increase(...))): a factor common to every
    bucket of a group does not move the quantile."""
    for index, (node, _) in enumerate(path):
        if _op(node) != "histogram_quantile" or type(node).__name__ != "Call":
            continue
        below = [n for n, _ in path[index + 1 :] if not _is_paren(n)]
        if not below or not _is_aggregation(below[0]):
            return ""
        without, labels = _grouping(below[0])
        if without or "le" not in labels or _op(below[0]) not in ("sum", "avg"):
            return ""
        # between the bucket aggregation and the change: nothing (the change is the aggregation
        # itself) or the range function the aggregation sums
        if len(below) == 1 or (len(below) == 2 and type(below[1]).__name__ == "Call"):
            factor = ("the average is the sum over a group's series divided by their number, the same "
                      "for every bucket of a complete histogram") if change == "sum<->avg" else \
                     ("increase is rate times the range, the same factor for every bucket")
            return f"histogram_quantile is unchanged by a factor common to all buckets: {factor}"
        return ""
    return ""


def _count_rule(path: list[tuple[object, object]], change: str) -> str:
    """count(...) over aggregations of the changed node: count sees which series exist, not values."""
    for index, (node, _) in enumerate(path):
        if not (_is_aggregation(node) and _op(node) == "count"):
            continue
        between = [n for n, _ in path[index + 1 : -1] if not _is_paren(n)]
        if all(_is_aggregation(n) and _op(n) in _PRESENCE_KEEPING and getattr(n, "param", None) is None
               for n in between):
            return (f"count(...) counts series, and {change} changes values only: the same series "
                    "exist at every step")
        return ""
    return ""


def equivalence(dialect: str, gold: str, mutant: str) -> str:
    """Why `mutant` means the same as `gold` on any data ("" when no rule shows it does)."""
    if dialect not in ("promql", "logql"):
        return ""
    spec = dialects.get(dialect)
    try:
        path = diff_path(spec.parse(gold), spec.parse(mutant))
    except QueryError:
        return ""
    if not path:
        return ""
    change = _value_only_change(*path[-1])
    if not change:
        return ""
    return _histogram_rule(path, change) or _count_rule(path, change)
