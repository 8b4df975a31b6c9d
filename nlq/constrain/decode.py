"""Grammar-constrained decoding over a transformers causal LM, with llguidance masks.

One `LLMatcher` per sequence walks the grammar.  Each decode step:

1. the matchers fill a bitmask of allowed tokens (`fill_next_token_bitmask_par`
   for a batch: all rows in parallel, GIL released);
2. the bitmask is unpacked on the CPU (numpy) and disallowed logits set to -inf
   (`llguidance.torch.apply_token_bitmask_inplace` would need torch.compile,
   i.e. inductor and a C compiler, on the CPU);
3. a token is picked (greedy at temperature 0, else sampled) and consumed;
4. tokens the grammar now forces (`compute_ff_tokens`: the rest of a keyword,
   a closing quote) are consumed without sampling.  With one sequence they go
   into the next forward pass together (one pass for several tokens); in a
   batch they are fed one per step, but need no mask.

A sequence ends when its matcher stops (the grammar can go no further), when
EOS is picked (allowed only where the grammar accepts), when the query is
complete and the model's own first choice lies outside the grammar (it wanted
to end the answer: a newline, prose), when it loops (`+ {a} + {a} + {a}`), or
at `max_tokens`.  Without that last
rule a small model, denied its newline after a complete query, continues with
the likeliest allowed token (` + 1000...`) instead of stopping.
Per-step times are added up into `mask_s` (fill + unpack + apply),
`grammar_s` (consume + fast-forward), `sample_s` and `forward_s`.

Prefill is most of a question's time on a CPU (a 500-token prompt against a
40-token answer).  A `PrefixCache` keeps the key/value tensors of the last
prompt: the next prompt prefills only what follows the longest shared prefix
(a retry repeats its whole first prompt; questions of one dialect share the
system prompt).  `prefill_threads` runs the prefill, a wide matmul that two
threads do in about half the time, with more threads than the decode steps,
which are memory-bound and lose to a second spinning thread on a busy machine.

    >>> gen = constrained_decode(model, ids, ll_tok, spec, eos_token_id=2)  # doctest: +SKIP
    >>> gen.texts, gen.timings["mask_s"] / gen.timings["decode_s"]           # doctest: +SKIP
"""

from __future__ import annotations

import inspect
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import llguidance
import llguidance.numpy
import numpy as np

from nlq.models.base import Completion, Generation

if TYPE_CHECKING:  # torch is imported where it runs: the llama.cpp backend never loads it
    import torch

_EXECUTOR: Any = None
#: (tokenizer id, grammar spec) -> (tokenizer, a matcher never advanced): compiled once, copied per sequence
_MATCHERS: dict[tuple[int, str], tuple[Any, Any]] = {}
_MATCHERS_LOCK = threading.Lock()
MAX_CACHED_MATCHERS = 32


def new_matcher(ll_tokenizer: Any, grammar_spec: str) -> Any:
    """A fresh `LLMatcher` for `grammar_spec`.

    Building one compiles the grammar (~35 ms for a narrowed PromQL grammar,
    as long as 30 llama.cpp decode steps); a copy of a kept, never-advanced
    matcher takes microseconds.
    """
    key = (id(ll_tokenizer), grammar_spec)
    with _MATCHERS_LOCK:
        entry = _MATCHERS.get(key)
    if entry is None or entry[0] is not ll_tokenizer:
        pristine = llguidance.LLMatcher(ll_tokenizer, grammar_spec)
        if pristine.is_error():
            raise RuntimeError(f"llguidance matcher error: {pristine.get_error()}")
        entry = (ll_tokenizer, pristine)
        with _MATCHERS_LOCK:
            if len(_MATCHERS) >= MAX_CACHED_MATCHERS:
                _MATCHERS.pop(next(iter(_MATCHERS)))
            _MATCHERS[key] = entry
    return entry[1].deep_copy()


def _executor() -> Any:
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = llguidance.LLExecutor()
    return _EXECUTOR


class PrefixCache:
    """The key/value cache of the last prompt a model prefilled, for reuse by the next.

    Cache layers grow by concatenation (never in place), so the tensors kept
    here stay valid while later decodes extend their own copies.  One entry
    only: the last prompt is the best predictor of the next (same dialect,
    same system prompt; a retry extends the prompt it retries).
    """

    def __init__(self, min_tokens: int = 32):
        #: shorter shared prefixes are prefilled again (not worth the bookkeeping)
        self.min_tokens = min_tokens
        self._ids: list[int] = []
        self._layers: list[tuple[torch.Tensor, torch.Tensor]] = []
        self._lock = threading.Lock()
        self.hits = 0
        self.reused_tokens = 0

    def lookup(self, ids: list[int]) -> tuple[int, list[tuple[torch.Tensor, torch.Tensor]]]:
        """(length, per-layer (keys, values) views) of the longest cached prefix of `ids`.

        At least the last token of `ids` is left out, so the caller's forward
        pass has a position to take the next-token logits from.
        """
        with self._lock:
            cached, layers = self._ids, self._layers
        limit = min(len(cached), len(ids) - 1)
        length = 0
        while length < limit and cached[length] == ids[length]:
            length += 1
        if length < self.min_tokens or not layers:
            return 0, []
        self.hits += 1
        self.reused_tokens += length
        return length, [(k[:, :, :length], v[:, :, :length]) for k, v in layers]

    def store(self, ids: list[int], cache: Any) -> None:
        """Remember `cache` (a batch-1 DynamicCache holding exactly `ids`)."""
        layers = [(layer.keys, layer.values) for layer in cache.layers]
        if any(k is None or k.shape[0] != 1 or k.shape[-2] != len(ids) for k, _ in layers):
            return
        with self._lock:
            self._ids, self._layers = list(ids), layers

    def clear(self) -> None:
        with self._lock:
            self._ids, self._layers = [], []


def _cache_argument(model: Any) -> str:
    """The name forward() takes the KV cache by: transformers 5 renamed `past_key_values` to
    `cache`, and the old name warns on every step (on the user's terminal, in `nlq ask`)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _prefill(model: Any, ids: list[int], device: Any, prefix_cache: PrefixCache | None) -> tuple[Any, Any, int]:
    """(last logits, KV cache, tokens reused) after running `ids` through `model`."""
    import torch
    from transformers import DynamicCache

    reused, layers = prefix_cache.lookup(ids) if prefix_cache is not None else (0, [])
    past = DynamicCache(ddp_cache_data=layers, config=model.config) if reused else None
    input_ids = torch.tensor([ids[reused:]], dtype=torch.long, device=device)
    out = model(input_ids=input_ids, use_cache=True, **{_cache_argument(model): past})
    if prefix_cache is not None:
        prefix_cache.store(ids, out.past_key_values)
    return out.logits[:, -1, :], out.past_key_values, reused


@dataclass
class Sequence:
    """One sequence being decoded: its matcher, tokens so far, and why it ended.

    `advance` holds the stop rules, shared by every local backend's decode loop.
    """

    matcher: Any
    tokens: list[int] = field(default_factory=list)
    forced: int = 0
    pending: list[int] = field(default_factory=list)  # forced tokens not yet fed to the model
    done: bool = False
    finish_reason: str = "length"
    error: str | None = None

    def finish(self, reason: str, error: str | None = None) -> None:
        self.done, self.finish_reason, self.error = True, reason, error

    def advance(
        self,
        token: int,
        wanted_outside: bool,
        *,
        eos_token_id: int,
        max_tokens: int,
        fast_forward: bool = True,
        stop_when_complete: bool = True,
        stop_repetition: bool = True,
    ) -> bool:
        """Take the picked `token` (the model's own first choice lay outside the grammar if
        `wanted_outside`), then any tokens the grammar forces after it (into `pending`).

        True when `token` joined the sequence and must be fed to the model (with
        `pending`, unless `done`).
        """
        if stop_when_complete and wanted_outside and self.matcher.is_accepting():
            self.finish("stop")
            return False
        if token == eos_token_id:
            self.matcher.consume_token(token)
            self.finish("eos")
            return False
        if not self.matcher.consume_token(token):
            self.finish("error", self.matcher.get_error() or f"token {token} refused")
            return False
        self.tokens.append(token)
        if stop_repetition and repeating(self.tokens):
            self.finish("repetition")
        elif self.matcher.is_stopped():
            self.finish("grammar")
        elif fast_forward:
            ff = list(self.matcher.compute_ff_tokens())[: max_tokens - len(self.tokens)]
            if ff:
                if not self.matcher.consume_tokens(ff):
                    self.finish("error", self.matcher.get_error())
                    return True
                self.tokens.extend(ff)
                self.forced += len(ff)
                self.pending.extend(ff)
                if self.matcher.is_stopped():
                    self.finish("grammar")
        if not self.done and len(self.tokens) >= max_tokens:
            self.finish("length")
        return True


def repeating(tokens: list[int], max_period: int = 16) -> bool:
    """True when the sequence ends in a loop: a block of p tokens repeated
    max(3, ceil(12 / p)) times (12 for single tokens, so `1000000` is not a loop)."""
    n = len(tokens)
    for p in range(1, max_period + 1):
        repeats = max(3, -(-12 // p))
        if n < p * repeats:
            break
        block = tokens[n - p:]
        if all(tokens[n - (k + 1) * p : n - k * p] == block for k in range(1, repeats)):
            return True
    return False


def unpack_bitmask(bitmask: np.ndarray, vocab: int) -> np.ndarray:
    """(batch, words) int32 llguidance bitmask -> (batch, vocab) bool array of allowed tokens."""
    bits = np.unpackbits(bitmask.view(np.uint8), axis=1, bitorder="little")
    return bits[:, :vocab].astype(bool)


def _pick(logits: torch.Tensor, temperature: float, generator: torch.Generator | None) -> torch.Tensor:
    import torch

    if temperature <= 0:
        return torch.argmax(logits, dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


def constrained_decode(
    model: Any,
    prompt_ids: list[int],
    ll_tokenizer: Any,
    grammar_spec: str,
    *,
    eos_token_id: int,
    max_tokens: int = 128,
    temperature: float = 0.0,
    n: int = 1,
    seed: int | None = None,
    fast_forward: bool = True,
    stop_when_complete: bool = True,
    stop_repetition: bool = True,
    prefix_cache: PrefixCache | None = None,
    prefill_threads: int | None = None,
) -> Generation:
    """Generate `n` sequences after `prompt_ids` that `grammar_spec` (llguidance) allows.

    `prefix_cache` (one per model) skips the prefill of a prompt prefix the
    last call already computed; `prefill_threads` sets torch's CPU threads for
    the prefill only (the decode keeps the process setting).
    """
    import torch

    with torch.inference_mode():
        return _decode(model, prompt_ids, ll_tokenizer, grammar_spec, eos_token_id=eos_token_id,
                       max_tokens=max_tokens, temperature=temperature, n=n, seed=seed,
                       fast_forward=fast_forward, stop_when_complete=stop_when_complete,
                       stop_repetition=stop_repetition, prefix_cache=prefix_cache,
                       prefill_threads=prefill_threads)


def _decode(
    model: Any,
    prompt_ids: list[int],
    ll_tokenizer: Any,
    grammar_spec: str,
    *,
    eos_token_id: int,
    max_tokens: int,
    temperature: float,
    n: int,
    seed: int | None,
    fast_forward: bool,
    stop_when_complete: bool,
    stop_repetition: bool,
    prefix_cache: PrefixCache | None,
    prefill_threads: int | None,
) -> Generation:
    import torch

    t_start = time.perf_counter()
    device = next(model.parameters()).device
    generator = None
    if temperature > 0:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed if seed is not None else 0)

    seqs = [Sequence(new_matcher(ll_tokenizer, grammar_spec)) for _ in range(n)]
    for seq in seqs:
        if seq.matcher.is_error():
            raise RuntimeError(f"llguidance matcher error: {seq.matcher.get_error()}")

    timings = {"prefill_s": 0.0, "forward_s": 0.0, "mask_s": 0.0, "grammar_s": 0.0, "sample_s": 0.0}
    steps = masks = 0

    # Tokens forced before anything is sampled (a grammar that starts with a
    # fixed keyword) are the same for every sequence: they join the prefill.
    t0 = time.perf_counter()
    head: list[int] = []
    if fast_forward:
        head = list(seqs[0].matcher.compute_ff_tokens())[:max_tokens]
        for seq in seqs:
            if head and not seq.matcher.consume_tokens(head):
                raise RuntimeError(f"llguidance refused its own forced tokens: {seq.matcher.get_error()}")
            seq.tokens.extend(head)
            seq.forced += len(head)
    timings["grammar_s"] += time.perf_counter() - t0

    t0 = time.perf_counter()
    decode_threads = torch.get_num_threads()
    if prefill_threads and device.type == "cpu":
        torch.set_num_threads(prefill_threads)
    try:
        logits, past, reused = _prefill(model, prompt_ids + head, device, prefix_cache)
    finally:
        if prefill_threads and device.type == "cpu":
            torch.set_num_threads(decode_threads)
    cache_argument = _cache_argument(model)
    if n > 1:
        past.reorder_cache(torch.zeros(n, dtype=torch.long, device=device))
        logits = logits.expand(n, -1)
    timings["prefill_s"] = time.perf_counter() - t0

    vocab = logits.shape[-1]
    bitmask = llguidance.numpy.allocate_token_bitmask(n, vocab)
    for seq in seqs:
        if seq.matcher.is_stopped():
            seq.done, seq.finish_reason = True, "grammar"

    t_decode = time.perf_counter()
    while not all(seq.done for seq in seqs):
        # -- masks for the sequences that need a sampled token -------------
        t0 = time.perf_counter()
        need = [i for i, s in enumerate(seqs) if not s.done and not s.pending]
        if need:
            if len(need) == 1:
                llguidance.numpy.fill_next_token_bitmask(seqs[need[0]].matcher, bitmask, need[0])
            else:
                llguidance.numpy.fill_next_token_bitmask_par(
                    _executor(), [(seqs[i].matcher, i) for i in need], bitmask
                )
            masks += len(need)
            allowed = torch.from_numpy(unpack_bitmask(bitmask[need], vocab)).to(device)
            raw_rows = logits[need].float()
            wants = torch.argmax(raw_rows, dim=-1)
            wants_out = (~allowed.gather(1, wants.unsqueeze(1)).squeeze(1)).tolist()
            rows = raw_rows.masked_fill(~allowed, float("-inf"))
        timings["mask_s"] += time.perf_counter() - t0

        t0 = time.perf_counter()
        picked = _pick(rows, temperature, generator).tolist() if need else []
        timings["sample_s"] += time.perf_counter() - t0

        # -- consume, fast-forward, decide what each sequence feeds next ----
        t0 = time.perf_counter()
        feed: list[list[int]] = [[] for _ in seqs]
        for row, (i, token) in enumerate(zip(need, picked, strict=True)):
            seq = seqs[i]
            if seq.advance(token, wants_out[row], eos_token_id=eos_token_id, max_tokens=max_tokens,
                           fast_forward=fast_forward, stop_when_complete=stop_when_complete,
                           stop_repetition=stop_repetition):
                feed[i].append(token)
        for i, seq in enumerate(seqs):
            if seq.done:
                continue
            if len(seq.tokens) >= max_tokens:
                seq.done, seq.finish_reason = True, "length"
                continue
            if n == 1:
                feed[i].extend(seq.pending)  # one forward pass for the sampled + forced tokens
                seq.pending.clear()
            elif not feed[i] and seq.pending:
                feed[i].append(seq.pending.pop(0))
        timings["grammar_s"] += time.perf_counter() - t0

        if all(seq.done for seq in seqs):
            break

        # -- forward pass -----------------------------------------------------
        t0 = time.perf_counter()
        if n == 1:
            step_ids = torch.tensor([feed[0]], dtype=torch.long, device=device)
        else:
            # every row feeds exactly one token (done rows feed EOS and are ignored)
            step_ids = torch.tensor(
                [[f[0] if f else eos_token_id] for f in feed], dtype=torch.long, device=device
            )
        out = model(input_ids=step_ids, use_cache=True, **{cache_argument: past})
        past = out.past_key_values
        logits = out.logits[:, -1, :]
        steps += 1
        timings["forward_s"] += time.perf_counter() - t0

    end = time.perf_counter()
    timings["decode_s"] = end - t_decode
    timings["total_s"] = end - t_start
    completions = []
    for seq in seqs:
        text = ll_tokenizer.decode_str(seq.tokens)
        completions.append(
            Completion(
                text=text,
                tokens=len(seq.tokens),
                forced_tokens=seq.forced,
                finish_reason=seq.finish_reason,
                error=seq.error,
            )
        )
    generation = Generation(
        completions=completions,
        prompt_tokens=len(prompt_ids),
        timings=timings,
        steps=steps,
        masks=masks,
    )
    # prompt tokens whose keys/values came from the prefix cache (not a Generation field yet)
    generation.cached_tokens = reused
    return generation
