"""The eval configuration registry and the unconstrained decoding grammar (issue #5)."""

from __future__ import annotations

import llguidance
import pytest

from nlq.constrain.grammar import free_text_grammar
from nlq.errors import UsageError
from nlq.evaluation import ablations
from nlq.evaluation.ablations import DEFAULT, PRESETS, REGISTRY, Config, get, register, resolve


def test_best_comes_first_then_the_preset_without_duplicates():
    names = [c.name for c in resolve(["k0", "unconstrained"], "decoding")]
    assert names == [DEFAULT, "unconstrained", "grammar", "ungrounded", "k0"]
    assert [c.name for c in resolve([], None)] == [DEFAULT]
    assert [c.name for c in resolve(["default"], None, best="k8")] == ["k8", "default"]


def test_every_preset_names_registered_configurations_translate_accepts():
    for preset, names in PRESETS.items():
        configs = resolve([], preset)
        assert [c.name for c in configs[1:]] == [n for n in names if n != DEFAULT], preset
    for config in REGISTRY.values():
        ablations.check_kwargs(config)


def test_the_issue_ablations_set_what_they_say():
    assert get("unconstrained").translate_kwargs() == {"constraint": "none"}
    assert get("grammar").translate_kwargs() == {"constraint": "grammar"}
    assert get("ungrounded").translate_kwargs() == {"ground_values": False}
    assert get("adapter-ungrounded").translate_kwargs() == {"ground_values": False}
    assert get("adapter-ungrounded").tuned
    assert get("no-retry").translate_kwargs() == {"max_retries": 0}
    assert [get(f"k{k}").translate_kwargs()["k_examples"] for k in (0, 4, 8)] == [0, 4, 8]
    assert get(DEFAULT).translate_kwargs() == {}
    assert get("no-retrieval").translate_kwargs() == {"retrieval": "none"}
    assert get("exec-choice").translate_kwargs() == {"choose": "exec"}
    from nlq.choice import CHOICE_MODES
    from nlq.prompting.retrieval import RETRIEVAL_METHODS

    assert {get(n).kwargs["retrieval"] for n in PRESETS["retrieval"]} == set(RETRIEVAL_METHODS)
    assert get("exec-choice").kwargs["choose"] in CHOICE_MODES
    assert get("k4").label() == "k4 (k_examples=4)"


def test_unknown_names_and_parameters_are_clear_errors():
    with pytest.raises(UsageError, match="unknown eval configuration 'k3'.*unconstrained"):
        resolve(["k3"], None)
    with pytest.raises(UsageError, match="unknown ablation preset"):
        resolve([], "everything")
    config = register(Config("test-no-such-knob", "knob", "a knob translate() lacks", {"no_such_knob": 1}))
    try:
        with pytest.raises(UsageError, match="sets no_such_knob, which translate\\(\\) does not take"):
            resolve([config.name], None)
    finally:
        del REGISTRY[config.name]
    with pytest.raises(ValueError, match="registered twice"):
        register(Config(DEFAULT, "default", "again"))


def test_a_config_is_immutable_and_names_its_model():
    config = Config("adapter-off", "adapter", "no adapter", {"k_examples": 2}, model="embedded")
    kwargs = config.translate_kwargs()
    kwargs["k_examples"] = 9
    assert config.translate_kwargs() == {"k_examples": 2}
    with pytest.raises(TypeError):
        config.kwargs["k_examples"] = 9  # type: ignore[index]
    assert config.model_spec("llama-cpp") == "embedded"
    assert get("k0").model_spec("llama-cpp") == "llama-cpp"
    assert config.label() == "adapter-off (k_examples=2, model=embedded)"


def _accepts(spec: str, text: bytes) -> tuple[bool, bool]:
    """(every byte accepted, matcher stopped) for `text` fed byte by byte."""
    tokenizer = llguidance.LLTokenizer("byte")
    matcher = llguidance.LLMatcher(tokenizer, spec)
    ok = all(matcher.consume_token(b) for b in text)
    return ok and not matcher.is_error(), matcher.is_stopped()


def test_free_text_grammar_takes_any_one_line_and_ends_at_the_newline():
    grammar = free_text_grammar()
    spec = grammar.validated_spec(llguidance.LLTokenizer("byte"))
    assert _accepts(spec, b"Sure! Here is the query: sum(rate(x[5m]))") == (True, False)
    assert _accepts(spec, b"sum(rate(x[5m]))\n") == (True, True)
    ok, _ = _accepts(spec, b"two\nlines")
    assert not ok
    ok, _ = _accepts(spec, b"\n")
    assert not ok
    assert free_text_grammar() is grammar


def test_translate_refuses_an_unknown_constraint_before_loading_a_model():
    from nlq.translate import translate

    with pytest.raises(UsageError, match="constraint 'loose'.*catalog, grammar, none"):
        translate("5xx rate of checkout", "promql", None, model="no-such-backend:x", constraint="loose")


@pytest.mark.slow
def test_unconstrained_decoding_runs_the_real_model_through_the_same_loop():
    """The embedded model, no grammar: one line comes out and is validated as usual."""
    from nlq.translate import default_catalog, translate

    result = translate("5xx rate of checkout", "promql", default_catalog("promql"), "embedded",
                       constraint="none", max_retries=0, max_tokens=48)
    assert result.grammar["name"] == "unconstrained"
    assert len(result.attempts) == 1
    attempt = result.attempts[0]
    assert "\n" not in attempt.query and attempt.query
    assert attempt.finish_reason in ("eos", "grammar", "stop", "length")
    assert result.ok == attempt.valid


def test_stack_preset_is_issue_7s_ladder_and_adapter_configs_follow_the_run_engine():
    from nlq.evaluation.ablations import resolve

    names = [c.name for c in resolve([], preset="stack", best="prompt-only")]
    assert names == ["prompt-only", "default", "adapter", "adapter-exec-choice"]
    adapter = get("adapter")
    assert adapter.model_spec("llama-cpp:base", "shop") == "llama-cpp:adapter=shop"
    assert adapter.model_spec("embedded:base", "/tmp/x") == "embedded:adapter=/tmp/x"
    assert adapter.model_spec(None) == "embedded:adapter=shop"
    assert get("prompt-only").model_spec("llama-cpp:base") == "llama-cpp:base"
    assert get("adapter-exec-choice").translate_kwargs() == {"choose": "exec"}


def test_eval_refuses_a_missing_adapter_before_running_anything(tmp_path):
    from click.testing import CliRunner

    from nlq.cli import main

    result = CliRunner().invoke(main, ["eval", "--ablation", "adapter", "--adapter", str(tmp_path / "none"),
                                       "--limit", "1", "--out", str(tmp_path / "out")])
    assert result.exit_code != 0
    assert "not an adapter folder" in result.output
    assert not (tmp_path / "out" / "results.jsonl").exists()
