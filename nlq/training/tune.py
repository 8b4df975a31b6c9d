"""LoRA fine-tuning of the embedded model on question-to-query pairs, on the CPU or a GPU.

The adapter targets v_proj, o_proj and the MLP (gate/up/down) of every layer,
not q_proj/k_proj: llama.cpp's GGUF conversion permutes q and k, so an
adapter without them merges into a GGUF export without that bookkeeping.

Loss is on the answer tokens only (the query and `<|im_end|>`), and the
vocabulary projection runs on those positions only: with a 49k vocabulary and
~130-token prompts that saves about a fifth of each step on the CPU.

    >>> from nlq.training.tune import TuneConfig, tune
    >>> result = tune(TuneConfig(dialects=("promql",), n=16, out="adapters/try"))   # doctest: +SKIP
    >>> result.final_loss                                                          # doctest: +SKIP
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nlq.catalog import Catalog, load_catalog
from nlq.errors import UsageError
from nlq.models.embedded import ModelUnavailable, load_base
from nlq.training.data import (
    DIALECTS,
    held_back_cases,
    held_out_pairs,
    training_pairs,
)
from nlq.training.examples import (
    PROMPT_STYLE,
    Encoded,
    Examples,
    encode,
    load_examples,
    save_examples,
    shown_path,
)

TARGET_MODULES = ("v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
ADAPTER_INFO = "nlq-adapter.json"
LOSS_LOG = "loss.jsonl"
LOSS_PLOT = "loss.png"
SNAPSHOT_CATALOGS = Path(__file__).resolve().parents[2] / "snapshots" / "catalog"


@dataclass
class TuneConfig:
    dialects: tuple[str, ...] = DIALECTS
    #: dialect -> catalog file; default the snapshot catalog per dialect
    catalogs: dict[str, str] = field(default_factory=dict)
    #: generated pairs per dialect
    n: int = 300
    fewshot: bool = True
    #: retrieved few-shot pairs in each training prompt (and so at inference): the
    #: adapter learns to use them, so retrieval and tuning add up instead of competing
    prompt_examples: int = 2
    epochs: float = 1.0
    lr: float = 1e-3
    rank: int = 8
    alpha: int | None = None
    batch_size: int = 8
    seed: int = 0
    threads: int | None = None
    out: str = "adapters/shop"
    #: held-out generated pairs per dialect (loss only), for choosing rank and lr
    held_out: int = 0
    #: JSONL case files no training pair may repeat (question or query); `nlq tune` passes the benchmark
    held_back: tuple[str, ...] = ()
    #: stop after this many optimizer steps (None: the epochs decide)
    max_steps: int | None = None
    #: stop after this many minutes of training; the learning-rate schedule then
    #: follows the clock, so a run on a busy CPU still ends with a decayed rate
    max_minutes: float | None = None
    #: "auto" (a CUDA GPU when torch sees one, else the CPU), "cpu" or "cuda"
    device: str = "auto"
    #: train on examples prepared by `prepare_examples` (a GPU machine needs no
    #: catalogs, retrieval model or benchmark then), instead of building them here
    examples: str | None = None


@dataclass
class TuneResult:
    out: str
    examples: int
    tokens: int
    answer_tokens: int
    steps: int
    #: examples the optimizer saw (steps x batch size, fewer when the clock stopped it)
    seen: int
    wall_s: float
    first_loss: float
    final_loss: float
    held_out_loss: float | None
    adapter_bytes: int
    #: where it trained: "cpu" or the GPU's name
    device: str = "cpu"

    def to_dict(self) -> dict:
        return asdict(self)


def resolve_catalogs(config: TuneConfig) -> dict[str, Catalog]:
    """Dialect -> Catalog, from --catalog or the snapshot catalogs; a clear error when one is missing."""
    out = {}
    for dialect in config.dialects:
        if dialect not in DIALECTS:
            raise UsageError(f"--dialect {dialect!r}: expected one of {', '.join(DIALECTS)}")
        path = config.catalogs.get(dialect) or SNAPSHOT_CATALOGS / f"{dialect}.json"
        if not Path(path).is_file():
            raise UsageError(f"no catalog for {dialect}: {path} does not exist (give --catalog)")
        out[dialect] = load_catalog(path, dialect)
    return out


def build_examples(config: TuneConfig, catalogs: dict[str, Catalog], backend: Any) -> Examples:
    """Generate the pairs for `catalogs` (`resolve_catalogs(config)`) and render them as translate() would prompt."""
    from nlq.constrain.narrow import catalog_fingerprint

    held_back = held_back_cases(tuple(sorted(config.held_back)))
    pairs = training_pairs(catalogs, config.n, config.seed, fewshot=config.fewshot, held_back=held_back)
    held = held_out_pairs(catalogs, config.held_out, config.seed, pairs, held_back) if config.held_out else []
    made_from = {
        "dialects": list(config.dialects),
        "catalogs": {d: {"fingerprint": catalog_fingerprint(c), "source": Path(c.source).name if c.source else ""}
                     for d, c in catalogs.items()},
        "n_per_dialect": config.n, "fewshot": config.fewshot, "seed": config.seed,
        "prompt_examples": config.prompt_examples,
        "held_back": sorted(shown_path(p) for p in config.held_back),
    }  # fmt: skip
    return Examples(
        [encode(p, catalogs[p.dialect], backend, config.prompt_examples) for p in pairs],
        [encode(p, catalogs[p.dialect], backend, config.prompt_examples) for p in held],
        made_from,
    )


def prepare_examples(config: TuneConfig, path: str | Path) -> Examples:
    """Build `config`'s examples here and write them to `path`, for a run elsewhere (`--examples`)."""
    catalogs = resolve_catalogs(config)  # a missing catalog is a usage error before the model loads
    backend = load_base("cpu")
    examples = build_examples(config, catalogs, backend)
    save_examples(examples, path, backend)
    return examples


def _batches(encoded: list[Encoded], batch_size: int, rng: random.Random) -> list[list[Encoded]]:
    """Shuffled batches of similar lengths (less padding): sort within windows of 16 batches."""
    order = encoded[:]
    rng.shuffle(order)
    window = batch_size * 16
    batches = []
    for start in range(0, len(order), window):
        chunk = sorted(order[start : start + window], key=lambda e: len(e.ids))
        batches += [chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size)]
    rng.shuffle(batches)
    return batches


DEVICES = ("auto", "cpu", "cuda")


def pick_device(requested: str, torch: Any) -> str:
    """The torch device to train on; a clear error when a GPU is asked for and torch sees none."""
    if requested not in DEVICES:
        raise UsageError(f"--device {requested!r}: expected one of {', '.join(DEVICES)}")
    has_cuda = torch.cuda.is_available()
    if requested == "cuda" and not has_cuda:
        built = f"built with CUDA {torch.version.cuda}" if torch.version.cuda else "a CPU-only build"
        raise UsageError(f"--device cuda: torch {torch.__version__} ({built}) sees no CUDA device; "
                         "use --device cpu")
    return "cuda" if requested == "cuda" or (requested == "auto" and has_cuda) else "cpu"


def device_name(device: str, torch: Any) -> str:
    return torch.cuda.get_device_name(0) if device == "cuda" else "cpu"


def _tensors(batch: list[Encoded], pad_id: int, torch: Any, device: str = "cpu") -> tuple[Any, Any, Any]:
    width = max(len(e.ids) for e in batch)
    ids = torch.full((len(batch), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(batch), width), dtype=torch.long)
    # targets[b, t] is the token at t+1 when it is an answer token, else -100
    targets = torch.full((len(batch), width), -100, dtype=torch.long)
    for row, e in enumerate(batch):
        ids[row, : len(e.ids)] = torch.tensor(e.ids)
        mask[row, : len(e.ids)] = 1
        targets[row, e.answer_start - 1 : len(e.ids) - 1] = torch.tensor(e.ids[e.answer_start :])
    return ids.to(device), mask.to(device), targets.to(device)


def answer_loss(causal_lm: Any, ids: Any, mask: Any, targets: Any, torch: Any) -> Any:
    """Mean cross-entropy over answer tokens, projecting only their hidden states onto the vocabulary."""
    hidden = causal_lm.model(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = targets != -100
    logits = causal_lm.lm_head(hidden[keep])
    return torch.nn.functional.cross_entropy(logits.float(), targets[keep])


def tune(
    config: TuneConfig,
    on_start: Callable[[int], None] | None = None,
    on_step: Callable[[dict], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> TuneResult:
    """Train a LoRA adapter as `config` says and save it in `config.out`.

    `on_start(total_steps)` and `on_step(record)` drive a progress bar; `log`
    receives one-line notes (what was loaded, where it was written).
    """
    try:
        import torch
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ModelUnavailable(f"nlq tune needs torch and peft (the `model` extra), and {exc.name} is not "
                               "installed: run scripts/setup, or pip install torch==2.13.0 '.[model]'") from exc

    say = log or (lambda _msg: None)
    if config.threads:
        os.environ["NLQ_TORCH_THREADS"] = str(config.threads)
    # a missing catalog is a usage error before the model loads
    catalogs = None if config.examples else resolve_catalogs(config)
    device = pick_device(config.device, torch)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    # fp32 on a GPU too (0.5 GB for 135M parameters): the same arithmetic as a CPU run,
    # so the two runs' losses compare
    backend = load_base(device, dtype=torch.float32)
    # one thread by default: on a shared 2-core machine two spinning OpenMP threads
    # made a step 4x slower (150 s against 40 s for 8 x 140 tokens, load average 10)
    torch.set_num_threads(config.threads or 1)
    say(f"base model {backend.name} loaded in {backend.load_s:.1f} s; training on "
        + (device_name(device, torch) if device == "cuda" else f"the CPU, {torch.get_num_threads()} threads"))

    examples = (load_examples(config.examples, backend) if catalogs is None
                else build_examples(config, catalogs, backend))
    encoded, held_encoded = examples.train, examples.held_out
    tokens = sum(len(e.ids) for e in encoded)
    answer_tokens = sum(len(e.ids) - e.answer_start for e in encoded)
    say(f"{len(encoded)} examples, {tokens} tokens ({answer_tokens} answer tokens), "
        f"mean prompt {sum(e.answer_start for e in encoded) / max(1, len(encoded)):.0f} tokens")

    lora = LoraConfig(
        r=config.rank,
        lora_alpha=config.alpha or 2 * config.rank,
        lora_dropout=0.05,
        target_modules=list(TARGET_MODULES),
        bias="none",
        task_type="CAUSAL_LM",
    )
    model = get_peft_model(backend.model, lora)
    causal_lm = model.base_model.model
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=0.0)

    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = max(1, math.ceil(steps_per_epoch * config.epochs))
    if config.max_steps:
        total = min(total, config.max_steps)
    warmup = max(1, min(total // 20, 8))  # a clock-limited run may see only ~100 steps

    budget_s = config.max_minutes * 60 if config.max_minutes else None

    def progress_at(step: int) -> float:
        by_steps = (step - warmup) / max(1, total - warmup)
        by_clock = (time.perf_counter() - started) / budget_s if budget_s else 0.0
        return min(1.0, max(by_steps, by_clock))

    def lr_at(step: int) -> float:  # linear warm-up, then cosine down to a tenth
        if step < warmup:
            return config.lr * (step + 1) / warmup
        return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress_at(step))))

    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    loss_log = (out / LOSS_LOG).open("w", encoding="utf-8")
    pad_id = backend.eos_token_id
    if on_start:
        on_start(total)
    model.train()
    started = time.perf_counter()
    out_of_time = False
    losses: list[float] = []
    step = seen = 0
    epoch = 0
    while step < total and not out_of_time:
        for batch in _batches(encoded, config.batch_size, rng):
            out_of_time = budget_s is not None and time.perf_counter() - started >= budget_s
            if step >= total or out_of_time:
                break
            lr = lr_at(step)
            for group in optimizer.param_groups:
                group["lr"] = lr
            ids, mask, targets = _tensors(batch, pad_id, torch, device)
            loss = answer_loss(causal_lm, ids, mask, targets, torch)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            optimizer.step()
            step += 1
            seen += len(batch)
            losses.append(loss.item())
            record = {"step": step, "epoch": epoch, "loss": round(losses[-1], 5), "lr": lr,
                      "tokens": int(mask.sum()), "elapsed_s": round(time.perf_counter() - started, 2)}
            loss_log.write(json.dumps(record) + "\n")
            loss_log.flush()
            if on_step:
                on_step(record)
        epoch += 1
    wall_s = time.perf_counter() - started
    loss_log.close()

    model.eval()
    held_loss = (_mean_loss(causal_lm, held_encoded, config.batch_size, pad_id, torch, device)
                 if held_encoded else None)
    if held_loss is not None:
        with (out / LOSS_LOG).open("a", encoding="utf-8") as f:
            f.write(json.dumps({"held_out_loss": round(held_loss, 5), "held_out_examples": len(held_encoded)}) + "\n")

    adapter_bytes = save_adapter(model, out)
    tail = losses[-max(1, min(20, len(losses) // 5)) :]
    result = TuneResult(
        out=str(out), examples=len(encoded), tokens=tokens, answer_tokens=answer_tokens, steps=step, seen=seen,
        wall_s=round(wall_s, 1), first_loss=round(losses[0], 4), final_loss=round(sum(tail) / len(tail), 4),
        held_out_loss=round(held_loss, 4) if held_loss is not None else None, adapter_bytes=adapter_bytes,
        device=device_name(device, torch),
    )
    write_info(out, config, examples.made_from, result)
    plot_losses(out / LOSS_LOG, out / LOSS_PLOT, title=f"nlq tune: {', '.join(examples.made_from['dialects'])}")
    say(f"adapter written to {out} ({adapter_bytes / 1e6:.1f} MB)")
    return result


def _mean_loss(causal_lm: Any, encoded: list[Encoded], batch_size: int, pad_id: int, torch: Any,
               device: str = "cpu") -> float:
    total, count = 0.0, 0
    with torch.no_grad():
        for start in range(0, len(encoded), batch_size):
            batch = encoded[start : start + batch_size]
            ids, mask, targets = _tensors(batch, pad_id, torch, device)
            n = int((targets != -100).sum())
            total += float(answer_loss(causal_lm, ids, mask, targets, torch)) * n
            count += n
    return total / max(1, count)


def save_adapter(model: Any, out: Path) -> int:
    """adapter_config.json + adapter_model.safetensors in fp16 (a few MB); returns the weights' size."""
    import torch
    from safetensors.torch import load_file, save_file

    from nlq.models.embedded import MODEL_NAME

    model.save_pretrained(str(out))
    (out / "README.md").unlink(missing_ok=True)  # peft's empty model card
    # peft records the base's local path (a cache folder on this machine); the name says more
    config_path = out / "adapter_config.json"
    adapter_config = json.loads(config_path.read_text())
    adapter_config["base_model_name_or_path"] = MODEL_NAME
    config_path.write_text(json.dumps(adapter_config, indent=2, sort_keys=True) + "\n")
    weights = out / "adapter_model.safetensors"
    tensors = {k: v.to(torch.float16).contiguous() for k, v in load_file(str(weights)).items()}
    save_file(tensors, str(weights), metadata={"format": "pt"})
    return weights.stat().st_size


def write_info(out: Path, config: TuneConfig, made_from: dict, result: TuneResult) -> None:
    """nlq-adapter.json: what the adapter is for and how it was trained."""
    from nlq.models.embedded import MODEL_NAME

    info = {
        "base_model": MODEL_NAME,
        "prompt_style": PROMPT_STYLE,
        # translate() retrieves as many few-shot pairs for the adapter as it saw in training
        "prompt_examples": made_from["prompt_examples"],
        # `embedded` merges adapters/shop by default only while this is true (nlq.models.adapter)
        "load_by_default": True,
        "catalogs": made_from["catalogs"],
        "lora": {"rank": config.rank, "alpha": config.alpha or 2 * config.rank, "targets": list(TARGET_MODULES)},
        "training": {
            "n_per_dialect": made_from["n_per_dialect"], "fewshot": made_from["fewshot"],
            "epochs": config.epochs, "lr": config.lr, "batch_size": config.batch_size, "seed": config.seed,
            "threads": config.threads, "held_back": made_from["held_back"],
            **({"examples_file": Path(config.examples).name, "data_seed": made_from["seed"]} if config.examples else {}),
            **{k: v for k, v in result.to_dict().items() if k != "out"},
        },
    }  # fmt: skip
    (out / ADAPTER_INFO).write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")


def plot_losses(log_path: Path, png_path: Path, title: str = "nlq tune") -> None:
    """The loss curve (per step, and a moving average) as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = [json.loads(line) for line in Path(log_path).read_text().splitlines() if line.strip()]
    steps = [r["step"] for r in records if "step" in r]
    losses = [r["loss"] for r in records if "step" in r]
    held = [r["held_out_loss"] for r in records if "held_out_loss" in r]
    width = max(1, len(losses) // 20)
    smooth = [sum(losses[max(0, i - width + 1) : i + 1]) / len(losses[max(0, i - width + 1) : i + 1])
              for i in range(len(losses))]
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.plot(steps, losses, color="#9ecae1", linewidth=0.8, label="loss per step")
    ax.plot(steps, smooth, color="#08519c", linewidth=1.8, label=f"moving average ({width} steps)")
    if held and steps:
        ax.axhline(held[-1], color="#d95f0e", linestyle="--", label=f"held-out loss {held[-1]:.3f}")
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("cross-entropy on answer tokens")
    ax.set_title(title)
    ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)
