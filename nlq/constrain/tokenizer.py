"""llguidance tokenizers built from Hugging Face tokenizers, cached (building one takes ~1 s)."""

from __future__ import annotations

import threading
from typing import Any

import llguidance
import llguidance.hf

_CACHE: dict[tuple[int, int, int], Any] = {}
_LOCK = threading.Lock()


def ll_tokenizer_for(hf_tokenizer: Any, eos_token_id: int, n_vocab: int | None = None) -> Any:
    """The `llguidance.LLTokenizer` for `hf_tokenizer`, with the EOS id given explicitly.

    The EOS id is passed rather than read from the tokenizer because tokenizers
    rebuilt from GGUF metadata have carried the wrong one in some transformers
    versions.  `n_vocab` is the model's logits width (may exceed the tokenizer's).
    """
    n_vocab = n_vocab or len(hf_tokenizer)
    key = (id(hf_tokenizer), eos_token_id, n_vocab)
    with _LOCK:
        cached = _CACHE.get(key)
        if cached is None:
            cached = llguidance.hf.from_tokenizer(hf_tokenizer, n_vocab=n_vocab, eos_token=eos_token_id)
            _CACHE[key] = cached
        return cached
