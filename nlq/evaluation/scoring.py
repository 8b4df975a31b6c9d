"""Score a predicted query against a case's gold by execution on every snapshot variant.

A prediction is *equivalent* when, on every variant, `nlq.results.compare`
finds its answer equal to the gold's over the case's time range.  Besides that
verdict, a `Score` records whether the prediction parsed, passed the catalog
checks and matches the gold exactly after canonical formatting.

    >>> scorer = Scorer()                                   # doctest: +SKIP
    >>> case = load_cases(dialect="promql")[0]              # doctest: +SKIP
    >>> scorer.score(case, case.gold).equivalent            # doctest: +SKIP
    True

A case with its own catalog (`Case.catalog`) is scored on a *world*
synthesized from that catalog (`nlq.snapshot.worlds.catalog_world`: seeded
variants `synth-1..3`, cached by catalog fingerprint), and its queries are
checked against that catalog.  Synthetic data was not made with the question
in mind, so a gold may find nothing there (a filter no series passes, a join
of labels that never meet): then the world cannot tell a right answer from a
wrong one, and the case is *not scorable by execution* (`Score.scorable` is
False, never equivalent).  The shop's golds are known to return data
(tests/test_evals.py), so shop cases skip that check and its cost.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.errors import NlqError, QueryError, UsageError
from nlq.evaluation.cases import Case
from nlq.results import Result, compare

SHOP_WORLD = "shop"
#: the shop under other names (nlq.snapshot.renamed): the transfer test of issue #7
RENAMED_WORLD = "renamed"
WORLDS = (SHOP_WORLD, RENAMED_WORLD)

CATALOG_DIR = Path(__file__).resolve().parents[2] / "snapshots" / "catalog"
DEFAULT_VARIANTS = ("shop-a", "shop-b", "shop-c")


def world_defaults(world: str) -> tuple[tuple[str, ...], Path]:
    """(variants, catalog folder) of a benchmark world: `shop` or `renamed`."""
    if world == SHOP_WORLD:
        return DEFAULT_VARIANTS, CATALOG_DIR
    if world == RENAMED_WORLD:
        from nlq.snapshot.renamed import RENAMED_CATALOG_DIR, RENAMED_VARIANTS

        return tuple(RENAMED_VARIANTS), RENAMED_CATALOG_DIR
    raise UsageError(f"unknown world {world!r}: choose one of {', '.join(WORLDS)}")


def open_variant(name: str) -> Any:
    """A connection to a shop variant, a renamed one (`renamed-a`) or a snapshot file."""
    from nlq.snapshot import open_snapshot
    from nlq.snapshot.renamed import is_renamed_variant, open_renamed

    return open_renamed(name) if is_renamed_variant(name) else open_snapshot(name)


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
    #: False when the gold returns nothing on every variant: execution cannot judge the case
    scorable: bool = True
    #: "shop", "renamed", or "synth:<catalog fingerprint>" for a case's own catalog
    world: str = SHOP_WORLD

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
            "scorable": self.scorable,
            "world": self.world,
        }


class Scorer:
    """Runs queries on the snapshot variants, caching connections and gold answers.

    Cases without a catalog of their own run on `variants` of `world`: the shop
    (shop-a..c, snapshots/catalog/) or the renamed shop (renamed-a..c,
    snapshots/renamed/catalog/, for cases renamed by `nlq.snapshot.renamed.rename_case`);
    a case with its own catalog runs on the `synth_variants` variants of its
    catalog's synthesized world.
    """

    def __init__(
        self,
        variants: tuple[str, ...] | list[str] | None = None,
        catalog_dir: Path | None = None,
        synth_variants: int = 3,
        world: str = SHOP_WORLD,
    ):
        default_variants, default_catalogs = world_defaults(world)
        self.world = world
        self.variants = tuple(variants or default_variants)
        self.catalog_dir = Path(catalog_dir or default_catalogs)
        self.synth_variants = synth_variants
        self._gold: dict[tuple[str, str, str], Result | Exception] = {}
        self._catalogs: dict[str, Catalog] = {}
        self._worlds: dict[str, dict[str, Any]] = {}
        self._fingerprints: dict[tuple[int, str], tuple[Catalog, str]] = {}

    @cached_property
    def connections(self) -> dict[str, Any]:
        return {name: open_variant(name) for name in self.variants}

    def catalog(self, dialect: str) -> Catalog:
        """The shop's catalog of `dialect`."""
        if dialect not in self._catalogs:
            self._catalogs[dialect] = load_catalog(self.catalog_dir / f"{dialect}.json", dialect)
        return self._catalogs[dialect]

    def catalog_for(self, case: Case) -> Catalog:
        """The catalog `case` is translated and checked with: its own, else its world's."""
        return case.catalog if case.catalog is not None else self.catalog(case.dialect)

    def world_of(self, case: Case) -> str:
        """The scorer's world ("shop", "renamed"), or "synth:<fingerprint>" of the case's own catalog."""
        if case.catalog is None:
            return self.world
        key = (id(case.catalog), case.gold)
        known = self._fingerprints.get(key)
        if known is None:  # hashing a large catalog takes a while: once per catalog object and gold
            from nlq.snapshot.synth import catalogs_fingerprint
            from nlq.snapshot.worlds import world_catalog

            # the catalog is kept alongside, so its id cannot be reused by another object
            world = world_catalog(case.catalog, case.gold)
            known = self._fingerprints[key] = (case.catalog, catalogs_fingerprint([world]))
        return "synth:" + known[1]

    def world_connections(self, case: Case) -> dict[str, Any]:
        """{variant: connection} of the world `case` is scored on (synthesized on first use)."""
        world = self.world_of(case)
        if world == self.world:
            return self.connections
        if world not in self._worlds:
            from nlq.snapshot import open_snapshot
            from nlq.snapshot.worlds import catalog_world, world_catalog

            paths = catalog_world([world_catalog(case.catalog, case.gold)], variants=self.synth_variants)
            self._worlds[world] = {name: open_snapshot(path) for name, path in paths.items()}
        return self._worlds[world]

    def close(self) -> None:
        for con in self.__dict__.pop("connections", {}).values():
            con.close()
        for world in self._worlds.values():
            for con in world.values():
                con.close()
        self._worlds.clear()

    # -- running
    def run(self, case: Case, query: str | Any, variant: str) -> Result:
        from nlq.engine import run_query

        return run_query(case.dialect, query, self.world_connections(case)[variant], case.time_range())

    def gold(self, case: Case, variant: str) -> Result:
        key = (self.world_of(case), case.id, variant)
        if key not in self._gold:
            try:
                self._gold[key] = self.run(case, case.gold, variant)
            except Exception as exc:  # noqa: BLE001 - remembered, raised to every caller
                self._gold[key] = exc
        answer = self._gold[key]
        if isinstance(answer, Exception):
            raise answer
        return answer

    def unscorable_reason(self, case: Case) -> str:
        """Why execution cannot judge `case` on its synthesized world ("" when it can).

        The gold must run and return something (a sample that is a number, or a
        log line) on at least one variant; shop cases are not checked (see the module doc).
        """
        if case.catalog is None:
            return ""
        empty = []
        for variant in self.world_connections(case):
            try:
                answer = self.gold(case, variant)
            except Exception as exc:  # noqa: BLE001 - a gold the world cannot run judges nothing
                return f"not scorable by execution: the gold fails on {variant}: {exc}"
            if has_data(answer):
                return ""
            empty.append(variant)
        return f"not scorable by execution: the gold returns nothing on {', '.join(empty)}"

    def canonical(self, dialect: str, query: str) -> str | None:
        spec = dialects.get(dialect)
        try:
            return spec.format(spec.parse(query))
        except QueryError:
            return None

    # -- scoring
    def score(self, case: Case, query: str | None) -> Score:
        """Parse, check, compare canonical text and answers of `query` against `case.gold`."""
        result = Score(case.id, query, world=self.world_of(case))
        unscorable = self.unscorable_reason(case)
        if unscorable:
            result.scorable = False
            result.reason = unscorable
        if not query:
            result.reason = result.reason or "no query"
            return result
        spec = dialects.get(case.dialect)
        try:
            node = spec.parse(query)
            result.parsed = True
        except QueryError as exc:
            result.reason = result.reason or "parse error: " + str(exc).splitlines()[0]
            return result
        problems = spec.check(node, query, self.catalog_for(case))
        result.valid = not problems
        result.exact = spec.format(node) == self.canonical(case.dialect, case.gold)
        if not result.scorable:
            return result  # parsed, valid and exact are still reported; equivalence is unknown
        variants = list(self.world_connections(case))
        if result.exact:
            result.equivalent = True
            result.per_variant = dict.fromkeys(variants, True)
            return result
        reasons = []
        for variant in variants:
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


def has_data(result: Result) -> bool:
    """True when an answer holds a log line or a sample that is a number (not NaN)."""
    for series in result.series:
        if series.lines:
            return True
        if any(not math.isnan(v) for _, v in series.samples):
            return True
    return result.type == "string" and bool(result.string)
