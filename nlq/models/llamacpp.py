"""llama-cpp-python, optional: runs the GGUF directly (quantized, no conversion, no torch).

Used only when `llama_cpp` is installed (nlq does not depend on it: it builds
from source for about 10 minutes on 2 cores).  The decode loop is
`nlq.constrain.decode`'s for one sequence at a time, with the same stop rules
(`Sequence.advance`): llguidance fills a bitmask, disallowed logits are set to
-inf in numpy, forced tokens go into the next evaluation without sampling.

llama.cpp keeps the key/value cache of the tokens it evaluated last
(`Llama.input_ids[:n_tokens]`): a prompt that shares a prefix with them
evaluates only the new suffix (a retry repeats its whole first prompt;
questions of one dialect share the system prompt).  `n > 1` completions (the
retries' samples) are decoded one after the other from the same prompt cache.

    nlq ask "disk usage by host" -d promql --model llama-cpp                 # embedded model, Q8_0
    nlq ask "disk usage by host" -d promql --model llama-cpp:base            # without the adapter
    nlq ask "disk usage by host" -d promql --model llama-cpp:shipped         # the shipped Q4_1 file as is
    nlq ask "disk usage by host" -d promql --model llama-cpp:/models/x.gguf

The default is the embedded model's GGUF rewritten once as Q8_0 into the cache
(`nlq.models.gguf_export`: prompts evaluate about twice as fast as from the
shipped Q4_1 blocks), with the shipped adapter merged in when there is one
(the same model as `embedded`; `prompt_style` follows the adapter).
`NLQ_LLAMA_WEIGHTS=q4_0` writes Q4_0 instead, which llama.cpp repacks for x86:
about 17% less time per question on a 2-core AVX-512 machine, but the merged
adapter loses to the coarser rounding (93 of 363 benchmark cases right
against 108, reports/2026-12-06-degenerate), so Q8_0 stays the default.

Threads: `NLQ_LLAMA_THREADS` for decode steps (default 1 on machines with two
cores or fewer: a step is memory-bound and a second thread only helps on an
idle machine); prompt evaluation uses every core (`NLQ_PREFILL_THREADS` sets
a number, or "auto" for transformers' choice by the load average).  llama.cpp's
OpenMP threads are made to sleep rather than spin while they wait
(`OMP_WAIT_POLICY=PASSIVE` unless set): spinning threads on a busy 2-core
machine made a 400-token prompt take 10-45 s instead of 3 s.

Drafting (`NLQ_DRAFT_TOKENS=N`, off by default): each forward pass also
evaluates up to N tokens guessed from the prompt (nlq.models.prompt_lookup)
and keeps those the model picks too, so greedy answers stay the same in fewer
passes.  On the 2-core AVX2 machine it does not pay: a pass over 2 tokens
took 53 ms against 24 ms for one (every drafted row also needs the 49k-token
output layer), and 8 passes instead of 12 per answer took as long
(benchmarks/decode_options.py measures it on the machine at hand).
"""

from __future__ import annotations

import atexit
import os
import threading
import time
import warnings
import weakref
from typing import Any

import numpy as np

from nlq.errors import NlqError, UsageError
from nlq.models.base import Completion, Generation, Messages
from nlq.models.hf import prefill_threads
from nlq.models.prompt_lookup import draft

#: tokens drafted per forward pass by prompt lookup (`NLQ_DRAFT_TOKENS`; 0 turns drafting off)
DRAFT_TOKENS = 0
#: SmolLM2's end-of-turn token, the EOS its chat template ends every answer with
CHAT_EOS = b"<|im_end|>"


def _threads(variable: str, default: int) -> int:
    value = os.environ.get(variable, "").strip()
    return max(1, int(value)) if value else default


def _prompt_threads() -> int | None:
    """Threads for evaluating a prompt: `NLQ_PREFILL_THREADS` where set (a number, or
    "auto": by the load average, as for transformers), else every core.

    llama.cpp's waiting threads sleep (`OMP_WAIT_POLICY=PASSIVE`), so a busy
    machine costs a second thread nothing.  On the 2-core AMD development
    machine a 250-token prompt took 1.25 s with one thread and 1.07 s with two
    when quiet, 1.36 s and 1.34 s beside one busy process, 2.0 s and 1.3 s
    beside two.  "auto" read a load average near 1 on that idle machine and
    chose one thread: 24% more time per question (benchmarks/decode_options.py).
    """
    if os.environ.get("NLQ_PREFILL_THREADS", "").strip():
        return prefill_threads()
    return os.cpu_count() or 1


def _draft_tokens() -> int:
    value = os.environ.get("NLQ_DRAFT_TOKENS", "").strip()
    if not value:
        return DRAFT_TOKENS
    if not value.isdigit():
        raise UsageError(f"NLQ_DRAFT_TOKENS={value}: expected a whole number of tokens (0 turns drafting off)")
    return int(value)


class LlamaCppModel:
    """A GGUF model in llama.cpp behind the `ModelBackend` interface."""

    #: no Hugging Face tokenizer: prompts are rendered from the GGUF's chat template
    tokenizer = None

    def __init__(self, model_path: str, n_ctx: int = 4096, n_threads: int | None = None,
                 n_threads_batch: int | None = None, name: str | None = None, draft_tokens: int | None = None):
        """`n_threads_batch=None`: chosen per prompt (every core unless `NLQ_PREFILL_THREADS`
        says otherwise, see `_prompt_threads`); `draft_tokens=None`: `NLQ_DRAFT_TOKENS` or
        `DRAFT_TOKENS`."""
        # read by libgomp when llama.cpp loads it: waiting threads sleep instead of spinning
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
        try:
            import llama_cpp
        except ImportError:
            raise UsageError(
                "--model llama-cpp needs llama-cpp-python (`pip install llama-cpp-python`; "
                "it builds from source for ~10 minutes)"
            ) from None
        import llguidance.llamacpp

        start = time.perf_counter()
        cores = os.cpu_count() or 1
        if n_threads is None:
            n_threads = _threads("NLQ_LLAMA_THREADS", 1 if cores <= 2 else cores)
        self.n_threads = n_threads
        self.n_threads_batch = n_threads_batch
        #: tokens drafted from the prompt per forward pass (0: no drafting)
        self.draft_tokens = draft_tokens if draft_tokens is not None else _draft_tokens()
        self._llama_cpp = llama_cpp
        try:
            self.llm = llama_cpp.Llama(model_path=model_path, n_ctx=n_ctx, n_threads=n_threads,
                                       n_threads_batch=n_threads_batch or n_threads, logits_all=False,
                                       verbose=False)
        except ValueError as exc:  # llama-cpp-python's words for an unreadable file
            raise UsageError(f"--model llama-cpp:{model_path}: {exc}") from None
        # Free the model while the interpreter is whole: left to Llama.__del__ at
        # shutdown, llama.cpp's free function may already be gone (a TypeError
        # traceback after the tests or a long-lived process ends).
        atexit.register(_close_quietly, weakref.ref(self.llm))
        self.name = name or f"llama-cpp:{os.path.basename(model_path)}"
        self.n_vocab = self.llm.n_vocab()
        self.eos_token_id = self._eos_id()
        vocab = llama_cpp.llama_model_get_vocab(self.llm.model)
        with warnings.catch_warnings():  # llguidance calls a deprecated llama.cpp function once per token
            warnings.simplefilter("ignore", DeprecationWarning)
            self.ll_tokenizer = llguidance.llamacpp.lltokenizer_from_vocab(vocab, eos_token=self.eos_token_id)
        self._template = self.llm.metadata.get("tokenizer.chat_template")
        self.load_s = time.perf_counter() - start
        #: prompt tokens the last generate() found already evaluated (prefix reuse)
        self.cached_tokens = 0
        # one llama.cpp context: requests from several threads (the service) take turns
        self._lock = threading.Lock()
        self._jinja: Any = None

    def _eos_id(self) -> int:
        ids = self.llm.tokenize(CHAT_EOS, add_bos=False, special=True)
        return ids[0] if len(ids) == 1 else self.llm.token_eos()

    # -- prompts ---------------------------------------------------------------
    def render(self, messages: Messages) -> list[int]:
        """Token ids of the chat prompt, ending with the assistant header (as transformers renders it)."""
        if self._template:
            text = self._compiled_template().render(messages=messages, add_generation_prompt=True)
        else:  # ChatML, SmolLM2's format
            text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
            text += "<|im_start|>assistant\n"
        return self.llm.tokenize(text.encode(), add_bos=False, special=True)

    def _compiled_template(self) -> Any:
        """The GGUF's chat template, compiled once (compiling took ~25 ms, on every prompt)."""
        if self._jinja is None:
            from jinja2.sandbox import ImmutableSandboxedEnvironment

            env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
            self._jinja = env.from_string(self._template)
        return self._jinja

    def count_tokens(self, messages: Messages) -> int:
        return len(self.render(messages))

    # -- evaluation --------------------------------------------------------------
    def _eval_rows(self, tokens: list[int], rows: int) -> np.ndarray:
        """Evaluate `tokens` after the cache; the logits after each of their last `rows`
        tokens, shape (rows, vocab).  One forward pass when they fit in a batch."""
        llm = self.llm
        if llm.n_tokens + len(tokens) > llm.n_ctx():
            raise NlqError(f"the prompt and answer need more than the model's {llm.n_ctx()} tokens of context")
        cut = max(0, len(tokens) - llm.n_batch)
        if cut:  # a prompt longer than one batch: its start in batches of its own
            llm.eval(tokens[:cut])
            tokens = tokens[cut:]
        start = llm.n_tokens
        # llama-cpp-python's Llama.eval asks for the last token's logits only; the
        # drafted tokens' rows are flagged here on its own batch, as eval fills it
        llm._ctx.kv_cache_seq_rm(-1, start, -1)
        llm._batch.set_batch(batch=tokens, n_past=start, logits_all=False)
        for i in range(len(tokens) - rows, len(tokens)):
            llm._batch.batch.logits[i] = True
        llm._ctx.decode(llm._batch)
        llm.input_ids[start:start + len(tokens)] = tokens
        llm.n_tokens = start + len(tokens)
        pointer = self._llama_cpp.llama_get_logits(llm.ctx)
        return np.ctypeslib.as_array(pointer, shape=(rows, self.n_vocab)).copy()

    def prefill(self, ids: list[int]) -> tuple[np.ndarray, int]:
        """(logits after `ids`, tokens reused from llama.cpp's cache): evaluates only the
        part of `ids` after the prefix already in the cache (at least its last token)."""
        rows, reused = self._prefill(ids, [])
        return rows[0], reused

    def _prefill(self, ids: list[int], guess: list[int]) -> tuple[np.ndarray, int]:
        """`prefill`, with the drafted `guess` evaluated after `ids` in the same pass:
        (logits after `ids` and after each drafted token, tokens reused)."""
        evaluated = self.llm.input_ids[: self.llm.n_tokens]
        limit = min(len(evaluated), len(ids) - 1)
        same = np.asarray(evaluated[:limit]) == np.asarray(ids[:limit], dtype=evaluated.dtype)
        reused = int(limit if same.all() else np.argmin(same))
        self.llm.n_tokens = reused  # llama.cpp drops the cache beyond it at the next eval
        batch_threads = self.n_threads_batch or _prompt_threads() or self.n_threads
        self._llama_cpp.llama_set_n_threads(self.llm.ctx, self.n_threads, batch_threads)
        return self._eval_rows(ids[reused:] + guess, len(guess) + 1), reused

    def _guess(self, prompt: list[int], seq: Any, max_tokens: int) -> list[int]:
        """Draft tokens after `prompt` and `seq`'s tokens (nlq.models.prompt_lookup), cut where
        the grammar refuses one; [] without building the context when drafting is off."""
        room = min(self.draft_tokens, max_tokens - len(seq.tokens))
        if room <= 0:
            return []
        guess = draft(prompt + seq.tokens, room)
        return guess[: seq.matcher.validate_tokens(guess)] if guess else guess

    # -- generation ------------------------------------------------------------
    def generate(self, prompts: list[Messages], grammar: Any, max_tokens: int = 128,
                 temperature: float = 0.0, n: int = 1, seed: int | None = None) -> list[Generation]:
        spec = grammar.validated_spec(self.ll_tokenizer)
        rng = np.random.default_rng(seed if seed is not None else 0)
        with self._lock:
            return [self.decode(self.render(messages), spec, max_tokens=max_tokens, temperature=temperature,
                                n=n, rng=rng) for messages in prompts]

    def decode(self, prompt: list[int], spec: str | None, *, max_tokens: int = 128, temperature: float = 0.0,
               n: int = 1, rng: np.random.Generator | None = None) -> Generation:
        """`n` completions of `prompt` (token ids) that the llguidance `spec` allows.

        `spec=None` decodes without a grammar (the unconstrained reference): it
        stops at EOS, at a newline (a query is one line), on a loop, or at `max_tokens`.
        """
        import llguidance
        import llguidance.numpy

        from nlq.constrain.decode import Sequence, new_matcher, unpack_bitmask

        start = time.perf_counter()
        rng = rng or np.random.default_rng(0)
        timings = {"prefill_s": 0.0, "forward_s": 0.0, "mask_s": 0.0, "grammar_s": 0.0, "sample_s": 0.0,
                   "decode_s": 0.0}
        steps = masks = drafted = accepted = 0
        completions = []
        bitmask = llguidance.numpy.allocate_token_bitmask(1, self.n_vocab)
        for _ in range(n):
            t0 = time.perf_counter()
            seq = Sequence(new_matcher(self.ll_tokenizer, spec) if spec else _FreeMatcher(self))
            if seq.matcher.is_error():
                raise NlqError(f"llguidance matcher error: {seq.matcher.get_error()}")
            # tokens the grammar forces before anything is sampled join the prompt
            head = list(seq.matcher.compute_ff_tokens())[:max_tokens]
            if head:
                seq.matcher.consume_tokens(head)
                seq.tokens.extend(head)
                seq.forced += len(head)
            timings["grammar_s"] += time.perf_counter() - t0

            t0 = time.perf_counter()
            # `guess`: drafted tokens in the cache after the current position, not yet taken;
            # `rows`: the logits at the current position, then after each of them
            guess = self._guess(prompt, seq, max_tokens)
            rows, reused = self._prefill(prompt + head, guess)
            drafted += len(guess)
            self.cached_tokens = reused
            timings["prefill_s"] += time.perf_counter() - t0
            if seq.matcher.is_stopped():
                seq.finish("grammar")

            t_decode = time.perf_counter()
            row = 0
            while not seq.done:
                t0 = time.perf_counter()
                logits = rows[row]
                wanted = int(np.argmax(logits))
                if spec:
                    llguidance.numpy.fill_next_token_bitmask(seq.matcher, bitmask, 0)
                    masks += 1
                    allowed = unpack_bitmask(bitmask, self.n_vocab)[0]
                    wanted_outside = not allowed[wanted]
                    logits[~allowed] = -np.inf
                else:
                    wanted_outside = False
                timings["mask_s"] += time.perf_counter() - t0

                t0 = time.perf_counter()
                token = wanted if temperature <= 0 and not wanted_outside else _pick(logits, temperature, rng)
                timings["sample_s"] += time.perf_counter() - t0

                t0 = time.perf_counter()
                fed = seq.advance(token, wanted_outside, eos_token_id=self.eos_token_id, max_tokens=max_tokens)
                feed = [token, *seq.pending]
                seq.pending.clear()
                timings["grammar_s"] += time.perf_counter() - t0
                if seq.done or not fed:
                    break

                if guess and guess[0] == token:  # the model's own pick: already in the cache
                    guess.pop(0)
                    accepted += 1
                    row += 1
                    feed.pop(0)
                    if not feed:
                        continue  # rows[row] holds the logits after it
                t0 = time.perf_counter()
                self.llm.n_tokens -= len(guess)  # drop the drafted tokens not taken
                guess = self._guess(prompt, seq, max_tokens)
                rows, row = self._eval_rows(feed + guess, len(guess) + 1), 0
                drafted += len(guess)
                steps += 1
                timings["forward_s"] += time.perf_counter() - t0
            timings["decode_s"] += time.perf_counter() - t_decode
            if not spec and seq.finish_reason == "grammar":
                seq.finish_reason = "stop"  # the free loop's end of line
            completions.append(Completion(self._text(seq.tokens, spec), len(seq.tokens), seq.forced,
                                          seq.finish_reason, seq.error))
        timings["total_s"] = time.perf_counter() - start
        generation = Generation(completions, prompt_tokens=len(prompt), timings=timings, steps=steps, masks=masks,
                                drafted=drafted, accepted=accepted)
        generation.cached_tokens = self.cached_tokens
        return generation

    def _text(self, tokens: list[int], spec: str | None) -> str:
        if spec:
            return self.ll_tokenizer.decode_str(tokens)
        return self.llm.detokenize(tokens).decode("utf-8", errors="replace").rstrip("\n")


def _pick(logits: np.ndarray, temperature: float, rng: np.random.Generator) -> int:
    """Greedy at temperature 0, else a sample from softmax(logits / temperature)."""
    if temperature <= 0:
        return int(np.argmax(logits))
    z = (logits - logits.max()) / temperature
    p = np.exp(z)
    return int(rng.choice(len(p), p=p / p.sum()))


class _FreeMatcher:
    """A stand-in for `LLMatcher` that allows everything: a query ends at a newline or EOS."""

    def __init__(self, model: LlamaCppModel):
        self._model = model
        self._stopped = False

    def is_error(self) -> bool:
        return False

    def get_error(self) -> str:
        return ""

    def compute_ff_tokens(self) -> list[int]:
        return []

    def is_accepting(self) -> bool:
        return True

    def is_stopped(self) -> bool:
        return self._stopped

    def consume_tokens(self, tokens: list[int]) -> bool:
        return True

    def validate_tokens(self, tokens: list[int]) -> int:
        return len(tokens)

    def consume_token(self, token: int) -> bool:
        # llama.cpp's own piece for the token: a newline ends the one-line query
        self._stopped = b"\n" in self._model.llm.detokenize([token])
        return True


def _close_quietly(llm_ref: Any) -> None:
    llm = llm_ref()
    if llm is not None:
        llm.close()


def weight_type() -> str:
    """`NLQ_LLAMA_WEIGHTS`: the type the embedded model's weights are written in (default q8_0)."""
    from nlq.models.gguf_export import OUTPUT_TYPES

    weights = os.environ.get("NLQ_LLAMA_WEIGHTS", "").strip().lower() or "q8_0"
    if weights not in OUTPUT_TYPES:
        raise UsageError(f"NLQ_LLAMA_WEIGHTS={weights}: choose one of {', '.join(OUTPUT_TYPES)}")
    return weights


def load(argument: str) -> LlamaCppModel:
    """`--model llama-cpp[:base|:adapter=DIR|:shipped|:<file.gguf>]` (see the module docstring)."""
    import sys

    from nlq.models.adapter import mark_prompt, parse_embedded_argument, read_info
    from nlq.models.embedded import GGUF_FILE, MODEL_NAME, gguf_path
    from nlq.models.gguf_export import cached_gguf

    if argument.endswith(".gguf"):
        if not os.path.isfile(argument):
            raise UsageError(f"--model llama-cpp:{argument}: no such GGUF file")
        return LlamaCppModel(argument)
    if argument == "shipped":
        return LlamaCppModel(str(gguf_path()), name=f"llama-cpp:{GGUF_FILE}")
    adapter, _ = parse_embedded_argument(argument)  # a device part is meaningless here: CPU
    path = cached_gguf(adapter, out_type=weight_type(), log=lambda msg: print(msg, file=sys.stderr))
    if adapter is None:
        return LlamaCppModel(str(path), name=f"llama-cpp:{MODEL_NAME}")
    model = LlamaCppModel(str(path), name=f"llama-cpp:{MODEL_NAME}+adapter:{adapter.name}")
    mark_prompt(model, read_info(adapter))
    return model
