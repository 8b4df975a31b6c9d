"""`nlq tune`: fine-tune the embedded model (LoRA) for a catalog, on the CPU or a GPU."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from nlq.training.data import DIALECTS

#: the benchmark: no training pair may repeat one of its questions or gold queries
ROOT = Path(__file__).resolve().parents[2]
#: held back by default: the benchmark, and its renamed copy of the transfer test (issue #7)
BENCHMARK_FILES = (*sorted((ROOT / "evals").glob("*.jsonl")),
                   *sorted((ROOT / "snapshots" / "renamed" / "cases").glob("*.jsonl")))


@click.command("tune")
@click.option("--catalog", "catalogs", multiple=True, type=click.Path(dir_okay=False),
              help="Catalog file, one per --dialect in the same order; default snapshots/catalog/<dialect>.json.")
@click.option("--dialect", "-d", "dialects", multiple=True, type=click.Choice(DIALECTS),
              help="Dialect to train for. Repeatable; default all four.")
@click.option("-n", "n", type=click.IntRange(1, 100_000), default=300, show_default=True,
              help="Generated question/query pairs per dialect (the curated fewshot/ pairs come on top).")
@click.option("--no-fewshot", is_flag=True, help="Leave out the curated fewshot/ pairs.")
@click.option("--prompt-examples", type=click.IntRange(0, 8), default=2, show_default=True,
              help="Retrieved few-shot pairs in every training prompt; translate() then retrieves as many "
                   "for the adapter, so it learns to use them.")
@click.option("--epochs", type=click.FloatRange(0.01, 100), default=1.0, show_default=True)
@click.option("--lr", type=click.FloatRange(1e-7, 1.0), default=1e-3, show_default=True, help="Peak learning rate.")
@click.option("--rank", type=click.IntRange(1, 256), default=8, show_default=True, help="LoRA rank.")
@click.option("--batch-size", type=click.IntRange(1, 256), default=8, show_default=True)
@click.option("--max-steps", type=click.IntRange(1), default=None, help="Stop after this many optimizer steps.")
@click.option("--max-minutes", type=click.FloatRange(0.1), default=None,
              help="Stop after this many minutes of training (the learning-rate schedule follows the clock).")
@click.option("--held-out", type=click.IntRange(0, 10_000), default=0, show_default=True,
              help="Generated pairs per dialect kept out of training; their loss is reported (for choosing "
                   "--rank and --lr; never the eval cases).")
@click.option("--held-back", "held_back", multiple=True, type=click.Path(exists=True, dir_okay=False),
              help="JSONL cases no training pair may repeat (question or query). Repeatable; default "
                   "every evals/*.jsonl and its renamed copy, snapshots/renamed/cases/*.jsonl.")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--threads", type=click.IntRange(1, 256), default=None, help="CPU threads for torch (default 1: on a busy small machine more threads fight).")
@click.option("--device", type=click.Choice(("auto", "cpu", "cuda")), default="auto", show_default=True,
              help="Where to train: auto takes a CUDA GPU when torch sees one, else the CPU.")
@click.option("--save-examples", type=click.Path(dir_okay=False), default=None,
              help="Only prepare: write the tokenized examples (pairs, retrieved few-shot pairs, held-out set) "
                   "to this file and stop.  Carry it to a GPU machine and train there with --examples.")
@click.option("--examples", "examples", type=click.Path(exists=True, dir_okay=False), default=None,
              help="Train on a file written by --save-examples instead of generating pairs here; the file "
                   "fixes the data, so the data options (-d, --catalog, -n, ...) are refused with it.")
@click.option("--out", "out", type=click.Path(file_okay=False), default="adapters/shop", show_default=True,
              help="Folder for the adapter, its nlq-adapter.json, loss.jsonl and loss.png.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def command(catalogs, dialects, n, no_fewshot, prompt_examples, epochs, lr, rank, batch_size, max_steps, max_minutes, held_out, held_back, seed,
            threads, device, save_examples, examples, out, as_json):
    """Fine-tune the embedded model on question/query pairs generated from a catalog.

    Pairs come from the catalog-driven generator (nlq.training.pairs) plus the
    curated fewshot/ pairs, never from evals/.  The adapter (LoRA, fp16, a few
    MB) is written to --out; `--model embedded:adapter=DIR` uses it.  `embedded`
    merges adapters/shop/ by default while its nlq-adapter.json says
    "load_by_default": true (what this writes; see adapters/shop/README.md).

    \b
    Examples:
      nlq tune -d promql -n 200 --out /tmp/promql-adapter
      nlq tune -n 400 --epochs 1 --threads 2                      # all four dialects, snapshot catalogs
      nlq tune -d promql --catalog my-prom.json --out adapters/mine
      nlq tune -n 1000 --epochs 3 --batch-size 32 --device cuda  # a GPU run
      nlq tune --save-examples ex.jsonl        # here: pairs, retrieval, held-back checks
      nlq tune --examples ex.jsonl --device cuda --epochs 3   # there: training only
    """
    from nlq.errors import UsageError
    from nlq.training.tune import TuneConfig, tune

    if examples:
        _refuse_data_options_with_examples()
    if examples and save_examples:
        raise UsageError("--examples and --save-examples: give one (prepare here, or train on prepared examples)")
    chosen = tuple(dialects) or DIALECTS
    if catalogs and len(catalogs) != len(chosen):
        raise UsageError(f"--catalog given {len(catalogs)} times for {len(chosen)} dialects: "
                         "give one --catalog per --dialect, in the same order")
    config = TuneConfig(
        dialects=chosen, catalogs=dict(zip(chosen, catalogs, strict=False)), n=n, fewshot=not no_fewshot,
        prompt_examples=prompt_examples,
        epochs=epochs, lr=lr, rank=rank, batch_size=batch_size, seed=seed, threads=threads, out=out,
        held_out=held_out, max_steps=max_steps, max_minutes=max_minutes, device=device,
        held_back=tuple(held_back) or tuple(str(p) for p in BENCHMARK_FILES), examples=examples,
    )
    if save_examples:
        from nlq.training.tune import prepare_examples

        prepared = prepare_examples(config, save_examples)
        summary = {"examples": save_examples, "train": len(prepared.train), "held_out": len(prepared.held_out),
                   "tokens": sum(len(e.ids) for e in prepared.train)}
        click.echo(json.dumps(summary, indent=2) if as_json else
                   f"{summary['train']} training and {summary['held_out']} held-out examples "
                   f"({summary['tokens']} tokens) written to {save_examples}")
        return
    bar = None

    def on_start(total: int) -> None:
        nonlocal bar
        bar = click.progressbar(length=total, label="training", file=sys.stderr,
                                item_show_func=lambda r: f"loss {r['loss']:.3f}" if r else "")
        bar.__enter__()

    def on_step(record: dict) -> None:
        if bar is not None:
            bar.update(1, record)

    def log(message: str) -> None:
        click.echo(message, err=True)

    try:
        result = tune(config, on_start=on_start, on_step=on_step, log=log)
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
        return
    click.echo(f"adapter: {result.out} ({result.adapter_bytes / 1e6:.1f} MB)")
    click.echo(f"examples: {result.examples}, tokens: {result.tokens} ({result.answer_tokens} in answers), "
               f"steps: {result.steps} ({result.seen} examples seen), wall: {result.wall_s:.0f} s on {result.device}")
    click.echo(f"loss: {result.first_loss:.3f} -> {result.final_loss:.3f}"
               + (f", held-out {result.held_out_loss:.3f}" if result.held_out_loss is not None else ""))


# what --save-examples fixed: giving one of these with --examples would be silently ignored
_DATA_OPTIONS = ("catalogs", "dialects", "n", "no_fewshot", "prompt_examples", "held_out", "held_back")


def _refuse_data_options_with_examples() -> None:
    from click.core import ParameterSource

    from nlq.errors import UsageError

    ctx = click.get_current_context()
    given = [p for p in ctx.command.params
             if p.name in _DATA_OPTIONS and ctx.get_parameter_source(p.name) != ParameterSource.DEFAULT]
    if given:
        flags = ", ".join(max(p.opts, key=len) for p in given)
        raise UsageError(f"--examples fixes the training data; {flags} cannot change it "
                         "(give them to the --save-examples run instead)")
