"""Gold answers kept on disk between eval runs: read back equal, never for another query or code."""

from __future__ import annotations

import dataclasses

from nlq.evaluation import gold_cache as gc
from nlq.evaluation import load_cases
from nlq.evaluation.runner import TimedScorer
from nlq.results import compare


def test_a_gold_answer_is_computed_once_then_read_from_disk(tmp_path):
    case = next(c for c in load_cases(dialect="promql") if c.id == "promql-filter-001")
    first = TimedScorer(("shop-a",), gold_cache=gc.GoldCache(tmp_path))
    answer = first.gold(case, "shop-a")
    assert first.gold_cache.stored == 1 and first.gold_cache.hits == 0
    first.close()

    second = TimedScorer(("shop-a",), gold_cache=gc.GoldCache(tmp_path))
    again = second.gold(case, "shop-a")
    assert second.gold_cache.hits == 1
    assert compare(answer, again)[0]
    # another gold (or another range) is another key: computed, not read
    other = dataclasses.replace(case, id="other", gold='container_memory_working_set_bytes{container="checkout"}')
    second.gold(other, "shop-a")
    longer = dataclasses.replace(case, id="longer", range="6h")
    second.gold(longer, "shop-a")
    assert second.gold_cache.hits == 1 and second.gold_cache.stored == 2
    second.close()


def test_the_key_follows_the_engine_code(tmp_path, monkeypatch):
    case = next(c for c in load_cases(dialect="promql") if c.id == "promql-filter-001")
    cache = gc.GoldCache(tmp_path)
    before = cache._path(case, "shop-a")
    monkeypatch.setattr(gc, "code_fingerprint", lambda: "another engine")
    assert cache._path(case, "shop-a") != before
    assert cache._path(case, "/some/synth.duckdb") is None  # only shop variants are cached
