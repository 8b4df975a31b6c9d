"""Score a predicted query against a case's gold by execution on every snapshot variant.

A prediction is *equivalent* when, on every variant, `nlq.results.compare`
finds its answer equal to the gold's over the case's time range.  Besides that
verdict, a `Score` records whether the prediction parsed, passed the catalog
checks and matches the gold exactly after canonical formatting.

    >>> scorer = Scorer()                                   # doctest: +SKIP
    >>> case = load_cases(dialect="promql")[0]              # doctest: +SKIP
    >>> scorer.score(case, case.gold).equivalent            # doctest: +SKIP
    True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.errors import NlqError, QueryError
from nlq.evaluation.cases import Case
from nlq.results import Result, compare

CATALOG_DIR = Path(__file__).resolve().parents[2] / "snapshots" / "catalog"
DEFAULT_VARIANTS = ("shop-a", "shop-b", "shop-c")


@dataclass
class Score:
    """How one predicted query fares against one case."""

    case_id: str
    query: str | None
    parsed: bool = False
    valid: bool = False  # parsed and passed the semantic and catalog checks
    exact: bool = False  # canonical text equals the gold's canonical text
    equivalent: bool = False  # same answer as the gold on every variant
    reason: str = ""  # why not equivalent (first difference, or the error)
    per_variant: dict[str, bool] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {
            "case": self.case_id,
            "query": self.query,
            "parsed": self.parsed,
            "valid": self.valid,
            "exact": self.exact,
            "equivalent": self.equivalent,
            "reason": self.reason,
            "per_variant": self.per_variant,
        }


class Scorer:
    """Runs queries on the snapshot variants, caching connections and gold answers."""

    def __init__(
        self,
        variants: tuple[str, ...] | list[str] = DEFAULT_VARIANTS,
        catalog_dir: Path = CATALOG_DIR,
    ):
        self.variants = tuple(variants)
        self.catalog_dir = Path(catalog_dir)
        self._gold: dict[tuple[str, str], Result | Exception] = {}
        self._catalogs: dict[str, Catalog] = {}

    @cached_property
    def connections(self) -> dict[str, Any]:
        from nlq.snapshot import open_snapshot

        return {name: open_snapshot(name) for name in self.variants}

    def catalog(self, dialect: str) -> Catalog:
        if dialect not in self._catalogs:
            self._catalogs[dialect] = load_catalog(self.catalog_dir / f"{dialect}.json", dialect)
        return self._catalogs[dialect]

    def close(self) -> None:
        for con in self.__dict__.pop("connections", {}).values():
            con.close()

    # -- running
    def run(self, case: Case, query: str | Any, variant: str) -> Result:
        from nlq.engine import run_query

        return run_query(case.dialect, query, self.connections[variant], case.time_range())

    def gold(self, case: Case, variant: str) -> Result:
        key = (case.id, variant)
        if key not in self._gold:
            try:
                self._gold[key] = self.run(case, case.gold, variant)
            except Exception as exc:  # noqa: BLE001 - remembered, raised to every caller
                self._gold[key] = exc
        answer = self._gold[key]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def canonical(self, dialect: str, query: str) -> str | None:
        spec = dialects.get(dialect)
        try:
            return spec.format(spec.parse(query))
        except QueryError:
            return None

    # -- scoring
    def score(self, case: Case, query: str | None) -> Score:
        """Parse, check, compare canonical text and answers of `query` against `case.gold`."""
        result = Score(case.id, query)
        if not query:
            result.reason = "no query"
            return result
        spec = dialects.get(case.dialect)
        try:
            node = spec.parse(query)
            result.parsed = True
        except QueryError as exc:
            result.reason = "parse error: " + str(exc).splitlines()[0]
            return result
        problems = spec.check(node, query, self.catalog(case.dialect))
        result.valid = not problems
        result.exact = spec.format(node) == self.canonical(case.dialect, case.gold)
        if result.exact:
            result.equivalent = True
            result.per_variant = dict.fromkeys(self.variants, True)
            return result
        reasons = []
        for variant in self.variants:
            try:
                ok, why = compare(self.gold(case, variant), self.run(case, node, variant))
            except NlqError as exc:
                ok, why = False, f"error: {exc}"
            except Exception as exc:  # noqa: BLE001 - an engine failure is a wrong answer, not a crash
                ok, why = False, f"engine error: {type(exc).__name__}: {exc}"
            result.per_variant[variant] = ok
            if not ok:
                reasons.append(f"{variant}: {why}")
        result.equivalent = all(result.per_variant.values())
        result.reason = reasons[0] if reasons else ""
        return result
