"""The scorer and the neighbour check behind `nlq eval`, on a few real cases."""

from __future__ import annotations

import pytest

from nlq.evaluation import load_cases
from nlq.evaluation.neighbours import mutations, neighbour_check
from nlq.evaluation.report import Row, percentile, render_markdown, summarise
from nlq.evaluation.scoring import Scorer


def _case(case_id):
    return next(c for c in load_cases() if c.id == case_id)


@pytest.fixture(scope="module")
def scorer():
    s = Scorer(("shop-a",))
    yield s
    s.close()


@pytest.mark.slow
def test_gold_scores_as_exact_and_equivalent(scorer):
    case = _case("datadog-metrics-grouping-004")
    score = scorer.score(case, case.gold)
    assert score.parsed and score.valid and score.exact and score.equivalent


@pytest.mark.slow
def test_rewrite_is_equivalent_but_not_exact(scorer):
    case = _case(
        "datadog-metrics-grouping-004"
    )  # max:kubernetes.memory.usage{kube_deployment:cart} by {pod_name}
    rewrite = case.gold.replace("{kube_deployment:cart}", "{kube_deployment:cart,env:prod}")
    score = scorer.score(case, rewrite)
    assert score.parsed and not score.exact and score.equivalent, score.reason


@pytest.mark.slow
def test_wrong_query_is_caught_with_a_reason(scorer):
    case = _case("datadog-logs-filter-003")  # service:frontend @http.status_code:>=500
    score = scorer.score(case, "service:frontend @http.status_code:>=400")
    assert score.parsed and not score.equivalent and score.reason


def test_unparsable_and_missing_predictions(scorer):
    case = _case("datadog-logs-filter-003")
    assert not scorer.score(case, None).parsed
    bad = scorer.score(case, "service:(frontend")
    assert not bad.parsed and bad.reason.startswith("parse error")


def test_mutations_cover_the_kinds(scorer):
    case = _case(
        "logql-grouping-005"
    )  # sum by (level) (count_over_time({namespace="shop"}[5m]))
    kinds = dict(mutations(case, scorer.catalog(case.dialect)))
    assert kinds["sum<->avg"].startswith("avg by (level)")
    assert "without (level)" in kinds["by<->without"]
    assert "[10m]" in kinds["window"]
    assert "rate(" in kinds["rate<->increase"]


@pytest.mark.slow
def test_neighbour_check_catches_near_misses(scorer):
    report = neighbour_check([_case("logql-grouping-005")], scorer)
    assert report.mutants and report.caught_share() == 1.0


def test_report_renders():
    case = _case("promql-filter-001")
    from nlq.evaluation.scoring import Score

    rows = [
        Row(case, Score(case.id, case.gold, True, True, True, True), latency_s=0.2),
        Row(case, Score(case.id, "up", True, True, False, False, "differs"), latency_s=0.4),
    ]
    summary = summarise(rows)
    assert summary["execution_accuracy"] == 0.5 and summary["latency_p95_s"] == 0.4
    assert percentile([1, 2, 3, 4], 50) == 2
    text = render_markdown(rows, {"model": "test"})
    assert "| filter | 2 |" in text and "## Misses" in text
