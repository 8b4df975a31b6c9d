"""The transformers decode loop's prefix cache: a prompt that extends the last one
prefills only its new suffix, and answers exactly as a full prefill does."""

from __future__ import annotations

import pytest
import torch

from nlq.constrain.decode import PrefixCache, _prefill
from nlq.constrain.grammar import ConstraintGrammar

TOY = r"""
start: "sum(rate(" METRIC "[" DUR "]))"
METRIC: "http_requests_total" | "node_cpu_seconds_total"
DUR: "1m" | "5m" | "1h"
"""

SYSTEM = ("Write a PromQL query for the question. Answer with the query only, on one line. "
          "Available metrics: http_requests_total (labels: service, status, method), "
          "node_cpu_seconds_total (labels: instance, mode).")
FIRST = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": "total rate of HTTP requests"}]
RETRY = FIRST + [
    {"role": "assistant", "content": "sum(rate(http_requests_total[1h]))"},
    {"role": "user", "content": "That query is wrong: use a 5 minute window.\nWrite a corrected query."},
]


def _layers(length: int, layers: int = 2) -> list[tuple[torch.Tensor, torch.Tensor]]:
    return [(torch.randn(1, 3, length, 4), torch.randn(1, 3, length, 4)) for _ in range(layers)]


def _cache(layers):
    from transformers import DynamicCache

    return DynamicCache(ddp_cache_data=layers)


def test_lookup_returns_the_longest_shared_prefix_but_never_all_of_the_prompt():
    cache = PrefixCache(min_tokens=2)
    layers = _layers(6)
    cache.store([1, 2, 3, 4, 5, 6], _cache(layers))
    length, views = cache.lookup([1, 2, 3, 9, 9])
    assert length == 3
    assert torch.equal(views[0][0], layers[0][0][:, :, :3])
    # the same prompt again: the last token is left to run, for its logits
    length, _ = cache.lookup([1, 2, 3, 4, 5, 6])
    assert length == 5
    # shorter than min_tokens: not worth it
    assert cache.lookup([1, 7, 7])[0] == 0
    cache.clear()
    assert cache.lookup([1, 2, 3, 4])[0] == 0


def test_store_ignores_batched_or_mismatched_caches():
    cache = PrefixCache(min_tokens=1)
    cache.store([1, 2, 3], _cache([(torch.zeros(2, 3, 3, 4), torch.zeros(2, 3, 3, 4))]))  # batch of 2
    cache.store([1, 2, 3], _cache(_layers(4)))  # 4 positions for 3 ids
    assert cache.lookup([1, 2, 3, 4])[0] == 0


@pytest.mark.model
def test_cached_prefill_matches_a_full_prefill(model):
    first, retry = model.render(FIRST), model.render(RETRY)
    assert retry[: len(first) - 1] == first[:-1]
    cache = PrefixCache()
    device = torch.device("cpu")
    with torch.inference_mode():
        _prefill(model.model, first, device, cache)
        cached_logits, _, reused = _prefill(model.model, retry, device, cache)
        full_logits, _, none = _prefill(model.model, retry, device, None)
    assert none == 0
    assert reused >= len(first) - 2  # the chat template may end a turn differently
    assert torch.allclose(cached_logits, full_logits, atol=1e-3)


@pytest.mark.model
def test_generate_reuses_the_last_prompt_and_answers_the_same(model, monkeypatch):
    grammar = ConstraintGrammar(TOY)
    kept = model.prefix_cache
    try:
        model.prefix_cache = PrefixCache()
        model.generate([FIRST], grammar, max_tokens=24)
        cached = model.generate([RETRY], grammar, max_tokens=24)[0]
        model.prefix_cache = None
        plain = model.generate([RETRY], grammar, max_tokens=24)[0]
    finally:
        model.prefix_cache = kept
    assert cached.cached_tokens >= len(model.render(FIRST)) - 2
    assert plain.cached_tokens == 0
    assert cached.texts == plain.texts


@pytest.mark.model
def test_decoding_passes_the_cache_without_deprecation_warnings(model):
    """transformers 5 warns on every forward that gets `past_key_values`; `nlq ask` printed it."""
    import warnings

    grammar = ConstraintGrammar(TOY)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        single = model.generate([FIRST], grammar, max_tokens=24)[0]
        batch = model.generate([FIRST], grammar, n=2, temperature=0.8, max_tokens=24)[0]
    assert single.texts[0].startswith("sum(rate(") and len(batch.texts) == 2
