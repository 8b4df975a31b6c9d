"""What `nlq tune` trains on: each pair rendered as the prompt translate() would
build for it, tokenized, with the answer's start marked; and the file that
carries those examples to another machine.

The file (`nlq tune --save-examples`) is one JSON line of header (the base
model, its vocabulary size, and what the examples were made from) and one line
per example.  A GPU machine with no network, no retrieval model and no catalogs
trains on it alone (`nlq tune --examples`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from nlq.catalog import Catalog
from nlq.errors import UsageError
from nlq.prompting import FewShotBank, Prompt, build_prompt
from nlq.training.data import TrainingPair

#: the prompt an adapter is trained on, and so the one translate() gives it
PROMPT_STYLE = "compact"
REPOSITORY = Path(__file__).resolve().parents[2]


@dataclass
class Encoded:
    ids: list[int]
    #: index of the first answer token
    answer_start: int


@dataclass
class Examples:
    """Tokenized training and held-out examples, and what they were made from."""

    train: list[Encoded]
    held_out: list[Encoded]
    #: dialects, catalogs (fingerprint, source), n_per_dialect, fewshot, seed,
    #: prompt_examples, held_back: what nlq-adapter.json records about the data
    made_from: dict


EXAMPLES_FORMAT = 1


def save_examples(examples: Examples, path: str | Path, backend: Any) -> None:
    """One JSON line of header, then one per example: what a GPU run needs and nothing more."""
    from nlq.models.embedded import MODEL_NAME

    header = {"format": EXAMPLES_FORMAT, "base_model": MODEL_NAME, "vocab_size": len(backend.tokenizer),
              **examples.made_from}  # fmt: skip
    with Path(path).open("w", encoding="utf-8") as f:
        f.write(json.dumps(header) + "\n")
        for split, rows in (("train", examples.train), ("held_out", examples.held_out)):
            for e in rows:
                f.write(json.dumps({"split": split, "answer_start": e.answer_start, "ids": e.ids}) + "\n")


def load_examples(path: str | Path, backend: Any) -> Examples:
    """Examples written by `save_examples`, checked against the model about to train on them."""
    from nlq.models.embedded import MODEL_NAME

    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
        header = json.loads(lines[0])
        rows = [json.loads(line) for line in lines[1:] if line.strip()]
    except (OSError, IndexError, ValueError) as exc:
        raise UsageError(f"--examples {path}: not a file written by --save-examples ({exc})") from exc
    if header.get("format") != EXAMPLES_FORMAT or header.get("base_model") != MODEL_NAME:
        raise UsageError(f"--examples {path}: format {header.get('format')} for {header.get('base_model')}; "
                         f"this nlq trains {MODEL_NAME} on format {EXAMPLES_FORMAT}")
    if header.get("vocab_size") != len(backend.tokenizer):
        raise UsageError(f"--examples {path}: tokenized for a vocabulary of {header.get('vocab_size')}, "
                         f"the model has {len(backend.tokenizer)}")
    split: dict[str, list[Encoded]] = {"train": [], "held_out": []}
    try:
        for row in rows:
            split[row["split"]].append(Encoded(row["ids"], row["answer_start"]))
    except (KeyError, TypeError) as exc:
        raise UsageError(f"--examples {path}: an example line lacks {exc}; write the file again "
                         "with --save-examples") from exc
    made_from = {k: v for k, v in header.items() if k not in ("format", "base_model", "vocab_size")}
    return Examples(split["train"], split["held_out"], made_from)


def training_prompt(pair: TrainingPair, catalog: Catalog, examples: int = 0) -> Prompt:
    """The prompt translate() renders for `pair.question` with a tuned adapter, with
    `examples` retrieved pairs.

    A curated pair is left out of its own retrieval: shown itself as the example,
    the model would learn to copy the example, which at inference is never the answer.
    """
    bank = FewShotBank.load(pair.dialect)
    leave_out = bank.index_of(pair.question, pair.query) if pair.origin == "fewshot" else None
    return build_prompt(pair.question, pair.dialect, catalog, bank=bank, k_examples=examples,
                        style=PROMPT_STYLE, leave_out=leave_out)


def encode(pair: TrainingPair, catalog: Catalog, backend: Any, examples: int = 0) -> Encoded:
    """Prompt tokens (`training_prompt`) + answer tokens + end of turn."""
    prompt_ids = backend.render(training_prompt(pair, catalog, examples).messages)
    answer_ids = backend.tokenizer.encode(pair.query, add_special_tokens=False)
    return Encoded(prompt_ids + answer_ids + [backend.eos_token_id], len(prompt_ids))


def shown_path(path: str | Path) -> str:
    """A held-back file as recorded: relative to the repository when inside it (the benchmark
    and its renamed copy hold files of the same names), else its name."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPOSITORY)) if resolved.is_relative_to(REPOSITORY) else resolved.name
