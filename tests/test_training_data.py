"""The training set of `nlq tune` shares no question and no gold query with evals/.

Compared as the benchmark would see them: questions lower-cased with spaces
and final punctuation normalized, queries in the dialect formatter's canonical
form.  The comparison is written out here, independent of the filter in
`nlq.training.data`, so that removing or breaking the filter fails the test.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from nlq import dialects
from nlq.training.data import DIALECTS, TrainingPair, held_back_cases, training_pairs
from nlq.training.tune import TuneConfig, resolve_catalogs

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_INFO = ROOT / "adapters" / "shop" / "nlq-adapter.json"
EVAL_FILES = tuple(str(p) for p in sorted((ROOT / "evals").glob("*.jsonl")))
RENAMED_CASES = ROOT / "snapshots" / "renamed" / "cases"
RENAMED_CATALOGS = ROOT / "snapshots" / "renamed" / "catalog"


def _question(text: str) -> str:
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip("?.! ")


def _canonical(dialect: str, query: str) -> str:
    language = dialects.get(dialect)
    try:
        return language.format(language.parse(query))
    except Exception:  # noqa: BLE001 - an unparsable text compares as written
        return query.strip()


def _eval_cases(folder: Path = ROOT / "evals") -> list[dict]:
    cases = []
    for path in sorted(folder.glob("*.jsonl")):
        cases += [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return cases


def _assert_disjoint(pairs: list[TrainingPair], folder: Path = ROOT / "evals") -> None:
    cases = _eval_cases(folder)
    assert cases
    questions = {_question(c["question"]) for c in cases}
    golds = {(c["dialect"], _canonical(c["dialect"], c["gold"])) for c in cases}
    same_question = [p.question for p in pairs if _question(p.question) in questions]
    same_gold = [(p.dialect, p.query) for p in pairs if (p.dialect, _canonical(p.dialect, p.query)) in golds]
    assert not same_question, same_question[:5]
    assert not same_gold, same_gold[:5]
    # nor a near-copy: a 60-character run (whitespace aside) of a case's question or gold
    runs = {_squash(t)[i:i + 60] for c in cases for t in (c["question"], c["gold"])
            for i in range(len(_squash(t)) - 59)}
    near = [(p.question, p.query) for p in pairs
            if any(_squash(t)[i:i + 60] in runs for t in (p.question, p.query) for i in range(len(_squash(t)) - 59))]
    assert not near, near[:5]


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def _shipped_settings() -> tuple[int, int]:
    """(pairs per dialect, seed) of the shipped adapter; the command's defaults before one ships."""
    if SHIPPED_INFO.is_file():
        training = json.loads(SHIPPED_INFO.read_text())["training"]
        return training["n_per_dialect"], training["seed"]
    return TuneConfig.n, TuneConfig.seed


@pytest.mark.slow
def test_shipped_training_set_shares_nothing_with_evals():
    n, seed = _shipped_settings()
    pairs = training_pairs(resolve_catalogs(TuneConfig()), n, seed, held_back=held_back_cases(EVAL_FILES))
    assert {p.dialect for p in pairs} == set(DIALECTS)
    assert {p.origin for p in pairs} == {"generated", "fewshot"}
    _assert_disjoint(pairs)


def test_small_training_set_shares_nothing_with_evals():
    pairs = training_pairs(resolve_catalogs(TuneConfig(dialects=("logql", "datadog-metrics"))), 40, 3,
                           fewshot=False, held_back=held_back_cases(EVAL_FILES))
    assert len(pairs) > 60
    _assert_disjoint(pairs)


def test_a_pair_repeating_an_eval_case_is_recognized():
    case = _eval_cases()[0]
    held_back = held_back_cases(EVAL_FILES)
    assert held_back.repeats(TrainingPair(case["question"] + "?", "up", case["dialect"], "generated"))
    assert held_back.repeats(TrainingPair("something never asked", case["gold"], case["dialect"], "fewshot"))
    assert not held_back.repeats(TrainingPair("something never asked", "up == 0 or up == 1", "promql", "fewshot"))



def test_training_set_of_the_renamed_world_shares_nothing_with_its_benchmark():
    """The transfer test's adapter is trained on the renamed catalogs: `nlq tune` holds back the renamed cases."""
    from nlq.commands.tune import BENCHMARK_FILES

    assert {p.parent for p in BENCHMARK_FILES} == {ROOT / "evals", RENAMED_CASES}
    dialects = ("promql", "datadog-logs")
    config = TuneConfig(dialects=dialects, catalogs={d: str(RENAMED_CATALOGS / f"{d}.json") for d in dialects})
    pairs = training_pairs(resolve_catalogs(config), 60, 0, fewshot=False,
                           held_back=held_back_cases(tuple(str(p) for p in BENCHMARK_FILES)))
    assert any("basket" in p.query for p in pairs)  # really the renamed catalogs
    _assert_disjoint(pairs, RENAMED_CASES)
