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

    >>> gen = constrained_decode(model, ids, ll_tok, spec, eos_token_id=2)  # doctest: +SKIP
    >>> gen.texts, gen.timings["mask_s"] / gen.timings["decode_s"]           # doctest: +SKIP
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import llguidance
import llguidance.numpy
import numpy as np
import torch

from nlq.models.base import Completion, Generation

_EXECUTOR: Any = None


def _executor() -> Any:
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = llguidance.LLExecutor()
    return _EXECUTOR


@dataclass
class _Sequence:
    matcher: Any
    tokens: list[int] = field(default_factory=list)
    forced: int = 0
    pending: list[int] = field(default_factory=list)  # forced tokens not yet fed to the model
    done: bool = False
    finish_reason: str = "length"
    error: str | None = None


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
    if temperature <= 0:
        return torch.argmax(logits, dim=-1)
    probs = torch.softmax(logits.float() / temperature, dim=-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.inference_mode()
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
) -> Generation:
    """Generate `n` sequences after `prompt_ids` that `grammar_spec` (llguidance) allows."""
    t_start = time.perf_counter()
    device = next(model.parameters()).device
    generator = None
    if temperature > 0:
        generator = torch.Generator(device=device)
        generator.manual_seed(seed if seed is not None else 0)

    seqs = [_Sequence(llguidance.LLMatcher(ll_tokenizer, grammar_spec)) for _ in range(n)]
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
    input_ids = torch.tensor([prompt_ids + head], dtype=torch.long, device=device)
    out = model(input_ids=input_ids, use_cache=True)
    past = out.past_key_values
    logits = out.logits[:, -1, :]
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
            if stop_when_complete and wants_out[row] and seq.matcher.is_accepting():
                seq.done, seq.finish_reason = True, "stop"
                continue
            if token == eos_token_id:
                seq.matcher.consume_token(token)
                seq.done, seq.finish_reason = True, "eos"
                continue
            if not seq.matcher.consume_token(token):
                seq.done, seq.finish_reason = True, "error"
                seq.error = seq.matcher.get_error() or f"token {token} refused"
                continue
            seq.tokens.append(token)
            feed[i].append(token)
            if stop_repetition and repeating(seq.tokens):
                seq.done, seq.finish_reason = True, "repetition"
                continue
            if seq.matcher.is_stopped():
                seq.done, seq.finish_reason = True, "grammar"
                continue
            if fast_forward:
                ff = list(seq.matcher.compute_ff_tokens())
                room = max_tokens - len(seq.tokens)
                ff = ff[:room]
                if ff:
                    if not seq.matcher.consume_tokens(ff):
                        seq.done, seq.finish_reason = True, "error"
                        seq.error = seq.matcher.get_error()
                        continue
                    seq.tokens.extend(ff)
                    seq.forced += len(ff)
                    seq.pending.extend(ff)
                    if seq.matcher.is_stopped():
                        seq.done, seq.finish_reason = True, "grammar"
                        continue
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
        out = model(input_ids=step_ids, past_key_values=past, use_cache=True)
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
    return Generation(
        completions=completions,
        prompt_tokens=len(prompt_ids),
        timings=timings,
        steps=steps,
        masks=masks,
    )
