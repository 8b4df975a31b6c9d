"""Eval cases that bring their own catalog: scored on a world synthesized from it.

Real DuckDB, real synthesis, the real CLI: examples/own-catalog is a render
farm's catalog (no name shared with the shop) and cases for every stratum.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner

from nlq.catalog import load_catalog
from nlq.cli import main
from nlq.errors import UsageError
from nlq.evaluation.cases import STRATA, load_cases
from nlq.evaluation.scoring import Scorer
from nlq.snapshot import open_snapshot
from nlq.snapshot.catalogs import catalog_path
from nlq.snapshot.store import table_checksums
from nlq.snapshot.worlds import catalog_world

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "own-catalog"
CASES = EXAMPLE / "cases.jsonl"


@pytest.fixture(autouse=True, scope="module")
def worlds_dir(tmp_path_factory):
    """Synthesized worlds go to a folder of this module's own (built once, shared by its tests)."""
    mp = pytest.MonkeyPatch()
    folder = tmp_path_factory.mktemp("worlds")
    mp.setenv("NLQ_WORLDS_DIR", str(folder))
    yield folder
    mp.undo()


@pytest.fixture(scope="module")
def scorer():
    s = Scorer()
    yield s
    s.close()


def _eval(args: list[str], out: Path) -> tuple[object, list[dict]]:
    result = CliRunner().invoke(main, ["eval", *args, "--out", str(out)])
    rows = []
    if (out / "results.jsonl").exists():
        rows = [json.loads(line) for line in (out / "results.jsonl").read_text().splitlines()]
    return result, rows


def test_the_example_is_a_system_of_its_own_with_every_stratum():
    mine = load_catalog(EXAMPLE / "catalog.yaml")
    shop = set(json.loads(catalog_path("promql").read_text())["metrics"])
    assert 5 <= len(mine.metrics) <= 8
    assert not set(mine.metrics) & shop
    cases = load_cases([CASES])
    assert {c.stratum for c in cases} == set(STRATA)
    assert all(c.catalog is not None for c in cases)
    for case in cases:  # every gold names only its own catalog's metrics
        named = {m for m in case.catalog.metrics if m in case.gold}
        assert named and not any(m in case.gold for m in shop), case.id


def test_every_example_gold_scores_right_on_its_synthesized_world(tmp_path):
    result, rows = _eval(["--cases", str(CASES), "--gold"], tmp_path)
    assert result.exit_code == 0, result.output
    assert len(rows) == len(load_cases([CASES]))
    for row in rows:
        assert row["correct"] and row["valid"] and row["scorable"], row
        assert row["world"].startswith("synth:")
        assert set(row["per_variant"]) == {"synth-1", "synth-2", "synth-3"}
    assert len({r["world"] for r in rows}) == 2  # the file's catalog and the inline one
    assert "execution accuracy 100.0%" in result.output
    assert "synthesized worlds" in (tmp_path / "report.md").read_text()


@pytest.mark.parametrize(
    ("case_id", "wrong"),
    [
        ("farm-rate-001", 'sum by (farm) (rate(render_jobs_completed_total{outcome="ok"}[5m]))'),
        ("farm-grouping-001", "sum by (queue) (render_queue_pending_jobs)"),
        ("farm-join-001", "render_node_gpu_memory_used_bytes / render_node_temperature_celsius"),
        ("farm-edge-001", "render_queue_pending_jobs - render_queue_pending_jobs offset 2h"),
        ("kiln-filter-001", 'kiln_temperature_celsius{kiln="k3"}'),
    ],
)
def test_a_broken_gold_scores_wrong(scorer, case_id, wrong):
    case = next(c for c in load_cases([CASES]) if c.id == case_id)
    score = scorer.score(case, wrong)
    assert score.valid, score.reason  # names from the case's catalog pass its checks...
    assert score.scorable and not score.equivalent  # ...and execution tells them apart
    assert score.reason.startswith("synth-")


def test_queries_are_checked_against_the_cases_catalog(scorer):
    case = next(c for c in load_cases([CASES]) if c.id == "farm-filter-001")
    shop_name = scorer.score(case, 'up{job="api"}')  # the shop's metric is unknown here
    assert shop_name.parsed and not shop_name.valid and not shop_name.equivalent


def test_a_gold_that_finds_nothing_is_not_scorable(tmp_path):
    folder = tmp_path / "team" / "evals"
    folder.mkdir(parents=True)
    shutil.copy(EXAMPLE / "catalog.yaml", tmp_path / "team" / "farm.yaml")
    base = {"dialect": "promql", "stratum": "filter", "tags": ["time:instant", "card:low", "ops:single"],
            "catalog": "../farm.yaml"}
    lines = [
        {**base, "id": "hot", "question": "nodes above 1000 degrees", "gold": "render_node_temperature_celsius > 1000"},
        {**base, "id": "fine", "question": "pending jobs", "gold": "render_queue_pending_jobs"},
    ]
    cases = folder / "cases.jsonl"
    cases.write_text("".join(json.dumps(x) + "\n" for x in lines))
    result, rows = _eval(["--cases", str(cases), "--gold"], tmp_path / "out")
    assert result.exit_code == 0, result.output
    by_id = {r["id"]: r for r in rows}
    assert not by_id["hot"]["scorable"] and not by_id["hot"]["correct"]
    assert "returns nothing" in by_id["hot"]["reason"]
    assert by_id["hot"]["exact"] and by_id["hot"]["valid"]  # still reported, never counted right
    assert by_id["fine"]["scorable"] and by_id["fine"]["correct"]
    assert "not scorable by execution: 1 case" in result.output
    assert "not scorable by execution" in (tmp_path / "out" / "report.md").read_text()


def test_worlds_are_cached_by_catalog_and_deterministic(worlds_dir, tmp_path, monkeypatch):
    cases = load_cases([CASES])
    farm = next(c for c in cases if c.id.startswith("farm")).catalog
    kiln = next(c for c in cases if c.id.startswith("kiln")).catalog
    first = catalog_world([farm])
    stamps = {n: p.stat().st_mtime_ns for n, p in first.items()}
    again = catalog_world([load_catalog(EXAMPLE / "catalog.yaml", "promql")])  # same catalog read anew
    assert again == first and {n: p.stat().st_mtime_ns for n, p in again.items()} == stamps
    assert all(p.parent.parent == worlds_dir for p in first.values())
    assert catalog_world([kiln])["synth-1"].parent != first["synth-1"].parent
    # a fresh cache folder builds the same tables: the world depends on the catalog alone
    monkeypatch.setenv("NLQ_WORLDS_DIR", str(tmp_path / "elsewhere"))
    fresh = catalog_world([farm])
    assert fresh["synth-1"] != first["synth-1"]
    for name in ("synth-1", "synth-2"):
        a, b = open_snapshot(first[name]), open_snapshot(fresh[name])
        assert table_checksums(a) == table_checksums(b)
        a.close()
        b.close()
    one, two = open_snapshot(first["synth-1"]), open_snapshot(first["synth-2"])
    assert table_checksums(one)["prom_samples"] != table_checksums(two)["prom_samples"]  # seeded variants
    one.close()
    two.close()


def _write_case(tmp_path: Path, **fields) -> Path:
    case = {"id": "x-1", "dialect": "promql", "stratum": "filter", "tags": ["time:instant", "card:low", "ops:single"],
            "question": "q", "gold": "kiln_temperature_celsius", **fields}
    path = tmp_path / "cases.jsonl"
    path.write_text(json.dumps(case) + "\n")
    return path


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"catalog": "missing.yaml"}, "catalog file not found"),
        ({"catalog": 5}, '"catalog" must be a file path or a catalog object'),
        ({"catalog": {}}, '"catalog" must be a file path or a catalog object'),
        ({"catalog": {"kiln_temperature_celsius": ["k1"]}}, "must map label names to value lists"),
        ({"catalog": {"kiln_temperature_celsius": {}}, "dialect": "logql"}, "needs log_labels"),
    ],
)
def test_a_bad_case_catalog_is_a_clear_error(tmp_path, fields, message):
    path = _write_case(tmp_path, **fields)
    with pytest.raises(UsageError, match=message) as info:
        load_cases([path])
    assert f"{path}:1" in str(info.value)
    result = CliRunner().invoke(main, ["eval", "--cases", str(path), "--gold", "--out", str(tmp_path / "o")])
    assert result.exit_code != 0 and message.split()[0] in result.output and "Traceback" not in result.output


def test_the_case_file_round_trips_its_catalog_reference():
    for case in load_cases([CASES]):
        again = case.to_dict()["catalog"]
        assert again == ("catalog.yaml" if case.id.startswith("farm") else case.catalog_ref)


def test_open_snapshot_takes_a_snapshot_file(tmp_path):
    case = next(c for c in load_cases([CASES]) if c.id.startswith("kiln"))
    path = catalog_world([case.catalog])["synth-1"]
    con = open_snapshot(str(path))
    assert {m for (m,) in con.execute("SELECT DISTINCT metric FROM prom_series").fetchall()} == set(case.catalog.metrics)
    con.close()
    with pytest.raises(UsageError, match="no snapshot file"):
        open_snapshot(tmp_path / "none.duckdb")
    other = tmp_path / "other.duckdb"
    duckdb.connect(str(other)).close()
    with pytest.raises(UsageError, match="not an nlq snapshot"):
        open_snapshot(other)
    with pytest.raises(UsageError, match="unknown snapshot"):
        open_snapshot("shop-z")


def test_a_large_catalog_gets_a_world_of_what_the_gold_names(monkeypatch, scorer):
    """Past MAX_WORLD_METRICS a world holds the gold's metrics (and histogram families) only,
    with the very data a world of the whole catalog has for them."""
    from nlq.snapshot import worlds

    farm = load_cases([CASES])[0].catalog
    monkeypatch.setattr(worlds, "MAX_WORLD_METRICS", 3)
    case = next(c for c in load_cases([CASES]) if c.id == "farm-rate-003")  # _sum / _count of one histogram
    sliced = worlds.world_catalog(case.catalog, case.gold)
    assert set(sliced.metrics) == {f"render_job_duration_seconds_{s}" for s in ("bucket", "sum", "count")}
    paths = catalog_world([sliced])
    full = catalog_world([farm])
    query = ("SELECT s.metric, s.labels_key, p.ts, p.value FROM prom_samples p JOIN prom_series s USING (series_id) "
             "WHERE s.metric = 'render_job_duration_seconds_count' ORDER BY ALL")
    for name in ("synth-1", "synth-3"):
        a, b = open_snapshot(paths[name]), open_snapshot(full[name])
        assert {m for (m,) in a.execute("SELECT DISTINCT metric FROM prom_series").fetchall()} == set(sliced.metrics)
        assert a.execute(query).fetchall() == b.execute(query).fetchall()
        a.close()
        b.close()
    right = scorer.score(case, case.gold)
    assert right.scorable and right.equivalent and right.world == "synth:" + worlds.catalogs_fingerprint([sliced])
    same = scorer.score(case, "sum(rate(render_job_duration_seconds_sum[10m])) / "
                              'sum(rate(render_job_duration_seconds_bucket{le="+Inf"}[10m]))')
    assert same.equivalent  # the histogram's own members agree, as in the whole world
    other = scorer.score(case, "sum(rate(render_jobs_completed_total[10m]))")
    assert other.valid and not other.equivalent
