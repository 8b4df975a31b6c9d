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
      nlq snapshot rename --check   # the renamed world (transfer test): build and check it
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


@command.command("rename")
@click.option("--write", is_flag=True,
              help="Write snapshots/renamed/catalog/*.json (derived from renamed-a/b/c) and "
                   "snapshots/renamed/cases/*.jsonl (the renamed benchmark).")
@click.option("--check", is_flag=True,
              help="Exit 1 unless the rename is one-to-one (no new name in the shop's data, no old name left "
                   "in the renamed data) and the committed catalogs and cases are up to date.")
@click.option("--golds", is_flag=True,
              help="Also run every gold in both worlds and list the cases whose renamed gold does not find "
                   "the shop gold's answer renamed (about a minute per variant).")
@click.option("--variant", "variants", multiple=True, type=click.Choice(["renamed-a", "renamed-b", "renamed-c"]),
              help="Only this renamed variant for --golds. Repeatable; default all three.")
def rename_command(write: bool, check: bool, golds: bool, variants: tuple[str, ...]) -> None:
    """Build the renamed world: the shop with every service and application metric renamed.

    The map is snapshots/renamed/rename.yaml.  renamed-a/b/c are copies of
    shop-a/b/c with the map applied to every string (label and tag values,
    log lines, attributes), built once into the snapshot cache.  Its catalogs
    (snapshots/renamed/catalog/) are what `nlq tune --catalog` takes for the
    transfer test, and `nlq eval --world renamed` scores the renamed benchmark
    on it.

    \b
    Examples:
      nlq snapshot rename                 # build renamed-a/b/c, show where they are
      nlq snapshot rename --check         # one-to-one? committed catalogs and cases up to date?
      nlq snapshot rename --check --golds --variant renamed-a
      nlq snapshot rename --write         # after editing rename.yaml
    """
    from nlq.snapshot.catalogs import derive_catalogs
    from nlq.snapshot.renamed import (
        RENAMED_CASES_DIR,
        collisions,
        default_map,
        excluded_cases,
        find_names,
        open_renamed,
        renamed_catalog_path,
        renamed_names,
        renamed_path,
        write_renamed_cases,
        write_renamed_catalogs,
    )

    rename = default_map()
    click.echo(f"map: {rename.source} ({len(rename.services)} services, {len(rename.metrics)} metrics, "
               f"fingerprint {rename.fingerprint})")
    problems = []
    for name in renamed_names():
        started = time.perf_counter()
        con = open_renamed(name)
        leftover = find_names(con, rename.old_names()) if check else {}
        con.close()
        path = renamed_path(name)
        click.echo(f"{name}: {path} ({path.stat().st_size / 1e6:.1f} MB, {time.perf_counter() - started:.1f} s)")
        problems += [f"old name {old!r} left in {name} {where}" for old, where in leftover.items()]
    catalogs = derive_catalogs([str(renamed_path(n)) for n in renamed_names()])
    if write:
        for path in write_renamed_catalogs(catalogs) + write_renamed_cases():
            click.echo(f"wrote {path}")
    if check:
        problems += [f"new name {new!r} already in the shop's data: {where}" for new, where in collisions().items()]
        for dialect, catalog in catalogs.items():
            path = renamed_catalog_path(dialect)
            if not path.exists() or json.loads(path.read_text()) != catalog.to_dict():
                problems.append(f"{path} differs from the renamed data (run: nlq snapshot rename --write)")
        import tempfile
        from pathlib import Path

        with tempfile.TemporaryDirectory() as tmp:
            for fresh in write_renamed_cases(Path(tmp)):
                committed = RENAMED_CASES_DIR / fresh.name
                if not committed.exists() or committed.read_text() != fresh.read_text():
                    problems.append(f"{committed} is out of date (run: nlq snapshot rename --write)")
    if golds:
        from nlq.evaluation import load_cases
        from nlq.snapshot.renamed import expected_difference, gold_disagreements

        excluded = excluded_cases()
        cases = [c for c in load_cases() if c.id not in excluded]
        started = time.perf_counter()
        with click.progressbar(length=len(cases), label="golds", file=click.get_text_stream("stderr")) as bar:
            differ = gold_disagreements(cases, rename, list(variants) or None, progress=lambda _c: bar.update(1))
        by_id = {c.id: c for c in cases}
        expected = {i: expected_difference(by_id[i]) for i in differ if expected_difference(by_id[i])}
        click.echo(f"golds: {len(cases) - len(differ)} of {len(cases)} find the shop's answer renamed, "
                   f"{len(expected)} differ as expected ({len(excluded)} excluded in rename.yaml; "
                   f"{time.perf_counter() - started:.0f} s)")
        for case_id, why in differ.items():
            click.echo(f"  {case_id}: {why}" + (f" ({expected[case_id]})" if case_id in expected else ""))
        problems += [f"{i}: the renamed gold does not find the shop's answer renamed"
                     for i in differ if i not in expected]
    if problems:
        raise click.ClickException("the renamed world is not right:\n  " + "\n  ".join(problems))
    if check:
        click.echo("ok: one-to-one, catalogs and cases up to date")


def _register_synth() -> None:
    """`nlq snapshot synth`: the same command as `nlq catalog synth`, where people look for it
    (the issue and docs speak of synthesizing a snapshot world)."""
    from nlq.commands.catalog import synth_command

    command.add_command(synth_command, "synth")


_register_synth()
