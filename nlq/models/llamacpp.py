"""llama-cpp-python, optional: runs the GGUF directly (quantized, no conversion).

Used only when `llama_cpp` is installed (nlq does not depend on it: it builds
from source for many minutes).  The decode loop mirrors
`nlq.constrain.decode` for one sequence at a time: llguidance fills a bitmask,
disallowed logits are set to -inf in numpy, forced tokens are fed without
sampling.

    nlq ask "disk usage by host" -d promql --model llama-cpp                 # the embedded GGUF
    nlq ask "disk usage by host" -d promql --model llama-cpp:/models/x.gguf

Not exercised by the test suite on the development machine (llama-cpp-python
is not installed there); its tests skip with that reason.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from nlq.errors import UsageError
from nlq.models.base import Completion, Generation, Messages


class LlamaCppModel:
    tokenizer = None

    def __init__(self, model_path: str, n_ctx: int = 4096, n_threads: int | None = None):
        try:
            import llama_cpp
        except ImportError:
            raise UsageError(
                "--model llama-cpp needs llama-cpp-python (`pip install llama-cpp-python`)"
            ) from None
        import llguidance.llamacpp

        self._llama_cpp = llama_cpp
        self.llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads,
                                   logits_all=False, verbose=False)
        self.name = f"llama-cpp:{model_path}"
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        self.eos_token_id = self._eos_id()
        self.ll_tokenizer = llguidance.llamacpp.lltokenizer_from_vocab(
            vocab, eos_token=self.eos_token_id
        )
        self._template = self.llm.metadata.get("tokenizer.chat_template")

    def _eos_id(self) -> int:
        ids = self.llm.tokenize(b"<|im_end|>", add_bos=False, special=True)
        return ids[0] if len(ids) == 1 else self.llm.token_eos()

    def render(self, messages: Messages) -> list[int]:
        if self._template:
            import jinja2

            text = jinja2.Template(self._template).render(messages=messages, add_generation_prompt=True)
        else:  # ChatML, SmolLM2's format
            text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            text += "<|im_start|>assistant\n"
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)

    def count_tokens(self, messages: Messages) -> int:
        return len(self.render(messages))

    def _one(self, prompt: list[int], spec: str, max_tokens: int, temperature: float,
             rng: np.random.Generator, timings: dict) -> Completion:
        import llguidance
        import llguidance.numpy

        from nlq.constrain.decode import unpack_bitmask

        matcher = llguidance.LLMatcher(self.ll_tokenizer, spec)
        bitmask = llguidance.numpy.allocate_token_bitmask(1, self.llm.n_vocab())
        self.llm.reset()
        t0 = time.perf_counter()
        self.llm.eval(prompt)
        timings["prefill_s"] = timings.get("prefill_s", 0.0) + time.perf_counter() - t0
        tokens: list[int] = []
        forced = 0
        reason = "length"
        while len(tokens) < max_tokens:
            t0 = time.perf_counter()
            logits = np.array(self.llm.scores[self.llm.n_tokens - 1], dtype=np.float32)
            llguidance.numpy.fill_next_token_bitmask(matcher, bitmask, 0)
            allowed = unpack_bitmask(bitmask, logits.shape[0])[0]
            logits[~allowed] = -np.inf
            timings["mask_s"] = timings.get("mask_s", 0.0) + time.perf_counter() - t0
            if temperature <= 0:
                token = int(np.argmax(logits))
            else:
                z = (logits - logits.max()) / temperature
                p = np.exp(z)
                token = int(rng.choice(len(p), p=p / p.sum()))
            if token == self.eos_token_id:
                reason = "eos"
                break
            if not matcher.consume_token(token):
                return Completion(self.ll_tokenizer.decode_str(tokens), len(tokens), forced, "error",
                                  matcher.get_error())
            feed = [token]
            if not matcher.is_stopped():
                ff = list(matcher.compute_ff_tokens())[: max_tokens - len(tokens) - 1]
                if ff and matcher.consume_tokens(ff):
                    feed += ff
                    forced += len(ff)
            tokens += feed
            if matcher.is_stopped():
                reason = "grammar"
                break
            t0 = time.perf_counter()
            self.llm.eval(feed)
            timings["forward_s"] = timings.get("forward_s", 0.0) + time.perf_counter() - t0
        return Completion(self.ll_tokenizer.decode_str(tokens), len(tokens), forced, reason)

    def generate(self, prompts: list[Messages], grammar: Any, max_tokens: int = 128,
                 temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[Generation]:
        spec = grammar.validated_spec(self.ll_tokenizer)
        rng = np.random.default_rng(seed)
        results = []
        for messages in prompts:
            prompt = self.render(messages)
            timings: dict[str, float] = {}
            start = time.perf_counter()
            completions = [self._one(prompt, spec, max_tokens, temperature, rng, timings) for _ in range(n)]
            timings["total_s"] = time.perf_counter() - start
            results.append(Generation(completions, prompt_tokens=len(prompt), timings=timings))
        return results


def load(argument: str) -> LlamaCppModel:
    """`--model llama-cpp[:<file.gguf>]`; without a file, the embedded model's GGUF."""
    if not argument:
        from nlq.models.embedded import gguf_path

        argument = str(gguf_path())
    return LlamaCppModel(argument)
