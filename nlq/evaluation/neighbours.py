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

from nlq.catalog import Catalog
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


def _other_window(text: str) -> str | None:
    match = _WINDOW.search(text)
    if match:
        number, unit = int(match.group(1)), match.group(2)
        new = number * 2 if number < 6 or unit != "h" else number // 2
        return text[: match.start()] + f"[{new}{unit}" + text[match.end() :]
    match = _ROLLUP.search(text)
    if match:
        seconds = int(match.group(2))
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
        "window": lambda: _other_window(case.gold) if case.dialect != "datadog-logs" else None,
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
        for kind, query in mutations(case, scorer.catalog(case.dialect)):
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
                )
            )
        if progress:
            progress(case)
    return report
