"""Snapshots: deterministic telemetry of a fictional shop, one DuckDB file per variant.

    >>> from nlq.snapshot import open_snapshot
    >>> con = open_snapshot("shop-a")          # generated into .cache/snapshots/ on first use
    >>> con.execute("SELECT count(*) FROM prom_series").fetchone()

The world (services, pods, incidents) is defined in snapshots/world.yaml; the
table layout is described in `nlq.snapshot.store`.
"""

from nlq.snapshot.store import (
    build_snapshot,
    cache_dir,
    open_snapshot,
    snapshot_names,
    snapshot_path,
    table_checksums,
)

__all__ = ["build_snapshot", "cache_dir", "open_snapshot", "snapshot_names", "snapshot_path", "table_checksums"]
