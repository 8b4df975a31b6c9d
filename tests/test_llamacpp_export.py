"""GGUF export: the embedded model + a real peft LoRA adapter, merged into one Q8_0 GGUF,
gives llama.cpp the logits transformers computes with the adapter merged."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from nlq.errors import UsageError

pytestmark = pytest.mark.model

TARGETS = ["v_proj", "o_proj", "gate_proj", "up_proj", "down_proj", "q_proj"]  # q_proj: the rotary permutation
MESSAGES = [
    {"role": "system", "content": "Write a PromQL query. Answer with the query only."},
    {"role": "user", "content": "memory used by each pod of the checkout service"},
]


@pytest.fixture(scope="module")
def embedded():
    from nlq.models import load_model
    from nlq.models.embedded import ModelUnavailable

    try:
        return load_model("embedded:base")
    except ModelUnavailable as exc:
        pytest.skip(str(exc))


@pytest.fixture(scope="module")
def adapter(embedded, tmp_path_factory):
    """A LoRA adapter written by peft, with weights large enough to move the logits."""
    import copy

    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(0)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=TARGETS, init_lora_weights=False)
    model = get_peft_model(copy.deepcopy(embedded.model), config)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.mul_(0.3)
    path = tmp_path_factory.mktemp("adapter") / "toy"
    model.save_pretrained(str(path))
    return path


def test_deltas_are_placed_by_gguf_name(adapter):
    from nlq.models.gguf_export import lora_deltas

    deltas = lora_deltas(adapter)
    assert len(deltas) == 30 * len(TARGETS)
    assert deltas["blk.0.attn_v.weight"].shape == (192, 576)
    assert deltas["blk.29.ffn_down.weight"].shape == (576, 1536)
    assert np.abs(deltas["blk.3.attn_output.weight"]).max() > 0


def test_unreadable_adapter_is_a_clear_error(tmp_path):
    from nlq.models.gguf_export import lora_deltas

    with pytest.raises(UsageError, match="not a readable peft adapter"):
        lora_deltas(tmp_path)


@pytest.mark.skipif(importlib.util.find_spec("llama_cpp") is None,
                    reason="llama-cpp-python is not installed (optional: it builds from source for ~10 minutes)")
def test_merged_gguf_logits_match_merged_transformers(embedded, adapter, tmp_path):
    import copy

    import torch
    from peft import PeftModel

    from nlq.models.embedded import gguf_path
    from nlq.models.gguf_export import export_gguf
    from nlq.models.llamacpp import LlamaCppModel

    merged_file, base_file = tmp_path / "merged.gguf", tmp_path / "base.gguf"
    info = export_gguf(gguf_path(), merged_file, adapter)
    assert info["merged_tensors"] == 30 * len(TARGETS)
    export_gguf(gguf_path(), base_file)

    ids = embedded.render(MESSAGES)
    merged_hf = PeftModel.from_pretrained(copy.deepcopy(embedded.model), str(adapter)).merge_and_unload()
    with torch.inference_mode():
        want = merged_hf(input_ids=torch.tensor([ids])).logits[0, -1].numpy()
    got = {}
    for name, path in (("merged", merged_file), ("base", base_file)):
        llama = LlamaCppModel(str(path), n_ctx=512)
        assert llama.render(MESSAGES) == ids
        got[name], _ = llama.prefill(ids)
        del llama

    merged_error = np.abs(got["merged"] - want).max()
    base_error = np.abs(got["base"] - want).max()
    # llama.cpp and transformers differ by up to ~0.5 on the same weights (llama.cpp rounds
    # activations to 8 bits in its dot products); the adapter moves the logits much more
    assert base_error > 1.0, (merged_error, base_error)
    assert merged_error < 0.5 * base_error, (merged_error, base_error)
    assert np.corrcoef(got["merged"], want)[0, 1] > 0.999
    # a random adapter leaves near ties at the top: each side's first choice is in the other's top 5
    assert int(np.argmax(want)) in np.argsort(got["merged"])[-5:]
    assert int(np.argmax(got["merged"])) in np.argsort(want)[-5:]


def test_q4_0_export_writes_q4_0_blocks_and_a_bad_weight_type_is_a_usage_error(tmp_path, monkeypatch):
    from gguf import GGMLQuantizationType, GGUFReader

    from nlq.models.embedded import gguf_path
    from nlq.models.gguf_export import export_gguf
    from nlq.models.llamacpp import weight_type

    target = tmp_path / "base.q4_0.gguf"
    info = export_gguf(gguf_path(), target, out_type="q4_0")
    types = {t.name: t.tensor_type for t in GGUFReader(str(target)).tensors}
    assert info["converted_tensors"] > 0 and types["blk.0.ffn_up.weight"] == GGMLQuantizationType.Q4_0
    assert types["token_embd.weight"] == GGMLQuantizationType.Q8_0  # copied as shipped

    monkeypatch.setenv("NLQ_LLAMA_WEIGHTS", "q4_0")
    assert weight_type() == "q4_0"
    monkeypatch.setenv("NLQ_LLAMA_WEIGHTS", "q3")
    with pytest.raises(UsageError, match="NLQ_LLAMA_WEIGHTS=q3: choose one of q8_0, q4_0, f16"):
        weight_type()
