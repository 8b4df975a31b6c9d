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
the rename is one-to-one: every gold, renamed, finds the renamed answer.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property, lru_cache
from pathlib import Path

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
        """Every new service and metric name (with the histogram series of renamed families)."""
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

    def rename_metric(self, name: str) -> str:
        """The new name of metric `name` (itself when the map does not rename it)."""
        return self.rename_text(name)

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
    return RenameMap(services, metrics, str(path))


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
                   dict(sorted(fields.items())), source=catalog.source)


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


def renamed_catalogs_from_shop(rename: RenameMap | None = None) -> dict[str, Catalog]:
    """The committed shop catalogs, renamed."""
    from nlq.catalog import load_catalog
    from nlq.snapshot.catalogs import catalog_path

    return {d: rename_catalog(load_catalog(catalog_path(d), d), rename)
            for d in ("promql", "logql", "datadog-metrics", "datadog-logs")}
