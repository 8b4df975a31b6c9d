"""`nlq tune`: a tiny LoRA run on the CPU trains, writes an adapter, and the adapter loads.

The training run is real (the embedded model, peft, a few optimizer steps on
one fixed batch of four pairs) and shared by the tests of this module.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlq.cli import main
from nlq.errors import UsageError

STEPS = 5


@pytest.fixture(scope="module")
def tuned(tmp_path_factory) -> Path:
    """One `nlq tune` run: 4 promql pairs = one batch, seen 5 times, rank 4."""
    from nlq.models.embedded import ModelUnavailable, gguf_path

    try:
        gguf_path()
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
    out = tmp_path_factory.mktemp("adapter")
    result = CliRunner().invoke(
        main,
        ["tune", "-d", "promql", "-n", "4", "--no-fewshot", "--batch-size", "4", "--epochs", str(STEPS),
         "--lr", "1e-2", "--rank", "4", "--threads", "1", "--out", str(out), "--json"],
    )
    assert result.exit_code == 0, result.output
    return out


def pairs_kept(n: int = 4) -> int:
    """How many of the `tuned` run's `n` generated promql pairs survive the held-back check.

    A benchmark case may ask what one of them asks (the average latency of a
    service), and then that pair is dropped; which ones do depends on the
    generator, so the count is worked out here rather than fixed.
    """
    from nlq.commands.tune import BENCHMARK_FILES
    from nlq.training.data import held_back_cases, training_pairs
    from nlq.training.tune import TuneConfig, resolve_catalogs

    held_back = held_back_cases(tuple(str(p) for p in BENCHMARK_FILES))
    catalogs = resolve_catalogs(TuneConfig(dialects=("promql",)))
    kept = len(training_pairs(catalogs, n, TuneConfig.seed, fewshot=False, held_back=held_back))
    assert 2 <= kept <= n, kept  # still a batch worth training on, and still one batch
    return kept


@pytest.mark.model
def test_tune_writes_a_small_fp16_adapter_with_its_record(tuned):
    from safetensors import safe_open

    for name in ("adapter_config.json", "adapter_model.safetensors", "nlq-adapter.json", "loss.jsonl", "loss.png"):
        assert (tuned / name).is_file(), name
    weights = tuned / "adapter_model.safetensors"
    assert weights.stat().st_size < 3_000_000
    with safe_open(str(weights), "pt") as f:
        keys = list(f.keys())
        assert {str(f.get_tensor(k).dtype) for k in keys} == {"torch.float16"}
    # the layers GGUF export permutes are left alone
    assert any("v_proj" in k for k in keys) and any("down_proj" in k for k in keys)
    assert not any("q_proj" in k or "k_proj" in k for k in keys)

    from nlq.constrain.narrow import catalog_fingerprint
    from nlq.translate import default_catalog

    info = json.loads((tuned / "nlq-adapter.json").read_text())
    assert info["base_model"] == "SmolLM2-135M-Instruct"
    assert info["prompt_style"] == "compact"
    assert info["prompt_examples"] == 2  # the default: retrieved pairs in every training prompt
    assert info["catalogs"]["promql"]["fingerprint"] == catalog_fingerprint(default_catalog("promql"))
    assert info["training"]["steps"] == STEPS and info["training"]["examples"] == pairs_kept()
    import torch

    # --device auto takes the GPU where torch sees one, and the record says which
    assert info["training"]["device"] == (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu")
    # by default the benchmark and its renamed copy are held back from training
    root = Path(__file__).resolve().parents[1]
    expected = [*root.glob("evals/*.jsonl"), *root.glob("snapshots/renamed/cases/*.jsonl")]
    assert len(expected) == 8
    assert info["training"]["held_back"] == sorted(str(p.relative_to(root)) for p in expected)


@pytest.mark.model
def test_tune_loss_goes_down_on_a_fixed_batch(tuned):
    records = [json.loads(line) for line in (tuned / "loss.jsonl").read_text().splitlines()]
    losses = [r["loss"] for r in records if "step" in r]
    assert len(losses) == STEPS
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.model
def test_adapter_loads_merged_and_asks_for_the_compact_prompt(tuned):
    import torch

    from nlq.models.embedded import load, load_base

    base = load_base()
    tuned_model = load(f"base,adapter={tuned}")
    assert tuned_model.prompt_style == "compact"
    assert tuned_model.prompt_examples == 2
    assert tuned_model.name == f"embedded:SmolLM2-135M-Instruct+adapter:{tuned.name}"
    assert tuned_model.adapter_info["catalogs"].keys() == {"promql"}
    # merged: plain modules again (no LoRA layers left), weights moved where LoRA was
    assert not any("lora" in name for name, _ in tuned_model.model.named_parameters())
    layer = 0
    base_v = base.model.model.layers[layer].self_attn.v_proj.weight
    tuned_v = tuned_model.model.model.layers[layer].self_attn.v_proj.weight
    assert not torch.equal(base_v, tuned_v)
    assert torch.equal(base.model.model.layers[layer].self_attn.q_proj.weight,
                       tuned_model.model.model.layers[layer].self_attn.q_proj.weight)


@pytest.mark.model
def test_translate_retrieves_as_many_pairs_for_the_adapter_as_it_trained_with(tuned):
    from nlq.models.embedded import load
    from nlq.translate import default_catalog, translate

    tuned_model = load(f"base,adapter={tuned}")
    result = translate("request rate of checkout", "promql", default_catalog("promql"), tuned_model,
                       k_examples=5, max_retries=0, max_tokens=24)
    # the adapter's count, not the caller's k_examples (which is for the base model's prompt)
    assert len(result.examples) == 2


def test_embedded_spec_errors_are_clear(tmp_path):
    from nlq.models.adapter import parse_embedded_argument

    with pytest.raises(UsageError, match="not an adapter folder"):
        parse_embedded_argument(f"adapter={tmp_path}")
    with pytest.raises(UsageError, match="expected base, adapter=DIR or a device"):
        parse_embedded_argument("bogus")
    assert parse_embedded_argument("base,cpu") == (None, "cpu")


def test_tune_usage_errors_exit_2_without_a_traceback(tmp_path):
    runner = CliRunner()
    result = runner.invoke(main, ["tune", "-d", "promql", "--catalog", "a.json", "--catalog", "b.json"])
    assert result.exit_code == 2 and "one --catalog per --dialect" in result.output
    result = runner.invoke(main, ["tune", "-d", "logql", "--catalog", str(tmp_path / "missing.json")])
    assert result.exit_code == 2 and "does not exist" in result.output
    assert "Traceback" not in result.output


@pytest.mark.model
def test_examples_prepared_here_train_as_the_direct_run_did(tuned, tmp_path):
    """The GPU path: prepare the examples on this machine, train elsewhere on the file alone."""
    examples = tmp_path / "examples.jsonl"
    runner = CliRunner()
    prepared = runner.invoke(main, ["tune", "-d", "promql", "-n", "4", "--no-fewshot", "--save-examples",
                                    str(examples), "--json"])
    assert prepared.exit_code == 0, prepared.output
    header, *rows = [json.loads(line) for line in examples.read_text().splitlines()]
    assert header["base_model"] == "SmolLM2-135M-Instruct" and header["dialects"] == ["promql"]
    assert [r["split"] for r in rows] == ["train"] * pairs_kept()
    assert all(0 < r["answer_start"] < len(r["ids"]) for r in rows)

    out = tmp_path / "adapter"
    trained = runner.invoke(main, ["tune", "--examples", str(examples), "--batch-size", "4", "--epochs", str(STEPS),
                                   "--lr", "1e-2", "--rank", "4", "--threads", "1", "--out", str(out), "--json"])
    assert trained.exit_code == 0, trained.output

    def losses(folder):
        return [json.loads(line)["loss"] for line in (folder / "loss.jsonl").read_text().splitlines()]

    assert losses(out) == pytest.approx(losses(tuned), abs=1e-4)
    direct, from_file = (json.loads((d / "nlq-adapter.json").read_text()) for d in (tuned, out))
    for key in ("catalogs", "prompt_examples"):
        assert from_file[key] == direct[key], key
    assert from_file["training"]["held_back"] == direct["training"]["held_back"]
    assert from_file["training"]["examples_file"] == "examples.jsonl"


@pytest.mark.model  # the last two files are read once the model has loaded
def test_examples_fix_the_data_and_a_bad_file_is_refused(tmp_path):
    bad = tmp_path / "bad.jsonl"
    bad.write_text("not json\n")
    runner = CliRunner()
    result = runner.invoke(main, ["tune", "--examples", str(bad), "-n", "5", "-d", "logql"])
    assert result.exit_code == 2 and "--dialect, -n cannot change it" in result.output, result.output
    result = runner.invoke(main, ["tune", "--examples", str(bad), "--save-examples", str(tmp_path / "x.jsonl")])
    assert result.exit_code == 2 and "give one" in result.output
    result = runner.invoke(main, ["tune", "--examples", str(bad), "--out", str(tmp_path / "adapter")])
    assert result.exit_code == 2 and "not a file written by --save-examples" in result.output, result.output
    assert "Traceback" not in result.output
    header = {"format": 1, "base_model": "SmolLM2-135M-Instruct", "vocab_size": 49152}
    bad.write_text(json.dumps(header) + "\n" + json.dumps({"split": "train", "answer_start": 3}) + "\n")
    result = runner.invoke(main, ["tune", "--examples", str(bad), "--out", str(tmp_path / "adapter")])
    assert result.exit_code == 2 and "an example line lacks 'ids'" in result.output, result.output


def test_tune_without_peft_says_what_to_install(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "peft", None)  # as on a machine without the `model` extra
    result = CliRunner().invoke(main, ["tune", "-d", "promql", "-n", "4", "--out", str(tmp_path / "adapter")])
    assert result.exit_code != 0 and "needs torch and peft" in result.output, result.output
    assert "scripts/setup" in result.output and "Traceback" not in result.output


def test_tune_on_a_gpu_torch_cannot_see_is_a_usage_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    result = CliRunner().invoke(main, ["tune", "-d", "promql", "-n", "4", "--device", "cuda",
                                       "--out", str(tmp_path / "adapter")])
    assert result.exit_code == 2, result.output
    assert "sees no CUDA device" in result.output and "--device cpu" in result.output
    assert "Traceback" not in result.output and not (tmp_path / "adapter").exists()


def test_the_shipped_adapter_is_for_the_snapshot_catalogs_and_loads_by_default():
    """Its record must match the catalogs it serves: a changed snapshot catalog needs a new
    adapter, or a measurement of this one on it, recorded with the report that holds it."""
    from nlq.constrain.narrow import catalog_fingerprint
    from nlq.models.adapter import DEFAULT_ADAPTER, default_adapter, read_info, served_catalogs
    from nlq.translate import default_catalog

    info = read_info(DEFAULT_ADAPTER)
    assert default_adapter() == DEFAULT_ADAPTER and info["load_by_default"] is True
    assert info["prompt_style"] == "compact" and info["prompt_examples"] == 2
    for dialect in ("promql", "logql", "datadog-metrics", "datadog-logs"):
        assert catalog_fingerprint(default_catalog(dialect)) in served_catalogs(info, dialect), dialect
    for entry in info.get("rechecked", []):
        assert (DEFAULT_ADAPTER.parents[1] / entry["report"]).is_file(), entry
    assert {"evals/promql.jsonl", "snapshots/renamed/cases/promql.jsonl"} <= set(info["training"]["held_back"])


def test_an_adapter_serves_the_catalog_it_was_trained_on_and_those_it_was_rechecked_on():
    from nlq.models.adapter import served_catalogs

    info = {"catalogs": {"promql": {"fingerprint": "p1"}, "logql": {"fingerprint": "l1"}},
            "rechecked": [{"catalogs": {"logql": "l2"}, "report": "reports/x/README.md"}]}
    assert served_catalogs(info, "promql") == {"p1"}
    assert served_catalogs(info, "logql") == {"l1", "l2"}
    assert served_catalogs(info, "datadog-logs") == set()
    assert served_catalogs({}, "logql") == set()


def test_default_adapter_loads_only_when_marked_so(tmp_path, monkeypatch):
    import nlq.models.adapter as adapter_module

    folder = tmp_path / "shop"
    folder.mkdir()
    (folder / "adapter_config.json").write_text("{}")
    monkeypatch.setattr(adapter_module, "DEFAULT_ADAPTER", folder)
    (folder / "nlq-adapter.json").write_text(json.dumps({"load_by_default": True}))
    assert adapter_module.parse_embedded_argument("") == (folder, None)
    assert adapter_module.parse_embedded_argument("base") == (None, None)
    (folder / "nlq-adapter.json").write_text(json.dumps({"load_by_default": False}))
    assert adapter_module.parse_embedded_argument("") == (None, None)
    assert adapter_module.parse_embedded_argument(f"adapter={folder}") == (folder, None)
