"""Execution-guided choice on the real snapshot (shop-a) with the real engines: voting, drops, budgets, skips."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from nlq.catalog import load_catalog
from nlq.choice import choose, default_time_range, expects_answer, run_bounded, snapshot_for, vote
from nlq.cli import main
from nlq.errors import UsageError
from nlq.models.base import Completion, Generation
from nlq.translate import SNAPSHOT_DIR, default_catalog, translate

CHECKOUT = 'sum(rate(http_requests_total{service="checkout"}[5m]))'
CHECKOUT_BY_SERVICE = 'sum by (service) (rate(http_requests_total{service="checkout"}[5m]))'
CHECKOUT_1M = 'sum(rate(http_requests_total{service="checkout"}[1m]))'
NOTHING = 'sum(rate(http_requests_total{service="checkout"}[5m])) > 1e12'
SLOW = "count_over_time(http_requests_total[1h:1s])"


@pytest.fixture(scope="module")
def catalog():
    return default_catalog("promql")


class SampledModel:
    """A backend answering from given texts (greedy first, then the sampled batch), recording calls."""

    name = "given-candidates"
    tokenizer = None

    def __init__(self, greedy: str, samples: list[str]):
        self.greedy, self.samples = greedy, samples
        self.calls: list[dict] = []

    def count_tokens(self, messages):
        return 0

    def generate(self, prompts, grammar, max_tokens=128, temperature=0.0, n=1, seed=None):
        self.calls.append({"n": n, "temperature": temperature, "messages": prompts[0]})
        texts = [self.greedy] if n == 1 and temperature == 0 else self.samples[:n]
        return [Generation([Completion(t, tokens=len(t) // 3) for t in texts], prompt_tokens=50)]


# ---------------------------------------------------------------- voting
def test_majority_of_equal_answers_beats_the_greedy_query(catalog):
    # [300s] is [5m] written otherwise: same canonical query, run once, votes with the others
    queries = [CHECKOUT_BY_SERVICE, CHECKOUT, CHECKOUT.replace("[5m]", "[300s]"), CHECKOUT_1M]
    choice = choose("request rate of checkout", "promql", queries, catalog, greedy=0)
    assert choice.snapshot == "shop-a" and choice.skipped is None
    assert choice.chosen == 1 and choice.chosen_query == CHECKOUT
    votes = [c.votes for c in choice.candidates]
    assert votes == [1, 2, 2, 1]
    assert choice.candidates[1].group == choice.candidates[2].group != choice.candidates[3].group
    assert choice.candidates[2].run_s == 0.0 and choice.candidates[1].run_s > 0  # not run twice
    assert all(c.outcome == "answer" and c.samples > 0 for c in choice.candidates)
    record = choice.to_dict()
    assert record["query"] == CHECKOUT and sorted(record["votes"].values()) == [1, 1, 2]


def test_a_tie_goes_to_the_greedy_query(catalog):
    choice = choose("request rate of checkout", "promql", [CHECKOUT_1M, CHECKOUT], catalog, greedy=0)
    assert choice.chosen == 0
    choice = choose("request rate of checkout", "promql", [CHECKOUT_1M, CHECKOUT], catalog, greedy=1)
    assert choice.chosen == 1


def test_invalid_and_empty_candidates_do_not_vote(catalog):
    queries = [NOTHING, 'rate(http_requests_total{service="nope"}[5m])', CHECKOUT + ")", CHECKOUT_1M]
    choice = choose("request rate of checkout", "promql", queries, catalog, greedy=0)
    outcomes = [c.outcome for c in choice.candidates]
    assert outcomes == ["empty", "invalid", "invalid", "answer"]
    assert "never observed" in choice.candidates[1].error
    assert choice.chosen == 3 and [c.votes for c in choice.candidates] == [0, 0, 0, 1]


def test_a_candidate_past_its_budget_is_dropped(catalog):
    # a subquery at 1 s resolution over an hour: ~0.8 s on an idle machine, far over 50 ms
    choice = choose("request count", "promql", [SLOW, CHECKOUT], catalog, greedy=0, budget_s=0.05)
    slow = choice.candidates[0]
    assert slow.outcome == "timeout" and "budget" in slow.error and slow.votes == 0
    conn, _ = snapshot_for(catalog, "promql")
    result, outcome, _, seconds = run_bounded("promql", SLOW, conn, default_time_range(), budget_s=0.05)
    assert result is None and outcome == "timeout" and seconds > 0.05


def test_an_empty_answer_counts_where_the_question_allows_it(catalog):
    assert not expects_answer("are there any 5xx on checkout?") and expects_answer("request rate of checkout")
    queries = [CHECKOUT_1M, NOTHING, NOTHING]
    choice = choose("is there any checkout traffic above a trillion per second?", "promql", queries, catalog)
    assert [c.outcome for c in choice.candidates] == ["answer", "answer", "answer"]
    assert choice.chosen == 1 and choice.candidates[1].votes == 2


def test_nothing_survives_keeps_the_valid_greedy_query(catalog):
    choice = choose("request rate of checkout", "promql", [NOTHING, CHECKOUT + ")"], catalog, greedy=0)
    assert choice.chosen == 0 and all(c.votes == 0 for c in choice.candidates)
    assert choose("request rate of checkout", "promql", [CHECKOUT + ")"], catalog, greedy=None).chosen is None


def test_vote_groups_equal_results_directly(catalog):
    conn, _ = snapshot_for(catalog, "promql")
    tr = default_time_range()
    a, *_ = run_bounded("promql", CHECKOUT, conn, tr)
    b, *_ = run_bounded("promql", CHECKOUT_1M, conn, tr)
    groups, chosen = vote([b, a, None, a], greedy=0)
    assert groups == [0, 1, None, 1] and chosen == 1
    assert vote([None, None], greedy=0) == ([None, None], None)


def test_run_bounded_reports_engine_errors_as_outcomes(catalog):
    conn, _ = snapshot_for(catalog, "promql")
    result, outcome, error, _ = run_bounded("logql", "{service=", conn, default_time_range())
    assert result is None and outcome == "error" and error


def test_a_teams_own_catalog_runs_on_its_synthesized_world(tmp_path, monkeypatch):
    monkeypatch.setenv("NLQ_CACHE_DIR", str(tmp_path / "cache"))
    data = json.loads((SNAPSHOT_DIR / "promql.json").read_text())
    data["metrics"] = {"shop_orders_total": {"type": "counter", "labels": {"store": ["north", "south"]}}}
    path = tmp_path / "mine.json"
    path.write_text(json.dumps(data))
    mine = load_catalog(path, "promql")
    orders, orders_1m = "sum(rate(shop_orders_total[5m]))", "sum(rate(shop_orders_total[1m]))"
    choice = choose("orders per second", "promql", [orders_1m, orders, orders], mine)
    assert choice.skipped is None and choice.snapshot.startswith("synth-1:")
    assert [c.outcome for c in choice.candidates] == ["answer"] * 3 and choice.chosen == 1
    assert list((tmp_path / "cache").rglob("synth-1.duckdb"))  # generated locally, under the cache
    model = SampledModel(orders_1m, [orders, orders])
    result = translate("orders per second", "promql", mine, model, choose="exec", candidates=2)
    assert result.ok and result.query == orders and result.choice["snapshot"] == choice.snapshot


# ---------------------------------------------------------------- through translate() and the CLI
def test_translate_exec_replaces_the_greedy_query_by_the_agreed_one(catalog):
    model = SampledModel(CHECKOUT_BY_SERVICE, [CHECKOUT, CHECKOUT_1M, CHECKOUT.replace("[5m]", "[300s]")])
    result = translate("request rate of checkout", "promql", catalog, model, choose="exec", candidates=3)
    assert result.ok and result.query == CHECKOUT
    assert model.calls[1]["n"] == 3 and model.calls[1]["temperature"] > 0
    assert result.choice["candidates"][0]["source"] == "greedy" and len(result.choice["candidates"]) == 4
    assert result.choice["query"] == CHECKOUT and result.choice["sampled"]["n"] == 3
    assert result.explanation and "checkout" in result.explanation
    assert "choice_s" in result.timings and result.to_dict()["choice"] == result.choice
    greedy_only = translate("request rate of checkout", "promql", catalog, SampledModel(CHECKOUT_BY_SERVICE, []))
    assert greedy_only.query == CHECKOUT_BY_SERVICE and greedy_only.choice is None


def test_translate_exec_rescues_a_failed_greedy_query(catalog):
    model = SampledModel(CHECKOUT + ")", [CHECKOUT_1M, CHECKOUT_1M])
    result = translate("request rate of checkout", "promql", catalog, model, choose="exec", candidates=2,
                       max_retries=0)
    assert result.ok and result.query == CHECKOUT_1M and result.message is None
    assert [c["source"] for c in result.choice["candidates"]] == ["sample", "sample"]


def test_exec_if_empty_keeps_an_answer_that_returns_data_without_sampling(catalog):
    model = SampledModel(CHECKOUT_BY_SERVICE, [CHECKOUT, CHECKOUT, CHECKOUT])
    result = translate("request rate of checkout", "promql", catalog, model, choose="exec-if-empty", candidates=3)
    assert result.ok and result.query == CHECKOUT_BY_SERVICE and len(model.calls) == 1
    check = result.choice["greedy_check"]
    assert check["outcome"] == "answer" and check["answers"] and check["samples"] > 0
    assert "candidates" not in result.choice


def test_exec_if_empty_samples_and_votes_when_the_answer_returns_nothing(catalog):
    model = SampledModel(NOTHING, [CHECKOUT, CHECKOUT_1M, CHECKOUT])
    result = translate("request rate of checkout", "promql", catalog, model, choose="exec-if-empty", candidates=3)
    assert result.ok and result.query == CHECKOUT and model.calls[1]["n"] == 3
    assert result.choice["greedy_check"] == {**result.choice["greedy_check"], "outcome": "empty", "answers": False}
    assert len(result.choice["candidates"]) == 4  # the greedy answer votes too, and loses


def test_bad_choice_arguments_are_usage_errors(catalog):
    with pytest.raises(UsageError, match="unknown choice mode"):
        translate("request rate of checkout", "promql", catalog, object(), choose="vote")
    with pytest.raises(UsageError, match="at least 1"):
        translate("request rate of checkout", "promql", catalog, object(), choose="exec", candidates=0)


def test_cli_choose_exec_lists_candidates_in_json(monkeypatch):
    from nlq import models

    model = SampledModel(CHECKOUT_BY_SERVICE, [CHECKOUT, CHECKOUT])
    monkeypatch.setitem(models._LOADED, "embedded:", model)
    args = ["ask", "request rate of checkout", "-d", "promql", "--model", "embedded",
            "--choose", "exec", "--candidates", "2"]
    result = CliRunner().invoke(main, args + ["--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["query"] == CHECKOUT and data["choice"]["snapshot"] == "shop-a"
    assert [c["votes"] for c in data["choice"]["candidates"]] == [1, 2, 2]
    text = CliRunner().invoke(main, args).output
    assert text.splitlines()[0] == CHECKOUT and "2 of 3 candidates agree" in text


# ---------------------------------------------------------------- the real model, once
@pytest.mark.slow
def test_real_model_candidates_are_run_and_voted(catalog):
    result = translate("request rate of the checkout service", "promql", catalog, "embedded",
                       choose="exec", candidates=2)
    choice = result.choice
    assert len(choice["candidates"]) in (2, 3) and choice["sampled"]["n"] == 2
    ran = [c for c in choice["candidates"] if c["valid"]]
    assert ran and all(c["outcome"] != "invalid" for c in ran)
    if choice["chosen"] is not None:
        winner = choice["candidates"][choice["chosen"]]
        assert winner["votes"] == max(c["votes"] for c in choice["candidates"])
        assert result.ok


def test_the_renamed_worlds_catalog_runs_on_its_own_renamed_data():
    """Execution-guided choice on the transfer test's world votes on renamed-a, not a synthesized world."""
    from nlq.catalog import load_catalog
    from nlq.choice import snapshot_for
    from nlq.snapshot.renamed import renamed_catalog_path

    catalog = load_catalog(renamed_catalog_path("promql"), "promql")
    con, name = snapshot_for(catalog, "promql")
    assert name == "renamed-a"
    renamed = con.execute("SELECT count(*) FROM prom_series WHERE metric = 'web_calls_total'").fetchone()[0]
    assert renamed > 0
