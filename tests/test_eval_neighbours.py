"""The neighbour check's equivalent-mutant rules: set apart only what means the same on any data."""

from __future__ import annotations

import pytest

from nlq.evaluation import load_cases
from nlq.evaluation.neighbours import (
    Mutant,
    NeighbourReport,
    diff_path,
    equivalence,
    mutations,
)
from nlq.evaluation.report import render_markdown

HQ = 'histogram_quantile(0.99, {agg} by ({by}) ({fn}(http_request_duration_seconds_bucket{{service="checkout"}}[10m])))'


def hq(agg="sum", by="le", fn="rate"):
    return HQ.format(agg=agg, by=by, fn=fn)


@pytest.mark.parametrize(
    ("gold", "mutant"),
    [
        (hq(), hq(fn="increase")),  # increase = rate x range: one factor for every bucket
        (hq(by="le, route"), hq(agg="avg", by="le, route")),  # avg = sum / n, n the same per bucket
        ('count(sum by (pod) (count_over_time({level="error"}[1h])))',
         'count(sum by (pod) (rate({level="error"}[1h])))'),
        ('count(sum by (pod) (count_over_time({level="error"}[1h])))',
         'count(avg by (pod) (count_over_time({level="error"}[1h])))'),
    ],
)
def test_equivalent_on_any_data(gold, mutant):
    dialect = "logql" if "{level" in gold else "promql"
    assert equivalence(dialect, gold, mutant)


@pytest.mark.parametrize(
    ("dialect", "gold", "mutant"),
    [
        ("promql", hq(), hq().replace("[10m]", "[5m]")),  # another window: another answer
        ("promql", hq(by="route"), hq(agg="avg", by="route")),  # no `le`: not a histogram's buckets
        ("promql", hq(), hq().replace("sum by", "sum without")),
        ("promql", "count(sum by (pod) (rate(x[5m])) > 1)", "count(sum by (pod) (increase(x[5m])) > 1)"),
        ("promql", "count(topk(3, sum by (pod) (rate(x[5m]))))", "count(topk(3, avg by (pod) (rate(x[5m]))))"),
        ("promql", "sum(rate(x[5m]))", "sum(increase(x[5m]))"),
        ("promql", 'count(count by (pod) (c{container="a"}))', 'count(count by (pod) (c{container="b"}))'),
        # one series per pod on the snapshots, but not by any rule: stays a near miss
        ("logql", 'avg by (pod) (count_over_time({service="payments"}[6h]))',
         'sum by (pod) (count_over_time({service="payments"}[6h]))'),
        ("datadog-metrics", "avg:system.cpu.system{host:a}", "sum:system.cpu.system{host:a}"),
        # two differences at once: no rule applies
        ("promql", hq(), hq(agg="avg", fn="increase")),
    ],
)
def test_near_misses_stay_near_misses(dialect, gold, mutant):
    assert equivalence(dialect, gold, mutant) == ""


def test_diff_path_ends_at_the_one_differing_node():
    from nlq import dialects

    spec = dialects.get("promql")
    path = diff_path(spec.parse(hq()), spec.parse(hq(fn="increase")))
    assert [type(n).__name__ for n, _ in path][0] == "Call" and path[-1][0].func == "rate"
    assert path[-1][1].func == "increase"
    assert diff_path(spec.parse(hq()), spec.parse(hq())) is None


def test_a_datadog_rollup_mutant_is_coarser_than_the_step():
    """rollup(sum, 60) -> 120 changes nothing at a 6-minute step (the step wins): a real near miss
    needs a coarser rollup."""
    case = next(c for c in load_cases(dialect="datadog-metrics") if ".rollup(sum, 60)" in c.gold
                and c.range == "6h")
    from nlq.evaluation.scoring import Scorer

    window = dict(mutations(case, Scorer().catalog(case.dialect)))["window"]
    assert ".rollup(sum, 720)" in window


def test_report_counts_equivalent_mutants_apart():
    report = NeighbourReport([
        Mutant("a", "sum<->avg", "q1", caught=True),
        Mutant("a", "window", "q2", caught=False, reason="same answer"),
        Mutant("b", "sum<->avg", "q3", caught=False, equivalent="histogram_quantile is unchanged"),
        Mutant("b", "window", "q4", caught=True),
    ])
    assert report.caught_share() == 2 / 3
    assert report.by_kind()["sum<->avg"] == (1, 1, 1)
    text = render_markdown([], {}, report)
    assert "| **all** | 3 | 2 | **66.7%** | 1 |" in text
    assert "Equivalent mutants" in text and "`q3`" in text
    assert "`b` sum<->avg" in text and "snapshots give them the gold's answer" in text
