"""Gold answers on disk: computed once, reused by later runs until the engine or the data changes.

A gold answer depends on the gold query, the case's time range, the snapshot
file and the code that parses and runs queries.  The key hashes all of them:
the query text, dialect and range; the snapshot file's path, size and mtime;
and the text of every source file under nlq/engine, nlq/dialects,
nlq/results.py and grammars/.  Change any of these and the old entry is simply
never read again.  Entries live under `$NLQ_CACHE_DIR/eval-gold/`.

    >>> cache = GoldCache()                                      # doctest: +SKIP
    >>> cache.get(case, "shop-a") or cache.put(case, "shop-a", answer)   # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import os
import pickle
from functools import cache
from pathlib import Path

from nlq.evaluation.cases import Case
from nlq.results import Result

ROOT = Path(__file__).resolve().parents[2]
#: what a gold answer depends on besides the query and the data
SOURCES = ("nlq/engine", "nlq/dialects", "nlq/results.py", "nlq/evaluation/cases.py", "grammars")


@cache
def code_fingerprint() -> str:
    """A hash of every source file that parses or runs a query."""
    digest = hashlib.sha256()
    for source in SOURCES:
        path = ROOT / source
        files = sorted(p for p in path.rglob("*") if p.suffix in (".py", ".lark")) if path.is_dir() else [path]
        for file in files:
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:20]


def snapshot_fingerprint(variant: str) -> str | None:
    """Path, size and mtime of a shop or renamed variant's DuckDB file (None for any other).

    A renamed variant's (`renamed-a`, nlq.snapshot.renamed) starts with its world,
    `renamed|`, so shop and renamed answers never share a key; a shop variant's
    key is as it always was, so caches made before the renamed world stay valid.
    """
    from nlq.snapshot import snapshot_path
    from nlq.snapshot.renamed import is_renamed_variant, renamed_path
    from nlq.snapshot.store import is_snapshot_file

    if is_snapshot_file(variant):
        return None
    world, path = ("renamed|", renamed_path(variant)) if is_renamed_variant(variant) else ("", snapshot_path(variant))
    try:
        stat = path.stat()
    except OSError:
        return None
    return f"{world}{path}|{stat.st_size}|{stat.st_mtime_ns}"


class GoldCache:
    """Pickled gold `Result`s, one file per (gold, range, variant, snapshot, code)."""

    def __init__(self, directory: Path | None = None):
        if directory is None:
            from nlq.cache import cache_root

            directory = cache_root() / "eval-gold"
        self.directory = Path(directory)
        self.hits = 0
        self.stored = 0

    def _path(self, case: Case, variant: str) -> Path | None:
        snapshot = snapshot_fingerprint(variant)
        if snapshot is None:
            return None
        span = case.time_range()
        blob = "\n".join([code_fingerprint(), snapshot, case.dialect, case.gold,
                          f"{span.start_ms}|{span.end_ms}|{span.step_ms}"])
        key = hashlib.sha256(blob.encode()).hexdigest()[:32]
        return self.directory / key[:2] / f"{key}.pickle"

    def get(self, case: Case, variant: str) -> Result | None:
        path = self._path(case, variant)
        if path is None or not path.is_file():
            return None
        try:
            answer = pickle.loads(path.read_bytes())
        except Exception:  # noqa: BLE001 - an unreadable entry is recomputed, never trusted
            return None
        if not isinstance(answer, Result):
            return None
        self.hits += 1
        return answer

    def put(self, case: Case, variant: str, answer: Result) -> None:
        path = self._path(case, variant)
        if path is None:
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            tmp.write_bytes(pickle.dumps(answer, protocol=pickle.HIGHEST_PROTOCOL))
            os.replace(tmp, path)
            self.stored += 1
        except OSError:
            pass  # a read-only cache only costs time
