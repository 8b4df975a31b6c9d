"""A tuned adapter's compact prompt carries retrieved few-shot pairs, the same in training and at inference.

The adapter learns from prompts with `prompt_examples` retrieved pairs, and
translate() retrieves as many for it; a curated pair trained on is never shown
as its own example.
"""

from __future__ import annotations

import pytest

from nlq.prompting import FewShotBank, build_prompt
from nlq.training.data import fewshot_pairs
from nlq.training.examples import training_prompt
from nlq.translate import default_catalog


def test_compact_prompt_puts_the_retrieved_pairs_before_the_question_best_last():
    catalog = default_catalog("promql")
    bank = FewShotBank.load("promql")
    question = "p99 latency of checkout by route"
    prompt = build_prompt(question, "promql", catalog, bank=bank, k_examples=2, style="compact")
    best = bank.retrieve(question, 2)
    assert prompt.examples == best
    roles = [m["role"] for m in prompt.messages]
    assert roles == ["system", "user", "assistant", "user", "assistant", "user"]
    # the nearest pair sits right before the question, where a small model copies most
    assert prompt.messages[-3:-1] == [{"role": "user", "content": best[0].question},
                                      {"role": "assistant", "content": best[0].query}]
    assert prompt.messages[-1] == {"role": "user", "content": question}


def test_compact_prompt_without_examples_is_instruction_and_question_only():
    prompt = build_prompt("rps of checkout", "promql", default_catalog("promql"), k_examples=0, style="compact")
    assert [m["role"] for m in prompt.messages] == ["system", "user"]
    assert prompt.examples == []


@pytest.mark.parametrize("dialect", ["promql", "logql", "datadog-metrics", "datadog-logs"])
def test_a_curated_training_pair_is_never_its_own_example(dialect):
    catalog = default_catalog(dialect)
    pairs = fewshot_pairs(dialect)[:40]
    assert pairs
    for pair in pairs:
        prompt = training_prompt(pair, catalog, examples=2)
        assert len(prompt.examples) == 2
        assert all((e.question, e.query) != (pair.question, pair.query) for e in prompt.examples), pair.question
        assert prompt.messages[-1]["content"] == pair.question.strip()


def test_leave_out_drops_exactly_that_bank_example():
    bank = FewShotBank.load("logql")
    first = bank.examples[0]
    index = bank.index_of(first.question, first.query)
    assert index == 0
    kept = build_prompt(first.question, "logql", None, bank=bank, k_examples=3, style="compact")
    left = build_prompt(first.question, "logql", None, bank=bank, k_examples=3, style="compact", leave_out=index)
    assert first in kept.examples  # its own words retrieve it first
    assert first not in left.examples and len(left.examples) == 3
    assert bank.index_of("no such question", "up") is None
