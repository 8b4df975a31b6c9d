"""Synthesized worlds for catalogs, built once and cached by what makes them.

An eval case that brings its own catalog is scored on a world synthesized
from that catalog (`nlq.snapshot.synth`): several seeded variants, each a
DuckDB file in the shop snapshots' layout.  Building one takes seconds, so the
files are kept under the nlq cache folder (`$NLQ_CACHE_DIR/worlds/`, see
`nlq.cache.cache_root`) in a folder named by the catalogs'
fingerprint, the generator version and the spec.  Same catalog, same files:
a changed catalog or generator gets a new folder and never a stale world.

    >>> paths = catalog_world([catalog])          # doctest: +SKIP
    >>> con = open_snapshot(paths[0])             # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import replace
from pathlib import Path

from nlq.catalog import Catalog
from nlq.snapshot.store import build_once
from nlq.snapshot.synth import GENERATOR, SynthSpec, catalogs_fingerprint, synth_snapshot

#: seeded variants per world, as many as the shop has
DEFAULT_VARIANTS = 3
#: variant i of a world has seed BASE_SEED * 1000 + i (as `nlq catalog synth --seed 1`)
BASE_SEED = 1
#: a world holds every metric of a catalog up to this size; past it, only what a gold names
#: (10,000 metrics x 12 series x 1,440 steps would be 170 million samples per variant)
MAX_WORLD_METRICS = 200
_NAME = re.compile(r"[A-Za-z0-9_.:]+")
_FAMILY_SUFFIXES = ("_bucket", "_sum", "_count")


def worlds_dir() -> Path:
    """Where synthesized worlds are cached: `$NLQ_WORLDS_DIR`, else `<nlq cache>/worlds`."""
    override = os.environ.get("NLQ_WORLDS_DIR")
    if override:
        return Path(override).expanduser()
    # lazily: nlq.models.embedded imports the model stack, which a scorer may not need
    from nlq.cache import cache_root

    return cache_root() / "worlds"


def world_key(catalogs: list[Catalog], spec: SynthSpec) -> str:
    """The cache key: catalog fingerprint + generator version + spec."""
    spec_text = f"{spec.end_ms}|{spec.hours}|{spec.step_ms}|{spec.max_series}|{BASE_SEED}"
    spec_hash = hashlib.sha256(spec_text.encode()).hexdigest()[:8]
    return f"{catalogs_fingerprint(catalogs)}-{GENERATOR}-{spec_hash}"


def variant_names(variants: int = DEFAULT_VARIANTS) -> list[str]:
    return [f"synth-{i}" for i in range(1, variants + 1)]


def catalog_world(catalogs: list[Catalog], variants: int = DEFAULT_VARIANTS,
                  spec: SynthSpec | None = None) -> dict[str, Path]:
    """{variant name: DuckDB path} of the world for `catalogs`, synthesized on first use."""
    spec = spec or SynthSpec.default()
    folder = worlds_dir() / world_key(catalogs, spec)
    out = {}
    for i, name in enumerate(variant_names(variants), 1):
        path = folder / f"{name}.duckdb"
        if not path.exists():
            build_once(path, lambda p=path, n=name, s=BASE_SEED * 1000 + i: synth_snapshot(catalogs, p, s, n, spec),
                       path.exists)
        out[name] = path
    return out


def world_catalog(catalog: Catalog, gold: str) -> Catalog:
    """The part of `catalog` a world for `gold` needs: all of it when it is small enough,
    else the metrics `gold` names with their histogram or summary families.

    Leaving metrics out changes no answer over the metrics kept: each series' data
    depends only on its metric, labels and seed (`nlq.snapshot.synth`).  A prediction
    naming a metric outside the slice reads no data, so it cannot match a gold that
    finds some (a metric the gold does not name is a wrong answer anyway, except for
    a histogram's own members, which are kept).
    """
    if len(catalog.metrics) <= MAX_WORLD_METRICS:
        return catalog
    named = set(_NAME.findall(gold)) & set(catalog.metrics)
    bases = {n[: -len(s)] for n in named for s in _FAMILY_SUFFIXES if n.endswith(s)} | named
    keep = {n for n in catalog.metrics if n in named or n in bases
            or any(n == b + s for b in bases for s in _FAMILY_SUFFIXES)
            or (catalog.metrics[n].family or "") in bases}
    return replace(catalog, metrics={n: m for n, m in catalog.metrics.items() if n in keep})
