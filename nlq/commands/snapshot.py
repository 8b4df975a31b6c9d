"""`nlq snapshot`: build, list and check the telemetry snapshots."""

from __future__ import annotations

import json
import time

import click

from nlq.errors import UsageError


@click.group("snapshot")
def command() -> None:
    """Deterministic telemetry snapshots of a fictional shop (one DuckDB file per variant).

    \b
    Examples:
      nlq snapshot list
      nlq snapshot build            # every variant into .cache/snapshots/
      nlq snapshot checksum --check # prove the build bit-identical to snapshots/checksums.json
      nlq snapshot catalog --check  # snapshots/catalog/*.json equal what the data holds
      nlq snapshot synth --catalog mine.yaml   # a world for your own catalog (= nlq catalog synth)
    """


def _names(names: tuple[str, ...]) -> list[str]:
    from nlq.snapshot import snapshot_names

    known = snapshot_names()
    for name in names:
        if name not in known:
            raise UsageError(f"unknown snapshot {name!r}: choose one of {', '.join(known)}")
    return list(names) or known


@command.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")
def list_command(as_json: bool) -> None:
    """List the variants, their seeds, incidents and whether they are built."""
    from nlq.snapshot import snapshot_path
    from nlq.snapshot.world import load_world

    world = load_world()
    rows = []
    for name in world.variants:
        variant = world.variant(name)
        rows.append({"name": name, "seed": variant.seed, "built": snapshot_path(name).exists(),
                     "path": str(snapshot_path(name)), "incidents": vars(variant.incidents)})
    if as_json:
        click.echo(json.dumps(rows, indent=1))
        return
    for row in rows:
        state = "built" if row["built"] else "not built"
        click.echo(f"{row['name']}  seed={row['seed']}  {state}  {row['path']}")


@command.command("build")
@click.argument("names", nargs=-1)
@click.option("--force", is_flag=True, help="Rebuild even when the cached file exists.")
def build_command(names: tuple[str, ...], force: bool) -> None:
    """Generate variants NAMES (default: all) into the cache."""
    from nlq.snapshot import build_snapshot, open_snapshot, snapshot_path

    for name in _names(names):
        started = time.perf_counter()
        if force or not snapshot_path(name).exists():
            build_snapshot(name)
        open_snapshot(name).close()
        size = snapshot_path(name).stat().st_size / 1e6
        click.echo(f"{name}: {snapshot_path(name)} ({size:.1f} MB, {time.perf_counter() - started:.1f} s)")


@command.command("checksum")
@click.argument("names", nargs=-1)
@click.option("--check", is_flag=True, help="Compare with snapshots/checksums.json; exit 1 on a difference.")
@click.option("--write", is_flag=True, help="Write snapshots/checksums.json.")
def checksum_command(names: tuple[str, ...], check: bool, write: bool) -> None:
    """Checksums of every table of variants NAMES (an ordered export hashed)."""
    from nlq.snapshot import open_snapshot, table_checksums
    from nlq.snapshot.store import CHECKSUM_FILE, load_checksums

    committed = load_checksums()
    current = {}
    bad = []
    for name in _names(names):
        con = open_snapshot(name)
        current[name] = table_checksums(con)
        con.close()
        if check and committed.get(name) != current[name]:
            bad.append(name)
    if write:
        CHECKSUM_FILE.write_text(json.dumps({**committed, **current}, indent=1, sort_keys=True) + "\n")
    click.echo(json.dumps(current, indent=1, sort_keys=True))
    if bad:
        raise click.ClickException(f"checksums differ from {CHECKSUM_FILE.name} for: {', '.join(bad)}")


@command.command("catalog")
@click.option("--check", is_flag=True, help="Exit 1 when snapshots/catalog/*.json differ from the data.")
def catalog_command(check: bool) -> None:
    """Write (or --check) snapshots/catalog/<dialect>.json, derived from every variant."""
    from nlq.snapshot.catalogs import catalog_path, derive_catalogs

    stale = []
    for dialect, catalog in derive_catalogs().items():
        path = catalog_path(dialect)
        if check:
            on_disk = json.loads(path.read_text()) if path.exists() else None
            if on_disk != catalog.to_dict():
                stale.append(dialect)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog.save(path)
        click.echo(f"{dialect}: {path} ({len(catalog.metrics)} metrics, {len(catalog.log_fields)} log fields)")
    if stale:
        raise click.ClickException(f"catalogs out of date: {', '.join(stale)} (run: nlq snapshot catalog)")


def _register_synth() -> None:
    """`nlq snapshot synth`: the same command as `nlq catalog synth`, where people look for it
    (the issue and docs speak of synthesizing a snapshot world)."""
    from nlq.commands.catalog import synth_command

    command.add_command(synth_command, "synth")


_register_synth()
