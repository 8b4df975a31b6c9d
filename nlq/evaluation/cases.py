"""Eval cases: one JSON object per line in evals/<dialect>.jsonl.

    {"id": "promql-rate-003", "dialect": "promql", "stratum": "rate",
     "tags": ["time:window", "card:high", "ops:nested"],
     "question": "which pods restarted",
     "gold": "increase(kube_pod_container_status_restarts_total[6h]) > 0",
     "range": "6h", "notes": "..."}

`range` (optional, default 1h) is how far back from the snapshot's end the
question looks; `step` (optional) the resolution, by default range/60 and at
least one minute.  Every case is evaluated over
`TimeRange(end - range, end, step)`, `end` being the snapshot's end
(world.yaml `clock.end`): a range query for PromQL, LogQL metric queries and
Datadog metrics (whose rollup interval is the step), the lines or events in
that window for LogQL log queries and Datadog log search.  evals/README.md says
the same for people.

A case may bring its own catalog, for a team's own metrics:

    {"id": "farm-001", ..., "catalog": "catalog.yaml"}
    {"id": "farm-002", ..., "catalog": {"kiln_temperature_celsius": {"kiln": ["k1", "k2"]}}}

a path (relative to the case file) or a catalog inline, full or minimal form
(`nlq.catalog`; the minimal form's types are inferred from the names).  Such a
case is translated with that catalog and scored on a world synthesized from it
(`nlq.evaluation.scoring`), not on the shop snapshots.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

from nlq.catalog import Catalog, load_catalog
from nlq.errors import NlqError, UsageError
from nlq.results import TimeRange

EVALS_DIR = Path(__file__).resolve().parents[2] / "evals"
CASE_FILES = {
    "promql": "promql.jsonl",
    "logql": "logql.jsonl",
    "datadog-metrics": "datadog-metrics.jsonl",
    "datadog-logs": "datadog-logs.jsonl",
}
STRATA = ("filter", "grouping", "rate", "join", "edge")
#: target share of each stratum per benchmark (Datadog metrics and logs count as one)
STRATUM_TARGETS = {"filter": 0.30, "grouping": 0.30, "rate": 0.20, "join": 0.10, "edge": 0.10}
TAG_VOCABULARY = {
    "time": ("instant", "window", "offset", "compare"),
    "card": ("low", "high"),
    "ops": ("single", "nested", "multi"),
}
REQUIRED = ("id", "dialect", "stratum", "tags", "question", "gold")
OPTIONAL = ("range", "step", "notes", "catalog")
#: dialects whose catalog lists log labels and fields (the minimal form has metrics only)
LOG_DIALECTS = ("logql", "datadog-logs")
DEFAULT_RANGE = "1h"
_DURATION = re.compile(r"^(\d+)(s|m|h)$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}


def duration_ms(text: str) -> int:
    """`90s`, `30m`, `6h` -> milliseconds."""
    match = _DURATION.match(text or "")
    if not match:
        raise UsageError(f"bad duration {text!r}: use a number and s, m or h (30m, 6h)")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def snapshot_end_ms() -> int:
    """The end of every snapshot variant (world.yaml `clock.end`), in ms since the epoch."""
    from nlq.snapshot.world import load_world

    return load_world().end_ms


@dataclass
class Case:
    id: str
    dialect: str
    stratum: str
    tags: list[str]
    question: str
    gold: str
    range: str = DEFAULT_RANGE
    step: str | None = None
    notes: str = ""
    source: str = ""
    line: int = 0
    extra: dict = field(default_factory=dict)
    #: the case's own catalog (None: the shop's), and how the case file gave it
    catalog: Catalog | None = None
    catalog_ref: str | dict | None = None

    def tag(self, axis: str) -> str:
        """The value of one tag axis (`time`, `card`, `ops`)."""
        for tag in self.tags:
            key, _, value = tag.partition(":")
            if key == axis:
                return value
        return ""

    @property
    def range_ms(self) -> int:
        return duration_ms(self.range)

    @property
    def step_ms(self) -> int:
        if self.step:
            return duration_ms(self.step)
        return max(60_000, self.range_ms // 60)

    def time_range(self, end_ms: int | None = None) -> TimeRange:
        end = snapshot_end_ms() if end_ms is None else end_ms
        return TimeRange.range(end - self.range_ms, end, self.step_ms)

    def to_dict(self) -> dict:
        out = {
            "id": self.id,
            "dialect": self.dialect,
            "stratum": self.stratum,
            "tags": self.tags,
            "question": self.question,
            "gold": self.gold,
        }
        if self.range != DEFAULT_RANGE:
            out["range"] = self.range
        if self.step:
            out["step"] = self.step
        if self.notes:
            out["notes"] = self.notes
        if self.catalog_ref is not None:
            out["catalog"] = self.catalog_ref
        return out


def parse_case(data: dict, source: str = "", line: int = 0,
               catalogs: dict[tuple[str, str], Catalog] | None = None) -> Case:
    """One case from its JSON object; `catalogs` caches catalog files read for earlier cases."""
    where = f"{source}:{line}" if source else "case"
    if not isinstance(data, dict):
        raise UsageError(f"{where}: expected a JSON object")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise UsageError(f"{where}: missing {', '.join(missing)}")
    unknown = sorted(set(data) - set(REQUIRED) - set(OPTIONAL))
    if unknown:
        raise UsageError(f"{where}: unknown field(s) {', '.join(unknown)}")
    case = Case(
        id=str(data["id"]),
        dialect=str(data["dialect"]),
        stratum=str(data["stratum"]),
        tags=[str(t) for t in data["tags"]],
        question=str(data["question"]),
        gold=str(data["gold"]),
        range=str(data.get("range", DEFAULT_RANGE)),
        step=data.get("step"),
        notes=str(data.get("notes", "")),
        source=source,
        line=line,
    )
    if "catalog" in data:
        case.catalog_ref = data["catalog"]
        case.catalog = case_catalog(data["catalog"], case.dialect, source, where, catalogs)
    if case.stratum not in STRATA:
        raise UsageError(f"{where}: stratum {case.stratum!r} is not one of {', '.join(STRATA)}")
    for axis, values in TAG_VOCABULARY.items():
        if case.tag(axis) not in values:
            raise UsageError(f"{where}: needs a tag {axis}:<{'|'.join(values)}>")
    duration_ms(case.range)
    if case.step:
        duration_ms(case.step)
    return case


def case_catalog(ref: object, dialect: str, source: str, where: str,
                 cache: dict[tuple[str, str], Catalog] | None = None) -> Catalog:
    """The catalog a case names: a file relative to the case file, or an inline object."""
    if isinstance(ref, str):
        base = Path(source).parent if source else Path.cwd()
        path = (base / ref).resolve()
        key = (str(path), dialect)
        if cache is not None and key in cache:
            return cache[key]
        try:
            catalog = load_catalog(path, dialect)
        except NlqError as exc:
            raise UsageError(f"{where}: catalog {ref!r}: {exc}") from exc
        if cache is not None:
            cache[key] = catalog
    elif isinstance(ref, dict) and ref:
        try:
            catalog = Catalog.from_dict(ref, dialect=dialect, source=where)
        except NlqError as exc:
            raise UsageError(f"{where}: inline catalog: {exc}") from exc
    else:
        raise UsageError(f'{where}: "catalog" must be a file path or a catalog object '
                         '({"metric_name": {"label": ["value", ...]}})')
    if dialect in LOG_DIALECTS and not catalog.log_labels:
        raise UsageError(f"{where}: a {dialect} case's catalog needs log_labels (the full form: "
                         '{"dialect": ..., "log_labels": {...}, "log_fields": {...}}); the minimal form has metrics only')
    if dialect not in LOG_DIALECTS and not catalog.metrics:
        raise UsageError(f"{where}: the case's catalog names no metrics")
    return catalog


def load_cases(paths: list[str | Path] | None = None, dialect: str | None = None) -> list[Case]:
    """Read eval cases (default: every evals/*.jsonl), optionally only one dialect's."""
    if not paths:
        paths = [EVALS_DIR / name for d, name in CASE_FILES.items() if dialect in (None, d)]
    cases: list[Case] = []
    catalogs: dict[tuple[str, str], Catalog] = {}
    for path in map(Path, paths):
        if not path.is_file():
            raise UsageError(f"eval cases file not found: {path}")
        for number, text in enumerate(path.read_text().splitlines(), 1):
            if not text.strip() or text.lstrip().startswith("#"):
                continue
            try:
                data = json.loads(text)
            except json.JSONDecodeError as exc:
                raise UsageError(f"{path}:{number}: not JSON: {exc}") from exc
            case = parse_case(data, str(path), number, catalogs)
            if dialect is None or case.dialect == dialect:
                cases.append(case)
    return cases


def world_cases(cases: list[Case], world: str) -> tuple[list[Case], dict[str, str]]:
    """(the cases of `world`, {id: reason} of those left out) for `nlq eval --world`.

    `shop` keeps the cases as they are.  `renamed` is the transfer test of issue
    #7: each shop case with its question and gold renamed (`nlq.snapshot.renamed`),
    without the cases snapshots/renamed/rename.yaml excludes, with their reasons.
    A case with its own catalog has its own world and cannot be renamed.
    """
    if world == "shop":
        return cases, {}
    if world != "renamed":
        raise UsageError(f"unknown world {world!r}: choose shop or renamed")
    from nlq.snapshot.renamed import excluded_cases, rename_case

    own = [c.id for c in cases if c.catalog is not None]
    if own:
        raise UsageError(f"--world renamed renames the shop's cases; {', '.join(own[:3])} bring(s) "
                         "a catalog of their own (scored on its own synthesized world): drop them or --world shop")
    excluded = excluded_cases()
    left_out = {c.id: excluded[c.id] for c in cases if c.id in excluded}
    return [rename_case(c) for c in cases if c.id not in excluded], left_out
