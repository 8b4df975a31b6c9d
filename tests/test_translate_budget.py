"""The per-dialect token budget fits every curated query, and stays a guard."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlq.translate import TOKEN_BUDGET, token_budget, translate

FEWSHOT = Path(__file__).resolve().parents[1] / "fewshot"


@pytest.mark.parametrize("dialect", sorted(TOKEN_BUDGET))
def test_every_curated_query_fits_its_dialects_budget_with_room(model, dialect):
    queries = [json.loads(line)["query"] for line in (FEWSHOT / f"{dialect}.jsonl").read_text().splitlines()
               if line.strip()]
    longest = max(len(model.tokenizer.encode(q, add_special_tokens=False)) for q in queries)
    assert longest < token_budget(dialect), (dialect, longest)
    # a guard, not a formality: no more than twice what the longest real query needs
    assert token_budget(dialect) <= 2 * longest + 16, (dialect, longest)


def test_translate_reports_a_cut_off_query_against_the_dialects_budget(model):
    result = translate("p99 latency of checkout by route", "promql", None, model, max_tokens=8, max_retries=0)
    assert result.status == "failed"
    assert "cut off at 8 tokens" in (result.message or "") + " ".join(a.error or "" for a in result.attempts)
