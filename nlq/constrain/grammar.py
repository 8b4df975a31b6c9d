"""A grammar ready for constrained decoding: Lark text plus its llguidance form.

The Lark text is what a remote server (vLLM with the guidance backend) takes;
local decoding compiles it once per tokenizer into an llguidance grammar spec.
llguidance does not raise on a bad grammar (its matcher enters an error state
that only allows EOS), so `validated_spec` checks with
`LLMatcher.validate_grammar` and raises `GrammarError` with the engine's words.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from typing import Any

import llguidance

from nlq.errors import NlqError


class GrammarError(NlqError):
    """A grammar that llguidance (or lark) refuses: a bug in nlq or in a grammar file."""


@dataclass
class ConstraintGrammar:
    """Lark text for one dialect, possibly narrowed to a catalog."""

    lark: str
    name: str = "grammar"
    #: e.g. {"metric_name": 120, "label_name": 14}: alternatives put into each narrowed rule
    narrowed: dict[str, int] = field(default_factory=dict)
    #: rules the narrowing wanted but the grammar file does not define
    missing_rules: list[str] = field(default_factory=list)
    #: the fingerprint of the catalog it was narrowed to ("" when none)
    catalog_fingerprint: str = ""
    #: seconds spent building the Lark text and validating it with llguidance
    build_s: float = 0.0
    compile_s: float = 0.0
    _specs: dict[int, str] = field(default_factory=dict, repr=False)

    @property
    def fingerprint(self) -> str:
        return hashlib.sha256(self.lark.encode()).hexdigest()[:16]

    @property
    def spec(self) -> str:
        """The llguidance grammar spec (JSON text) for this Lark grammar."""
        return llguidance.LLMatcher.grammar_from_lark(self.lark)

    def validated_spec(self, ll_tokenizer: Any) -> str:
        """The spec, checked against `ll_tokenizer` once; raises `GrammarError` if refused."""
        key = id(ll_tokenizer)
        cached = self._specs.get(key)
        if cached is not None:
            return cached
        start = time.perf_counter()
        spec = self.spec
        error = llguidance.LLMatcher.validate_grammar(spec, ll_tokenizer)
        self.compile_s = time.perf_counter() - start
        if error:
            raise GrammarError(f"llguidance refused the {self.name} grammar: {error}")
        self._specs[key] = spec
        return spec

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "fingerprint": self.fingerprint,
            "narrowed": self.narrowed,
            "missing_rules": self.missing_rules,
            "build_s": round(self.build_s, 6),
            "compile_s": round(self.compile_s, 6),
        }


#: one line of any text (then a newline or EOS): decoding through the same loop with no grammar to speak of
FREE_TEXT_LARK = "start: /[^\\n]+\\n?/\n"
_FREE_TEXT: ConstraintGrammar | None = None


def free_text_grammar() -> ConstraintGrammar:
    """A grammar that allows any single line: unconstrained decoding (ablations, issue #5).

    The model may say anything up to its first newline or EOS; parse and catalog
    checks then decide validity as they do for a constrained completion.
    """
    global _FREE_TEXT
    if _FREE_TEXT is None:
        _FREE_TEXT = ConstraintGrammar(lark=FREE_TEXT_LARK, name="unconstrained")
    return _FREE_TEXT
