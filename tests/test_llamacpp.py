"""The llama.cpp backend on the real embedded GGUF: constrained answers in the grammar's
language that pass nlq's checks, the same prompt tokens as transformers, prefix reuse,
seeded sampling, and the unconstrained reference loop."""

from __future__ import annotations

import importlib.util

import llguidance
import pytest

from nlq import dialects
from nlq.constrain.grammar import ConstraintGrammar
from nlq.constrain.narrow import narrowed_grammar
from nlq.prompting.prompt import build_prompt
from nlq.translate import default_catalog, translate

pytestmark = [
    pytest.mark.model,
    pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                       reason="llama-cpp-python is not installed (optional: it builds from source for ~10 minutes)"),
]

BYTES = llguidance.LLTokenizer("byte")
QUESTIONS = [
    ("promql", "open file descriptors of the search service"),
    ("promql", "rate of HTTP requests with a 5xx status, by service"),
    ("logql", "error logs of the checkout service"),
]
TOY = r"""
start: "sum(rate(" METRIC "[" DUR "]))"
METRIC: "http_requests_total" | "node_cpu_seconds_total"
DUR: "1m" | "5m" | "1h"
"""
MESSAGES = [
    {"role": "system", "content": "Write a PromQL query. Answer with the query only."},
    {"role": "user", "content": "total rate of HTTP requests over 5 minutes"},
]


def in_language(lark_text: str, text: str) -> bool:
    """Does llguidance accept `text`, fed byte by byte, as a whole sentence of the grammar?"""
    matcher = llguidance.LLMatcher(BYTES, llguidance.LLMatcher.grammar_from_lark(lark_text))
    return all(matcher.consume_token(t) for t in BYTES.tokenize_str(text)) and matcher.is_accepting()


@pytest.fixture(scope="module")
def model():
    from nlq.models import load_model
    from nlq.models.embedded import ModelUnavailable

    try:
        return load_model("llama-cpp:base")
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


@pytest.mark.parametrize(("dialect", "question"), QUESTIONS)
def test_translate_answers_in_the_grammar_and_valid(model, dialect, question):
    catalog = default_catalog(dialect)
    grammar = narrowed_grammar(dialect, catalog)
    result = translate(question, dialect, catalog, model, max_retries=2)
    assert result.status == "ok", result.message
    first = result.attempts[0]
    assert first.timings["prefill_s"] > 0 and first.timings["decode_s"] > 0
    for attempt in result.attempts:
        if attempt.finish_reason in ("grammar", "stop", "eos"):  # complete sentences of the grammar
            assert in_language(grammar.lark, attempt.query), attempt.query
    dialects.get(dialect).validate(result.query, catalog)  # parses and passes the catalog checks


def test_prompt_tokens_match_transformers(model):
    from nlq.models.embedded import ModelUnavailable

    try:
        from nlq.models import load_model

        hf = load_model("embedded:base")
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    messages = build_prompt("memory used by each pod", "promql", default_catalog("promql")).messages
    assert model.render(messages) == hf.render(messages)


def test_greedy_decode_fast_forwards_and_times(model):
    gen = model.generate([MESSAGES], ConstraintGrammar(TOY), max_tokens=32)[0]
    c = gen.completions[0]
    assert in_language(TOY, c.text), c.text
    assert c.finish_reason == "grammar"
    assert c.forced_tokens >= 2 and gen.steps < c.tokens  # "sum(rate(" and "]))" need no sampling
    for key in ("prefill_s", "forward_s", "mask_s", "grammar_s", "sample_s", "decode_s", "total_s"):
        assert key in gen.timings
    assert gen.masks >= 1 and gen.timings["mask_s"] < gen.timings["decode_s"]


def test_next_prompt_reuses_the_evaluated_prefix(model):
    grammar = ConstraintGrammar(TOY)
    first = model.generate([MESSAGES], grammar, max_tokens=32)[0]
    retry = MESSAGES + [{"role": "assistant", "content": first.texts[0]},
                        {"role": "user", "content": "Use a 1 hour window instead."}]
    again = model.generate([retry], grammar, max_tokens=32)[0]
    assert again.cached_tokens >= len(model.render(MESSAGES)) - 2
    model.llm.reset()  # nothing cached: the same answer from a full prefill
    full = model.generate([retry], grammar, max_tokens=32)[0]
    assert full.cached_tokens == 0
    assert full.texts == again.texts


def test_sampling_is_seeded_and_in_the_grammar(model):
    grammar = ConstraintGrammar(TOY)
    gen = model.generate([MESSAGES], grammar, max_tokens=32, temperature=1.0, n=3, seed=7)[0]
    assert len(gen.texts) == 3 and all(in_language(TOY, t) for t in gen.texts), gen.texts
    again = model.generate([MESSAGES], grammar, max_tokens=32, temperature=1.0, n=3, seed=7)[0]
    assert again.texts == gen.texts


def test_unconstrained_reference_stops_at_the_end_of_the_line(model):
    prompt = model.render(MESSAGES)
    gen = model.decode(prompt, None, max_tokens=48)
    c = gen.completions[0]
    assert gen.masks == 0 and gen.timings["mask_s"] < 0.01
    assert "\n" not in c.text and c.finish_reason in ("stop", "eos", "length", "repetition")
    assert c.text.strip()


@pytest.mark.parametrize(("dialect", "question"), QUESTIONS)
def test_drafting_keeps_greedy_answers_in_fewer_passes(model, dialect, question):
    catalog = default_catalog(dialect)
    spec = narrowed_grammar(dialect, catalog).validated_spec(model.ll_tokenizer)
    prompt = model.render(build_prompt(question, dialect, catalog).messages)
    answers = {}
    try:
        for drafts in (0, 4):
            model.draft_tokens = drafts
            answers[drafts] = model.decode(prompt, spec, max_tokens=96)
    finally:
        model.draft_tokens = 0
    plain, drafted = answers[0], answers[4]
    assert plain.drafted == plain.accepted == 0
    assert drafted.texts == plain.texts
    # the answer copies names from the prompt: some drafted tokens are taken, each saving a pass
    assert 0 < drafted.accepted <= drafted.drafted
    assert drafted.steps < plain.steps


def test_drafted_sampling_is_seeded_and_in_the_grammar(model):
    grammar = ConstraintGrammar(TOY)
    model.draft_tokens = 4
    try:
        gen = model.generate([MESSAGES], grammar, max_tokens=32, temperature=1.0, n=3, seed=7)[0]
    finally:
        model.draft_tokens = 0
    plain = model.generate([MESSAGES], grammar, max_tokens=32, temperature=1.0, n=3, seed=7)[0]
    assert all(in_language(TOY, t) for t in gen.texts), gen.texts
    assert gen.texts == plain.texts  # a drafted token is kept only where the sample picked it

