"""Synthetic worlds from a catalog: deterministic, complete, shaped by type, queryable."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner

from nlq.catalog import Catalog, load_catalog
from nlq.cli import main
from nlq.engine import run_query
from nlq.results import TimeRange
from nlq.snapshot.catalogs import catalog_path
from nlq.snapshot.store import table_checksums
from nlq.snapshot.synth import SynthSpec, label_sets, open_synth, synth_snapshot, synth_world

MINE = {
    "checkout_orders_total": {"region": ["eu", "us"], "payment": ["card", "paypal", "invoice"]},
    "queue_depth": {"queue": ["emails", "invoices"]},
    "job_duration_seconds_bucket": {"job": ["nightly", "hourly"], "le": ["1", "10", "60", "+Inf"]},
    "job_duration_seconds_sum": {"job": ["nightly", "hourly"]},
    "job_duration_seconds_count": {"job": ["nightly", "hourly"]},
    "cache_hit_ratio": {"cache": ["sessions"]},
}
SPEC = SynthSpec.default(hours=1)


@pytest.fixture(scope="module")
def mine() -> Catalog:
    return Catalog.from_dict(MINE, source="mine")


@pytest.fixture(scope="module")
def world(mine, tmp_path_factory):
    return synth_world([mine], tmp_path_factory.mktemp("synth"), variants=2, spec=SPEC)


def test_same_catalog_and_seed_give_the_same_tables(mine, tmp_path):
    a = synth_snapshot([mine], tmp_path / "a.duckdb", 7, "x", SPEC)
    b = synth_snapshot([mine], tmp_path / "b.duckdb", 7, "x", SPEC)
    c = synth_snapshot([mine], tmp_path / "c.duckdb", 8, "x", SPEC)
    sums = [table_checksums(open_synth(p)) for p in (a, b, c)]
    assert sums[0] == sums[1]
    assert sums[0]["prom_samples"] != sums[2]["prom_samples"]  # another seed moves the values
    assert sums[0]["prom_series"] == sums[2]["prom_series"]  # but not the series


def test_every_metric_and_value_is_present(world, mine):
    con = open_synth(world[0])
    names = {m for (m,) in con.execute("SELECT DISTINCT metric FROM prom_series").fetchall()}
    assert names == set(mine.metrics)
    for name, metric in mine.metrics.items():
        seen: dict[str, set[str]] = {}
        for (labels,) in con.execute("SELECT labels FROM prom_series WHERE metric = ?", [name]).fetchall():
            for k, v in labels.items():
                seen.setdefault(k, set()).add(v)
        for label, values in metric.labels.items():
            assert set(values) <= seen[label], (name, label)


def test_counters_rise_and_may_reset_histograms_are_consistent(world):
    con = open_synth(world[0])
    rows = con.execute("""SELECT s.metric, s.labels_key, list(p.value ORDER BY p.ts) FROM prom_samples p
                          JOIN prom_series s USING (series_id) GROUP BY ALL""").fetchall()
    series = {(m, k): np.array(v) for m, k, v in rows}
    for (metric, _key), values in series.items():
        if metric == "checkout_orders_total":
            drops = np.flatnonzero(np.diff(values) < 0)
            assert len(drops) <= 1  # rises, except one reset
            if len(drops):
                assert values[drops[0] + 1] < values[drops[0]] / 2  # a reset drops towards zero
        if metric == "cache_hit_ratio":
            assert values.min() >= 0 and values.max() <= 1
    for job in ("hourly", "nightly"):
        buckets = sorted(((float(k.split('le="')[1].split('"')[0]), v) for (m, k), v in series.items()
                          if m == "job_duration_seconds_bucket" and f'job="{job}"' in k), key=lambda b: b[0])
        stacked = np.array([v for _le, v in buckets])
        assert (np.diff(stacked, axis=0) >= 0).all()  # cumulative in le
        assert (np.diff(stacked, axis=1) >= 0).all()  # counters in time
        count = series[("job_duration_seconds_count", f'{{job="{job}"}}')]
        assert np.array_equal(stacked[-1], count)  # +Inf == _count


def test_queries_over_a_synth_world_return_data(world):
    con = open_synth(world[1])
    end = int(con.execute("SELECT value FROM meta WHERE key = 'end_ms'").fetchone()[0])
    at = TimeRange.instant(end)
    rate = run_query("promql", "sum by (payment) (rate(checkout_orders_total[5m]))", con, at)
    assert sorted(s.labels["payment"] for s in rate.series) == ["card", "invoice", "paypal"]
    q = run_query("promql", "histogram_quantile(0.9, sum by (le, job) (rate(job_duration_seconds_bucket[10m])))",
                  con, at)
    assert len(q.series) == 2
    assert all(0 < s.samples[0][1] <= 60 for s in q.series)


def test_shop_catalogs_synthesise_every_dialect(tmp_path):
    catalogs = [load_catalog(catalog_path(d), d) for d in ("promql", "logql", "datadog-metrics", "datadog-logs")]
    path = synth_snapshot(catalogs, tmp_path / "shop.duckdb", 1, "shop-synth", SynthSpec.default(hours=0.5))
    con = open_synth(path)
    end = int(con.execute("SELECT value FROM meta WHERE key = 'end_ms'").fetchone()[0])
    dd_names = {m for (m,) in con.execute("SELECT DISTINCT metric FROM dd_series").fetchall()}
    assert dd_names == set(catalogs[2].metrics)
    window = TimeRange.range(end - 1_800_000, end, 300_000)
    logs = run_query("logql", 'sum by (level) (count_over_time({service="cart"} | logfmt [30m]))', con,
                     TimeRange.instant(end))
    assert logs.series
    dd = run_query("datadog-metrics", "avg:kafka.consumer.lag{*} by {topic}", con, TimeRange.instant(end))
    assert {s.labels["topic"] for s in dd.series} == {"orders", "payments-events"}
    search = run_query("datadog-logs", "service:cart", con, window)
    assert search.series or getattr(search, "rows", None)


def test_label_sets_cover_values_without_crossing():
    sets = label_sets({"a": ["1", "2", "3"], "b": ["x"]}, 10, "m")
    assert {s["a"] for s in sets} == {"1", "2", "3"} and {s["b"] for s in sets} == {"x"}
    assert len(sets) == 3
    assert len(label_sets({"a": [str(i) for i in range(100)]}, 10, "m")) == 10


@pytest.mark.parametrize("group", ["catalog", "snapshot"])
def test_cli_synth(tmp_path, group):
    path = tmp_path / "mine.yaml"
    path.write_text("orders_total:\n  region: [eu, us]\n")
    result = CliRunner().invoke(main, [group, "synth", "--catalog", str(path), "--out", str(tmp_path / "w"),
                                       "--variants", "2", "--hours", "0.5"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "w").iterdir()) == ["synth-1.duckdb", "synth-2.duckdb"]
    bad = CliRunner().invoke(main, [group, "synth", "--catalog", str(tmp_path / "none.yaml")])
    assert bad.exit_code == 2 and "not found" in bad.output


def test_eval_scoring_over_a_synth_world_separates_right_from_wrong(world, mine, tmp_path):
    """Execution-equivalence on a team's own catalog: the scorer reads synth variants.

    `nlq eval` takes only the shop's variant names today, so the Scorer gets the
    synth connections directly (its `connections` is a cached property).
    """
    from nlq.evaluation.cases import Case
    from nlq.evaluation.scoring import Scorer

    catalog_dir = tmp_path / "catalogs"
    catalog_dir.mkdir()
    mine.save(catalog_dir / "promql.json")
    scorer = Scorer(["synth-1", "synth-2"], catalog_dir=catalog_dir)
    scorer.__dict__["connections"] = {"synth-1": open_synth(world[0]), "synth-2": open_synth(world[1])}
    case = Case("mine-1", "promql", "simple", [], "orders per second by payment",
                "sum by (payment) (rate(checkout_orders_total[5m]))", range="30m")
    same = scorer.score(case, "sum(rate(checkout_orders_total[5m])) by (payment)")
    wrong = scorer.score(case, "sum by (region) (rate(checkout_orders_total[5m]))")
    unknown = scorer.score(case, "sum(rate(http_requests_total[5m]))")
    scorer.close()
    assert same.equivalent and same.valid
    assert not wrong.equivalent and wrong.valid
    assert not unknown.valid and not unknown.equivalent
