"""Any transformers causal LM (a Hugging Face id or a local folder), on the CPU or a GPU.

The decode loop is `nlq.constrain.decode.constrained_decode`, shared with the
embedded model.  Prompts are rendered with the tokenizer's chat template and
end with the assistant header (`<|im_start|>assistant\\n` for SmolLM2), so the
first generated token carries no leading space: llguidance refuses a leading
space that the grammar does not allow.

    nlq ask "error rate of checkout" -d promql --model transformers:HuggingFaceTB/SmolLM2-360M-Instruct
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from nlq.constrain.decode import PrefixCache, constrained_decode
from nlq.constrain.tokenizer import ll_tokenizer_for
from nlq.models.base import Generation, Messages


class TransformersModel:
    """A loaded transformers model + tokenizer behind the `ModelBackend` interface."""

    def __init__(self, model: Any, tokenizer: Any, name: str, eos_token_id: int | None = None):
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        if eos_token_id is None:
            eos_token_id = tokenizer.convert_tokens_to_ids(tokenizer.eos_token)
        self.eos_token_id = int(eos_token_id)
        self.load_s = 0.0
        self._ll_tokenizer: Any = None
        #: the last prompt's keys/values (NLQ_PREFIX_CACHE=0 turns it off)
        self.prefix_cache: PrefixCache | None = (
            None if os.environ.get("NLQ_PREFIX_CACHE", "1") == "0" else PrefixCache()
        )

    @classmethod
    def from_pretrained(
        cls, name_or_path: str, device: str | None = None, dtype: Any = None, name: str | None = None
    ) -> TransformersModel:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer
        from transformers.utils import logging as hf_logging

        # progress bars and load reports would interleave with the CLI's output
        hf_logging.disable_progress_bar()
        hf_logging.set_verbosity_error()
        start = time.perf_counter()
        if device is None:
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if device == "cpu":
            _set_cpu_threads(torch)
        if dtype is None:
            # bf16 on a GPU; fp32 on the CPU, where bf16 matmuls are slow on most chips
            dtype = torch.bfloat16 if device.startswith("cuda") else torch.float32
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
        model = AutoModelForCausalLM.from_pretrained(name_or_path, dtype=dtype).to(device)
        model.eval()
        label = name or f"transformers:{Path(name_or_path).name if Path(name_or_path).exists() else name_or_path}"
        backend = cls(model, tokenizer, label)
        backend.load_s = time.perf_counter() - start
        return backend

    # -- prompts ---------------------------------------------------------------
    def render(self, messages: Messages) -> list[int]:
        """Token ids of the chat prompt, ending with the assistant header."""
        ids = self.tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if hasattr(ids, "keys"):  # a BatchEncoding in newer transformers
            ids = ids["input_ids"]
        if ids and isinstance(ids[0], list):
            ids = ids[0]
        return [int(i) for i in ids]

    def count_tokens(self, messages: Messages) -> int:
        return len(self.render(messages))

    @property
    def ll_tokenizer(self) -> Any:
        if self._ll_tokenizer is None:
            n_vocab = getattr(self.model.config, "vocab_size", None) or len(self.tokenizer)
            self._ll_tokenizer = ll_tokenizer_for(self.tokenizer, self.eos_token_id, n_vocab)
        return self._ll_tokenizer

    # -- generation ------------------------------------------------------------
    def generate(
        self,
        prompts: list[Messages],
        grammar: Any,
        max_tokens: int = 128,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
    ) -> list[Generation]:
        spec = grammar.validated_spec(self.ll_tokenizer)
        results = []
        for messages in prompts:
            results.append(
                constrained_decode(
                    self.model,
                    self.render(messages),
                    self.ll_tokenizer,
                    spec,
                    eos_token_id=self.eos_token_id,
                    max_tokens=max_tokens,
                    temperature=temperature,
                    n=n,
                    seed=seed,
                    prefix_cache=self.prefix_cache,
                    prefill_threads=prefill_threads(),
                )
            )
        return results


def _set_cpu_threads(torch: Any) -> None:
    """NLQ_TORCH_THREADS, else one thread on machines with two cores or fewer.

    Measured on the 2-core development machine under load from other processes:
    a decode step took 2.3 s with torch's default 2 OpenMP threads (spinning
    threads fighting for the cores) and 0.23 s with one.
    """
    wanted = os.environ.get("NLQ_TORCH_THREADS")
    if wanted:
        torch.set_num_threads(max(1, int(wanted)))
    elif (os.cpu_count() or 1) <= 2:
        torch.set_num_threads(1)


def prefill_threads() -> int | None:
    """Threads for a prefill: NLQ_PREFILL_THREADS (a number, or "auto", the default).

    "auto" uses every core when the 1-minute load average (which counts this
    process's own work, up to 1) leaves another core idle, else None (the
    decode setting).  Measured on the 2-core machine: a 400-token
    prefill took 2.6 s with 1 thread and 1.2 s with 2 when quiet, but 5.1 s
    with 1 and 24 s with 2 at load average 10 (spinning OpenMP threads).
    """
    wanted = os.environ.get("NLQ_PREFILL_THREADS", "auto").strip().lower()
    if wanted != "auto":
        return max(1, int(wanted)) if wanted else None
    cores = os.cpu_count() or 1
    try:
        busy = os.getloadavg()[0]
    except OSError:  # not on every platform
        return None
    return cores if cores > 1 and busy < cores - 0.5 else None


def load(argument: str) -> TransformersModel:
    """`--model transformers:<id or path>`."""
    if not argument:
        from nlq.errors import UsageError

        raise UsageError("--model transformers:<Hugging Face id or local folder> needs a name")
    return TransformersModel.from_pretrained(argument)
