"""What every model backend provides: constrained generation behind one small interface.

A backend turns chat prompts into texts that a grammar allows.  The local
backends (embedded SmolLM2, any transformers model, llama.cpp) run the decode
loop in `nlq.constrain.decode` with llguidance masks; the vLLM backend sends the
grammar to a server that does the same on its side.

    >>> from nlq.models import load_model                      # doctest: +SKIP
    >>> model = load_model("embedded")                          # doctest: +SKIP
    >>> gen = model.generate([messages], grammar, max_tokens=64)[0]  # doctest: +SKIP
    >>> gen.texts[0]                                            # doctest: +SKIP
    'sum(rate(http_requests_total[5m]))'
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from nlq.constrain.grammar import ConstraintGrammar

#: a chat prompt: [{"role": "system"|"user"|"assistant", "content": "..."}, ...]
Messages = list[dict[str, str]]

FINISH_REASONS = ("grammar", "eos", "stop", "length", "repetition", "error")


@dataclass
class Completion:
    """One generated sequence."""

    text: str
    #: tokens the sequence consists of (sampled + forced)
    tokens: int = 0
    #: of those, tokens the grammar forced (fast-forwarded, no sampling needed)
    forced_tokens: int = 0
    #: "grammar" (the grammar reached its end), "eos", "stop" (the query was complete and the
    #: model's first choice lay outside the grammar), "length" (max_tokens), "repetition"
    #: (stopped in a loop), "error"
    finish_reason: str = "grammar"
    error: str | None = None

    def to_dict(self) -> dict:
        return {
            "text": self.text,
            "tokens": self.tokens,
            "forced_tokens": self.forced_tokens,
            "finish_reason": self.finish_reason,
            "error": self.error,
        }


@dataclass
class Generation:
    """The n completions of one prompt, with token counts and timings (seconds)."""

    completions: list[Completion]
    prompt_tokens: int = 0
    #: of the prompt tokens, those whose KV cache was reused from the previous call (not prefilled)
    cached_tokens: int = 0
    #: prefill_s, decode_s, forward_s, mask_s, sample_s, total_s (whatever the backend measures)
    timings: dict[str, float] = field(default_factory=dict)
    #: decode steps (forward passes after the prompt) and mask computations
    steps: int = 0
    masks: int = 0
    #: draft tokens evaluated beside the picked ones (speculative decoding), and of those the
    #: ones the model picked too; 0 where the backend does not draft
    drafted: int = 0
    accepted: int = 0

    @property
    def texts(self) -> list[str]:
        return [c.text for c in self.completions]

    @property
    def completion_tokens(self) -> int:
        return sum(c.tokens for c in self.completions)

    def to_dict(self) -> dict:
        return {
            "completions": [c.to_dict() for c in self.completions],
            "prompt_tokens": self.prompt_tokens,
            "cached_tokens": self.cached_tokens,
            "completion_tokens": self.completion_tokens,
            "steps": self.steps,
            "masks": self.masks,
            "drafted": self.drafted,
            "accepted": self.accepted,
            "timings": {k: round(v, 6) for k, v in self.timings.items()},
        }


@runtime_checkable
class ModelBackend(Protocol):
    """A model that generates grammar-constrained text from chat prompts."""

    #: a short name for reports: "embedded:SmolLM2-135M-Instruct", "vllm:http://...".
    name: str
    #: the Hugging Face tokenizer where the backend has one locally, else None
    tokenizer: Any

    def count_tokens(self, messages: Messages) -> int:
        """Prompt length in tokens (an estimate where the backend is remote)."""
        ...

    def generate(
        self,
        prompts: list[Messages],
        grammar: ConstraintGrammar,
        max_tokens: int = 128,
        temperature: float = 0.0,
        n: int = 1,
        seed: int | None = None,
    ) -> list[Generation]:
        """One `Generation` of `n` completions per prompt; every text is in `grammar`'s language
        (unless its finish_reason is "length" or "error")."""
        ...
