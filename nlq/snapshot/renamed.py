"""The renamed world: the shop under other names, for the transfer test of issue #7.

snapshots/renamed/rename.yaml maps every shop service and application metric
to a new name.  This module applies that map, one rule for every string, to

* text (`RenameMap.rename_text`): questions, gold queries, log lines, label and
  tag values, JSON attributes, catalog entries;
* the snapshots: `renamed-a/b/c` are copies of `shop-a/b/c` with every string
  column renamed (`open_renamed`, built once into the snapshot cache);
* the catalogs: `rename_catalog`, and the committed files in
  snapshots/renamed/catalog/ (`write_renamed_catalogs`);
* eval cases: `rename_case`.

The rule: metrics first, by exact name (a Prometheus histogram family with its
`_bucket`, `_count`, `_sum` series), so that `checkout.order.value` becomes
`basket.order.amount` and not `basket.order.value`; then services as whole
words (`\\b...\\b`, longest first) in lower case and Capitalised form, so that
`checkout-bqs2v8m7z2-6fn66` becomes `basket-bqs2v8m7z2-6fn66` and `/api/cart`
`/api/trolley`, while `cart_items` (`_` is a word character) stays.

Because none of the new names occurs in the shop's data (`collisions` checks),
the rename is one-to-one: every gold, renamed, finds the shop's answer renamed
(`gold_disagreements`), except LogQL byte counts, which follow the lines'
lengths (`expected_difference`).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from dataclasses import dataclass, replace
from functools import cached_property, lru_cache
from pathlib import Path

import duckdb
import numpy as np

from nlq.catalog import Catalog, LogField, Metric
from nlq.errors import UsageError
from nlq.snapshot.world import SNAPSHOTS_DIR

RENAMED_DIR = SNAPSHOTS_DIR / "renamed"
RENAME_FILE = RENAMED_DIR / "rename.yaml"
RENAMED_CATALOG_DIR = RENAMED_DIR / "catalog"
#: renamed variant -> the shop variant it is a copy of
RENAMED_VARIANTS = {"renamed-a": "shop-a", "renamed-b": "shop-b", "renamed-c": "shop-c"}
#: the series of a Prometheus histogram family, renamed with it
FAMILY_SUFFIXES = ("_bucket", "_count", "_sum")
#: a metric name ends where no word character and no `.word` follows (`kafka.consumer.lag{`)
_METRIC_END = r"(?![\w]|\.\w)"
_METRIC_START = r"(?<![\w.])"


@dataclass(frozen=True)
class RenameMap:
    """Old name -> new name for services (whole words) and metrics (exact names)."""

    services: dict[str, str]
    metrics: dict[str, str]
    source: str = ""

    @cached_property
    def fingerprint(self) -> str:
        """A short hash of the map: renamed files built from another map are rebuilt."""
        text = json.dumps({"services": self.services, "metrics": self.metrics}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:12]

    def new_names(self) -> list[str]:
        """Every new service and metric name (a histogram family by its base name)."""
        return sorted(set(self.services.values()) | set(self.metrics.values()))

    def old_names(self) -> list[str]:
        return sorted(set(self.services) | set(self.metrics))

    @cached_property
    def _metric_re(self) -> re.Pattern:
        names = sorted(self.metrics, key=len, reverse=True)
        suffixes = "|".join(FAMILY_SUFFIXES)
        return re.compile(_METRIC_START + "(" + "|".join(map(re.escape, names)) + f")({suffixes})?" + _METRIC_END)

    @cached_property
    def _service_re(self) -> re.Pattern:
        words = set(self.services) | {w.capitalize() for w in self.services}
        return re.compile(r"\b(" + "|".join(map(re.escape, sorted(words, key=len, reverse=True))) + r")\b")

    def _service(self, match: re.Match) -> str:
        word = match.group(1)
        new = self.services.get(word)
        return new if new is not None else self.services[word.lower()].capitalize()

    def rename_text(self, text: str) -> str:
        """`text` with metric names, then service words, renamed."""
        if not text:
            return text
        text = self._metric_re.sub(lambda m: self.metrics[m.group(1)] + (m.group(2) or ""), text)
        return self._service_re.sub(self._service, text)


def load_rename_map(path: str | Path = RENAME_FILE) -> RenameMap:
    """Read the rename map, with a clear error for a missing or malformed file."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise UsageError(f"rename map not found: {path}")
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise UsageError(f"rename map {path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or not isinstance(data.get("services"), dict) \
            or not isinstance(data.get("metrics"), dict):
        raise UsageError(f"rename map {path}: needs two mappings, `services:` and `metrics:` (old: new)")
    services = {str(k): str(v) for k, v in data["services"].items()}
    metrics = {str(k): str(v) for k, v in data["metrics"].items()}
    for kind, names in (("service", services), ("metric", metrics)):
        clashes = sorted(set(names.values()) & set(names))
        if clashes:
            raise UsageError(f"rename map {path}: {kind} name(s) {', '.join(clashes)} are both old and new")
        if len(set(names.values())) != len(names):
            raise UsageError(f"rename map {path}: two {kind}s get the same new name")
    bad = sorted(s for s in services if not re.fullmatch(r"[a-z][a-z0-9]*", s))
    if bad:
        raise UsageError(f"rename map {path}: service names must be lower-case words: {', '.join(bad)}")
    rename = RenameMap(services, metrics, str(path))
    # metrics are renamed first, services after: a new metric name holding an old service word would change again
    twice = sorted(m for m in metrics.values() if rename._service_re.search(m))
    if twice:
        raise UsageError(f"rename map {path}: new metric name(s) {', '.join(twice)} hold an old service name")
    return rename


@lru_cache(maxsize=1)
def default_map() -> RenameMap:
    return load_rename_map()


# -- catalogs ----------------------------------------------------------------


def _sorted_values(values: list[str], kind: str = "string") -> list[str]:
    if kind == "number":
        return sorted(values, key=lambda v: (float(v), v))
    return sorted(values)


def rename_catalog(catalog: Catalog, rename: RenameMap | None = None) -> Catalog:
    """`catalog` with every name and value renamed, lists re-sorted as `derive_catalogs` sorts them."""
    rename = rename or default_map()
    text = rename.rename_text
    metrics = {}
    for metric in catalog.metrics.values():
        new = text(metric.name)
        metrics[new] = Metric(new, metric.type, text(metric.help), metric.unit,
                              {text(k): sorted(text(v) for v in vs) for k, vs in sorted(metric.labels.items())},
                              [text(k) for k in metric.high_cardinality],
                              text(metric.family) if metric.family else metric.family)
    fields = {text(f.name): LogField(text(f.name), f.kind, _sorted_values([text(v) for v in f.values], f.kind))
              for f in catalog.log_fields.values()}
    return Catalog(catalog.dialect, dict(sorted(metrics.items())),
                   {text(k): sorted(text(v) for v in vs) for k, vs in sorted(catalog.log_labels.items())},
                   dict(sorted(fields.items())), source=catalog.source,
                   log_formats={text(k): {text(v): f for v, f in sorted(vs.items())}
                                for k, vs in sorted(catalog.log_formats.items())},
                   stream_fields={text(k): {text(v): sorted(text(n) for n in names) for v, names in sorted(vs.items())}
                                  for k, vs in sorted(catalog.stream_fields.items())})


def renamed_catalog_path(dialect: str) -> Path:
    return RENAMED_CATALOG_DIR / f"{dialect}.json"


def write_renamed_catalogs(catalogs: dict[str, Catalog]) -> list[Path]:
    """Write renamed catalogs to snapshots/renamed/catalog/<dialect>.json."""
    RENAMED_CATALOG_DIR.mkdir(parents=True, exist_ok=True)
    paths = []
    for dialect, catalog in catalogs.items():
        catalog.save(renamed_catalog_path(dialect))
        paths.append(renamed_catalog_path(dialect))
    return paths


# -- snapshots ---------------------------------------------------------------

#: table -> its columns in order, each with how it is stored: "text" (VARCHAR, renamed),
#: "keep" (copied as it is), "map" / "list" / "json" (renamed as their JSON text)
RENAMED_COLUMNS: dict[str, list[tuple[str, str]]] = {
    "prom_metadata": [("metric", "text"), ("type", "keep"), ("help", "text"), ("unit", "keep"),
                      ("family", "text")],
    "prom_series": [("series_id", "keep"), ("metric", "text"), ("labels", "map"), ("labels_key", "text")],
    "log_streams": [("stream_id", "keep"), ("labels", "map")],
    "log_lines": [("stream_id", "keep"), ("ts", "keep"), ("line", "text"), ("metadata", "map")],
    "dd_metrics": [("metric", "text"), ("type", "keep"), ("interval_s", "keep"), ("unit", "keep"),
                   ("description", "text")],
    "dd_series": [("series_id", "keep"), ("metric", "text"), ("tags", "list")],
    "dd_logs": [("ts", "keep"), ("service", "text"), ("host", "text"), ("status", "keep"), ("source", "keep"),
                ("message", "text"), ("tags", "list"), ("attributes", "json")],
}
_READ = {"text": "{0}", "keep": "{0}", "map": "to_json({0})::VARCHAR", "list": "to_json({0})::VARCHAR",
         "json": "{0}::VARCHAR"}
#: back to the column's own type ({1}): maps and lists through their JSON text
_WRITE = {"text": "CAST({0} AS {1}) AS {0}", "keep": "CAST({0} AS {1}) AS {0}",
          "map": "{0}::JSON::{1} AS {0}", "list": "{0}::JSON::{1} AS {0}", "json": "{0}::JSON AS {0}"}


def renamed_names() -> list[str]:
    return list(RENAMED_VARIANTS)


def is_renamed_variant(name: object) -> bool:
    return isinstance(name, str) and name in RENAMED_VARIANTS


@lru_cache(maxsize=1)
def rule_fingerprint() -> str:
    """A hash of this module's source: a changed renaming rule gets new files, never stale ones."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:8]


def renamed_key(rename: RenameMap | None = None) -> str:
    """What a renamed file depends on: the map, the shop generator and the renaming rule."""
    from nlq.snapshot.store import GENERATOR_VERSION

    rename = rename or default_map()
    return f"{rename.fingerprint}-g{GENERATOR_VERSION}-{rule_fingerprint()}"


def renamed_path(name: str, rename: RenameMap | None = None) -> Path:
    """`<snapshot cache>/renamed-a-<key>.duckdb`: another map or generator, another file."""
    from nlq.snapshot.store import cache_dir

    if name not in RENAMED_VARIANTS:
        raise UsageError(f"unknown renamed snapshot {name!r}: choose one of {', '.join(RENAMED_VARIANTS)}")
    return cache_dir() / f"{name}-{renamed_key(rename)}.duckdb"


def build_renamed(name: str, path: Path | None = None, rename: RenameMap | None = None) -> Path:
    """Copy the shop variant behind `name` and rename every string column where names appear."""
    from nlq.snapshot.store import TABLE_ORDER, open_snapshot, snapshot_path

    rename = rename or default_map()
    path = path or renamed_path(name, rename)
    shop = RENAMED_VARIANTS[name]
    open_snapshot(shop).close()  # builds the shop file on first use
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    tmp.unlink(missing_ok=True)
    path.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(snapshot_path(shop), tmp)
    con = duckdb.connect(str(tmp))
    try:
        for table, columns in RENAMED_COLUMNS.items():
            rows = con.execute("SELECT " + ", ".join(_READ[kind].format(col) for col, kind in columns)
                               + f" FROM {table}").fetchall()
            data = {}
            for i, (col, kind) in enumerate(columns):
                values = [row[i] for row in rows]
                if kind != "keep":
                    values = [rename.rename_text(v) if v is not None else None for v in values]
                data[col] = values
            types = dict(con.execute("SELECT column_name, data_type FROM information_schema.columns "
                                     "WHERE table_name = ?", [table]).fetchall())
            source = {col: _column(values) for col, values in data.items()}
            con.register("_renamed", source)
            try:
                select = ", ".join(_WRITE[kind].format(col, types[col]) for col, kind in columns)
                con.execute(f"CREATE OR REPLACE TABLE {table} AS SELECT {select} FROM _renamed "
                            f"ORDER BY {TABLE_ORDER[table]}")
            finally:
                con.unregister("_renamed")
        con.execute("UPDATE meta SET value = ? WHERE key = 'name'", [name])
        con.executemany("INSERT INTO meta VALUES (?, ?)",
                        [("renamed_from", shop), ("rename_key", renamed_key(rename))])
        con.execute("CHECKPOINT")
    finally:
        con.close()
    os.replace(tmp, path)
    for stale in path.parent.glob(f"{name}-*.duckdb"):  # made from another map or rule: never read again
        if stale != path:
            stale.unlink(missing_ok=True)
    return path


def _column(values: list) -> np.ndarray:
    """A numpy column DuckDB can scan: numbers keep their type, strings (and NULLs) are objects."""
    if values and all(isinstance(v, int) and not isinstance(v, bool) for v in values):
        return np.array(values, dtype=np.int64)
    out = np.empty(len(values), dtype=object)
    out[:] = values
    return out


def open_renamed(name: str, rename: RenameMap | None = None) -> duckdb.DuckDBPyConnection:
    """A read-only connection to renamed variant `name`, built once on first use."""
    from nlq.snapshot.store import build_once

    path = renamed_path(name, rename)
    if not path.exists():
        build_once(path, lambda: build_renamed(name, path, rename), path.exists)
    return duckdb.connect(str(path), read_only=True)


# -- checks ------------------------------------------------------------------


def _word_patterns(names: list[str]) -> re.Pattern:
    """Case-insensitive whole-word (or whole-metric-name) match of any of `names`."""
    alternatives = sorted(names, key=len, reverse=True)
    return re.compile(_METRIC_START + "(" + "|".join(map(re.escape, alternatives)) + ")" + _METRIC_END,
                      re.IGNORECASE)


def find_names(con: duckdb.DuckDBPyConnection, names: list[str]) -> dict[str, str]:
    """{name: where it occurs, with an example} for each of `names` found in a snapshot's strings."""
    pattern = _word_patterns(names)
    found: dict[str, str] = {}
    for table, columns in RENAMED_COLUMNS.items():
        for col, kind in columns:
            if kind == "keep":
                continue
            values = con.execute(f"SELECT DISTINCT {_READ[kind].format(col)} FROM {table}").fetchall()
            for (value,) in values:
                for match in pattern.finditer(value or ""):
                    found.setdefault(match.group(1).lower(), f"{table}.{col}: {value[:120]!r}")
    return found


def collisions(rename: RenameMap | None = None, variants: tuple[str, ...] = ("shop-a", "shop-b", "shop-c"),
               ) -> dict[str, str]:
    """New names already present in the shop's data: each would merge two things (must be empty)."""
    from nlq.snapshot.store import open_snapshot

    rename = rename or default_map()
    found: dict[str, str] = {}
    for variant in variants:
        con = open_snapshot(variant)
        try:
            for name, where in find_names(con, rename.new_names()).items():
                found.setdefault(name, f"{variant} {where}")
        finally:
            con.close()
    return found


# -- cases and answers -------------------------------------------------------


def rename_case(case, rename: RenameMap | None = None):
    """An eval case of the renamed world: question, gold and notes renamed, id kept.

    The id stays, so a case can be followed from one world to the other; reports
    and the gold cache tell the worlds apart by `Score.world`, not by id.
    """
    rename = rename or default_map()
    return replace(case, question=rename.rename_text(case.question), gold=rename.rename_text(case.gold),
                   notes=rename.rename_text(case.notes))


def rename_result(result, rename: RenameMap | None = None):
    """A shop answer under the new names (label names and values, log lines, a string)."""
    from nlq.results import Result, Series

    rename = rename or default_map()
    text = rename.rename_text
    series = [Series({text(k): text(v) for k, v in s.labels.items()}, list(s.samples),
                     None if s.lines is None else [(t, text(line)) for t, line in s.lines])
              for s in result.series]
    return Result(result.type, series, result.ordered, list(result.warnings),
                  None if result.string is None else text(result.string))


def excluded_cases(path: str | Path = RENAME_FILE) -> dict[str, str]:
    """{case id: reason} of the benchmark cases left out of the renamed world (rename.yaml `exclude:`)."""
    import yaml

    data = yaml.safe_load(Path(path).read_text()) or {}
    exclude = data.get("exclude") or {}
    if not isinstance(exclude, dict):
        raise UsageError(f"rename map {path}: `exclude:` must map case ids to reasons")
    return {str(k): str(v) for k, v in exclude.items()}


#: gold functions whose answer depends on the length of log lines, which renaming changes
_LINE_BYTES = re.compile(r"\b(bytes_over_time|bytes_rate)\s*\(")


def expected_difference(case) -> str:
    """Why a renamed gold's answer may rightly differ from the shop's ("" when it may not).

    Renaming changes a line's length (`[auth]` -> `[identity]`), so LogQL byte
    counts differ; the renamed gold still answers the renamed question on the
    renamed data, so such a case stays in the renamed benchmark.
    """
    if case.dialect == "logql" and _LINE_BYTES.search(case.gold):
        return "expected: counts log line bytes, and renaming changes line lengths"
    return ""


def gold_disagreements(cases: list, rename: RenameMap | None = None, variants: list[str] | None = None,
                       progress=None) -> dict[str, str]:
    """{case id: why} for each case whose renamed gold, on a renamed variant, does not give
    the shop gold's answer on the shop variant under the new names (empty: the rename is
    an isomorphism for these cases)."""
    from nlq.engine import run_query
    from nlq.results import compare
    from nlq.snapshot.store import open_snapshot

    rename = rename or default_map()
    variants = variants or list(RENAMED_VARIANTS)
    pairs = [(open_snapshot(RENAMED_VARIANTS[v]), open_renamed(v, rename), v) for v in variants]
    problems: dict[str, str] = {}
    try:
        for case in cases:
            renamed = rename_case(case, rename)
            for shop_con, renamed_con, variant in pairs:
                try:
                    before = run_query(case.dialect, case.gold, shop_con, case.time_range())
                    after = run_query(case.dialect, renamed.gold, renamed_con, case.time_range())
                except Exception as exc:  # noqa: BLE001 - reported per case, the check goes on
                    problems[case.id] = f"{variant}: {type(exc).__name__}: {exc}"
                    break
                ok, why = compare(rename_result(before, rename), after)
                if not ok:
                    problems[case.id] = f"{variant}: {why}"
                    break
            if progress:
                progress(case)
    finally:
        for shop_con, renamed_con, _ in pairs:
            shop_con.close()
            renamed_con.close()
    return problems


RENAMED_CASES_DIR = RENAMED_DIR / "cases"


def write_renamed_cases(folder: Path = RENAMED_CASES_DIR, rename: RenameMap | None = None) -> list[Path]:
    """The renamed benchmark as JSONL, one file per dialect (for `nlq tune --held-back`:
    no training pair may repeat a renamed question or gold either).  Excluded cases stay out."""
    from nlq.evaluation.cases import CASE_FILES, load_cases

    excluded = excluded_cases()
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for dialect, name in CASE_FILES.items():
        cases = [rename_case(c, rename) for c in load_cases(dialect=dialect) if c.id not in excluded]
        path = folder / name
        path.write_text("".join(json.dumps(c.to_dict()) + "\n" for c in cases))
        paths.append(path)
    return paths
