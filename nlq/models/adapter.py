"""Tuned adapters (from `nlq tune`): load one onto a transformers backend and merge it.

An adapter folder holds peft's `adapter_config.json` + `adapter_model.safetensors`
(fp16, a few MB) and `nlq-adapter.json` (base model, prompt style, the catalogs
it was trained for, training figures).  Loading merges the LoRA weights into the
base weights (`merge_and_unload`), so inference runs at the base model's speed.

Default: `embedded` (and `llama-cpp`) merge adapters/shop/ when it is there
and its `nlq-adapter.json` says `"load_by_default": true` (what `nlq tune`
writes; the shipped one does, with its measurements in its README).
`embedded:base` is the model alone.

Which catalog: the adapter is used for every request, whatever its catalog.
The compact prompt it was trained on carries the request's catalog slice and
retrieved pairs, and the grammar is narrowed to the request's catalog, so a
catalog the adapter never saw gets names from the prompt.  Measured: on two
catalogs it never saw it beat the base model with retrieval (adapters/shop/README.md).
`nlq-adapter.json` records the fingerprints it was trained on
(`backend.adapter_info["catalogs"]`).  A catalog that changed later is served
only after a retrain or a measurement: `"rechecked"` entries name the new
fingerprints and the report that measured the adapter on them
(`served_catalogs`).

    >>> backend = load_model("embedded")            # adapters/shop merged, when shipped  # doctest: +SKIP
    >>> backend.prompt_style, backend.name          # doctest: +SKIP
    ('compact', 'embedded:SmolLM2-135M-Instruct+adapter:shop')
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from nlq.errors import UsageError

ADAPTERS_DIR = Path(__file__).resolve().parents[2] / "adapters"
DEFAULT_ADAPTER = ADAPTERS_DIR / "shop"
ADAPTER_INFO = "nlq-adapter.json"
_DEVICES = ("cpu", "cuda", "mps")


def is_adapter(path: Path) -> bool:
    return (path / ADAPTER_INFO).is_file() and (path / "adapter_config.json").is_file()


def default_adapter() -> Path | None:
    """adapters/shop when shipped and marked to load by default, else None."""
    if is_adapter(DEFAULT_ADAPTER) and read_info(DEFAULT_ADAPTER).get("load_by_default", True):
        return DEFAULT_ADAPTER
    return None


def parse_embedded_argument(argument: str) -> tuple[Path | None, str | None]:
    """`""` -> (the default adapter or None, None); `"base"` -> (None, None);
    `"adapter=DIR,cpu"` -> (DIR, "cpu"); `adapter=shop` names a folder under adapters/."""
    adapter = default_adapter()
    device = None
    for part in filter(None, (p.strip() for p in argument.split(","))):
        if part == "base":
            adapter = None
        elif part.startswith("adapter="):
            adapter = Path(part.partition("=")[2]).expanduser()
            if not adapter.exists() and (ADAPTERS_DIR / adapter).is_dir():
                adapter = ADAPTERS_DIR / adapter
            if not is_adapter(adapter):
                raise UsageError(f"embedded:adapter={adapter}: not an adapter folder "
                                 f"(needs {ADAPTER_INFO} and adapter_config.json; see `nlq tune`)")
        elif part.split(":")[0] in _DEVICES:
            device = part
        else:
            raise UsageError(f"embedded:{argument}: expected base, adapter=DIR or a device (cpu, cuda)")
    return adapter, device


def read_info(path: Path) -> dict:
    try:
        return json.loads((Path(path) / ADAPTER_INFO).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise UsageError(f"{path}: unreadable {ADAPTER_INFO}: {exc}") from None


def served_catalogs(info: dict, dialect: str) -> set[str]:
    """Fingerprints of the `dialect` catalogs the adapter is known to serve: the one it was
    trained on, and each it was measured on after that catalog changed without a retrain
    (a `"rechecked"` entry: `{"catalogs": {dialect: fingerprint}, "report": path}`)."""
    trained = info.get("catalogs", {}).get(dialect, {}).get("fingerprint")
    rechecked = {entry.get("catalogs", {}).get(dialect) for entry in info.get("rechecked", [])}
    return {fingerprint for fingerprint in {trained, *rechecked} if fingerprint}


def mark_prompt(backend: Any, info: dict) -> None:
    """Give `backend` the prompt the adapter was trained on, which translate() renders: its
    style and its number of retrieved pairs (0 for adapters that predate them)."""
    backend.prompt_style = info.get("prompt_style", "compact")
    backend.prompt_examples = int(info.get("prompt_examples", 0))


def apply_adapter(backend: Any, path: str | Path) -> Any:
    """Merge the adapter at `path` into `backend.model` and mark the backend with its prompt style.

    Sets `backend.prompt_style` and `backend.prompt_examples` (what translate()
    renders), `backend.name`
    (`embedded:SmolLM2-135M-Instruct+adapter:shop`) and `backend.adapter_info`.
    """
    from peft import PeftModel

    path = Path(path)
    info = read_info(path)
    base_name = backend.name.split(":", 1)[-1]
    if info.get("base_model") and info["base_model"] != base_name:
        raise UsageError(f"{path} was trained on {info['base_model']}, not {base_name}")
    with warnings.catch_warnings():  # peft calls a transformers API deprecated in v5; noise on every ask
        warnings.simplefilter("ignore", FutureWarning)
        peft_model = PeftModel.from_pretrained(backend.model, str(path))
        backend.model = peft_model.merge_and_unload()
    backend.model.eval()
    mark_prompt(backend, info)
    backend.adapter_info = info
    backend.name = f"{backend.name}+adapter:{path.name}"
    return backend
