"""`nlq eval`: score a model on the benchmark by execution on the snapshots."""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import click

from nlq.dialects import DIALECT_NAMES
from nlq.errors import UsageError


@click.command("eval")
@click.option(
    "--cases",
    "case_files",
    multiple=True,
    type=click.Path(dir_okay=False),
    help="Eval case files (JSONL); default: every evals/*.jsonl. Repeatable.",
)
@click.option(
    "--dialect",
    "-d",
    type=click.Choice(DIALECT_NAMES),
    default=None,
    help="Only this dialect's cases.",
)
@click.option(
    "--model",
    "-m",
    default=None,
    help="Model backend spec (embedded, vllm:URL, ...); default NLQ_MODEL or the embedded model.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default="out/eval",
    show_default=True,
    help="Folder for report.md, results.jsonl and the charts.",
)
@click.option(
    "--gold",
    "use_gold",
    is_flag=True,
    help="Score each case's gold instead of asking a model (checks the scorer and the cases).",
)
@click.option(
    "--neighbours",
    is_flag=True,
    help="Also run the neighbour check: near-miss mutants of each gold, and the share the scorer catches.",
)
@click.option("--neighbours-only", is_flag=True, help="Run only the neighbour check (no model).")
@click.option(
    "--world",
    type=click.Choice(["shop", "renamed"]),
    default="shop",
    show_default=True,
    help="Benchmark world: the shop, or `renamed`, the shop's cases, catalogs and snapshots with every "
    "service and application metric renamed (snapshots/renamed/rename.yaml; the transfer test).",
)
@click.option(
    "--variants",
    default=None,
    help="Snapshot variants to compare answers on (comma-separated); default shop-a,shop-b,shop-c "
    "(renamed-a,renamed-b,renamed-c with --world renamed).",
)
@click.option("--limit", type=int, default=None, help="Only the first N cases (after --dialect).")
@click.option(
    "--every", type=int, default=None, help="Only every Nth case (a spread sample over the strata)."
)
@click.option(
    "--sample",
    type=int,
    default=None,
    help="About N cases spread evenly over each dialect and stratum.",
)
@click.option("--id", "ids", multiple=True, help="Only the case(s) with this id. Repeatable.")
@click.option(
    "--best",
    default="default",
    show_default=True,
    help="The configuration reported as the best, run on every case (see --ablation).",
)
@click.option(
    "--ablation",
    "ablation_names",
    multiple=True,
    help="Also run this configuration beside the best: unconstrained, grammar, no-retry, k0, k4, k8, "
    "bm25, embedding, hybrid, no-retrieval, exec-choice, prompt-only, adapter, adapter-exec-choice, "
    "adapter-exec-if-empty. "
    "Repeatable.",
)
@click.option(
    "--ablations",
    "preset",
    is_flag=False,
    flag_value="all",
    default=None,
    help="Run a preset of ablations: all (the default when given bare: decoding, retry, examples), "
    "decoding, retry, examples, retrieval, choice, stack (prompt only, + retrieval, + tuned adapter, "
    "+ execution-guided choice; run it with --best prompt-only).",
)
@click.option(
    "--adapter",
    default="shop",
    show_default=True,
    help="The tuned adapter the adapter configurations load on --model's engine: a folder under "
    "adapters/ or a directory written by `nlq tune`.",
)
@click.option(
    "--ablation-sample",
    type=int,
    default=None,
    help="Run the ablations on about N of the cases (spread over dialects and strata); "
    "the best configuration still runs on all.",
)
@click.option(
    "--derive/--no-derive",
    default=True,
    show_default=True,
    help="Read no-retry off the best configuration's first attempt instead of generating again.",
)
@click.option(
    "--gold-cache/--no-gold-cache",
    default=True,
    show_default=True,
    help="Keep gold answers on disk for later runs (keyed by query, range, snapshot file and engine code).",
)
@click.option(
    "--budget",
    type=float,
    default=None,
    help="Minutes for the whole run: the best configuration runs on every case, the ablations on "
    "as many sampled cases as the rest of the time allows (the report says how many).",
)
def command(
    case_files,
    dialect,
    model,
    out_dir,
    use_gold,
    neighbours,
    neighbours_only,
    world,
    variants,
    limit,
    every,
    sample,
    ids,
    best,
    ablation_names,
    preset,
    ablation_sample,
    derive,
    gold_cache,
    budget,
    adapter,
):
    """Score translations by execution-equivalence with the gold on every snapshot variant.

    Writes report.md (execution accuracy per dialect and stratum; parse rate,
    catalog-check pass rate, exact match after canonical formatting, retries,
    tokens, latency p50/p95; per tag; ablations side by side; where the
    seconds went; misses), results.jsonl (one line per case and
    configuration), accuracy.png and, with ablations, ablations.png into --out.

    \b
    Examples:
      nlq eval --dialect promql --model embedded --out out/eval-promql
      nlq eval --every 6 --ablations --out out/eval-ablate
      nlq eval --ablations decoding --ablation-sample 40
      nlq eval --ablations --budget 30     # all cases; ablations as time allows
      nlq eval --model llama-cpp:base --best prompt-only --ablations stack --sample 60
      nlq eval --gold --neighbours --dialect logql --limit 20
      nlq eval --world renamed --model embedded:adapter=DIR --out out/eval-renamed
    """
    from nlq.evaluation import load_cases
    from nlq.evaluation.ablations import resolve
    from nlq.evaluation.cases import world_cases
    from nlq.evaluation.gold_cache import GoldCache
    from nlq.evaluation.neighbours import neighbour_check
    from nlq.evaluation.report import render_markdown, write_ablation_chart, write_chart
    from nlq.evaluation.runner import (
        EvalRun,
        TimedScorer,
        model_translator,
        spread_order,
        stratified_sample,
    )
    from nlq.evaluation.scoring import world_defaults

    for name, value in (("--every", every), ("--sample", sample), ("--limit", limit),
                        ("--ablation-sample", ablation_sample), ("--budget", budget)):
        if value is not None and value < 1:
            raise UsageError(f"{name} takes a positive number, not {value}")
    cases, left_out = world_cases(load_cases(list(case_files) or None, dialect=dialect), world)
    if ids:
        wanted = set(ids)
        cases = [c for c in cases if c.id in wanted]
    if every:
        cases = cases[::every]
    if sample:
        cases = stratified_sample(cases, sample)
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise UsageError("no eval cases selected")
    configs = resolve(ablation_names, preset, best)
    if any(c.tuned for c in configs):
        from nlq.models.adapter import parse_embedded_argument

        parse_embedded_argument(f"adapter={adapter}")  # a clear error now, not after the first configs ran
    if use_gold and len(configs) > 1:
        raise UsageError("--gold scores the golds themselves; ablations need a model (drop --gold)")
    ablation_ids = {c.id for c in (stratified_sample(cases, ablation_sample) if ablation_sample else cases)}
    names = [v.strip() for v in variants.split(",") if v.strip()] if variants else list(world_defaults(world)[0])
    scorer = TimedScorer(names, gold_cache=GoldCache() if gold_cache else None, world=world)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    run = EvalRun(scorer, configs, None if use_gold else model_translator(model, adapter), derive=derive)
    rows = []
    report = None
    interrupted = ""
    budget_note = ""
    timing: dict = {}
    results = open(out / "results.jsonl", "w", encoding="utf-8")  # noqa: SIM115 - written row by row
    try:
        scorer.open()
        if not neighbours_only:
            # The best configuration on every case first; then the ablations, case by case in an
            # order whose every prefix is spread over dialects and strata, so that a --budget
            # that runs out leaves a smaller but still stratified sample.
            ablation_cases = spread_order([c for c in cases if c.id in ablation_ids]) if len(configs) > 1 else []
            with _Progress(len(cases) + len(ablation_cases) * (len(configs) - 1), "eval") as bar:

                def done(row):
                    results.write(json.dumps(row.to_dict()) + "\n")
                    results.flush()
                    bar.step(f"{row.case.id} [{row.config}]")

                try:
                    budget_note = run.run_all(
                        cases, ablation_cases, rows, on_row=done,
                        budget_s=None if budget is None else budget * 60 - (time.time() - started),
                    )
                except KeyboardInterrupt:
                    interrupted = f"interrupted after {bar.done} of {bar.total} translations"
        if (neighbours or neighbours_only) and not interrupted:
            t0 = time.perf_counter()
            with click.progressbar(
                length=len(cases), label="neighbours", file=click.get_text_stream("stderr")
            ) as bar:
                report = neighbour_check(cases, scorer, progress=lambda _c: bar.update(1))
            timing["neighbour check"] = f"{time.perf_counter() - t0:.1f} s"
    finally:
        scorer.close()
        results.close()
    wall = time.time() - started
    timing = {
        "configs": {name: vars(t) for name, t in run.timing.items() if t.translations or t.scored or t.derived},
        "opening the snapshots": f"{scorer.open_s:.1f} s (once per run)",
        "gold answers": f"{scorer.gold_s:.1f} s for {scorer.gold_runs} (case, variant) answers, "
        "each obtained once per run whatever the number of configurations"
        + (f": {scorer.gold_cache.hits} read from the disk cache, "
           f"{scorer.gold_runs - scorer.gold_cache.hits} computed"
           if scorer.gold_cache is not None else ""),
        **timing,
        "wall time": f"{wall:.0f} s",
    }
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "model": "gold (no model)"
        if use_gold
        else (rows[0].extra.get("model") if rows else model) or "default",
        "world": world,
        "cases": len(cases),
        "variants": ", ".join(names),
        "command": "nlq eval "
        + " ".join(sys.argv[1:][1:] if sys.argv[1:2] == ["eval"] else sys.argv[1:]),
        "wall time": f"{wall:.0f} s",
    }
    if len(configs) > 1:
        ablated = len({r.case.id for r in rows if r.config != configs[0].name})
        meta["configurations"] = (
            f"`{configs[0].name}` on all {len(cases)} cases; "
            + ", ".join(f"`{c.name}`" for c in configs[1:])
            + (f" on a stratified sample of {ablated}" if ablated < len(cases) else " on the same cases")
        )
    if left_out:
        meta["left out of this world"] = "; ".join(f"{k}: {v}" for k, v in sorted(left_out.items()))
    if budget_note:
        meta["time budget"] = f"{budget:g} min: {budget_note}"
    if interrupted:
        meta["interrupted"] = interrupted + " (the figures cover the cases done)"
    worlds = sorted({r.score.world for r in rows} - {"shop", "renamed"})
    if worlds:
        meta["synthesized worlds"] = (
            ", ".join(worlds) + " (from the cases' own catalogs; variants synth-1..3)"
        )
    unscorable = sum(not r.score.scorable for r in rows if r.config == configs[0].name)
    if unscorable:
        meta["not scorable by execution"] = (
            f"{unscorable} case(s): the gold returns nothing (or fails) there"
        )
    if report is not None:
        with open(out / "neighbours.jsonl", "w", encoding="utf-8") as fh:
            for mutant in report.mutants:
                fh.write(json.dumps(mutant.to_dict()) + "\n")
    main = [r for r in rows if r.config == configs[0].name]
    chart = "accuracy.png" if main and write_chart(main, out / "accuracy.png") else None
    ablation_chart = (
        "ablations.png"
        if len(configs) > 1 and write_ablation_chart(rows, out / "ablations.png", configs[0].name)
        else None
    )
    (out / "report.md").write_text(
        render_markdown(
            rows,
            meta,
            report,
            chart,
            best=configs[0].name,
            labels={c.name: f"{c.description} ({c.label()})" + (f": `{c.model_spec(model, adapter)}`" if c.tuned else "")
                    for c in configs},
            ablation_chart=ablation_chart,
            timing=timing,
        )
    )
    _echo_summary(rows, configs, ablation_ids, report, unscorable)
    if interrupted:
        click.echo(interrupted, err=True)
    click.echo(f"report: {out / 'report.md'}")


def _echo_summary(rows, configs, ablation_ids, report, unscorable) -> None:
    from nlq.evaluation.report import summarise

    for i, config in enumerate(configs):
        mine = [r for r in rows if r.config == config.name]
        if i and len(configs) > 1:
            ran = {r.case.id for r in rows if r.config == config.name}
            same = [r for r in rows if r.config == configs[0].name and r.case.id in ran]
            base = summarise(same)["execution_accuracy"]
            note = f" (`{configs[0].name}` on the same cases: {100 * base:.1f}%)"
        else:
            note = ""
        if mine:
            s = summarise(mine)
            click.echo(
                f"{config.name}: execution accuracy {100 * s['execution_accuracy']:.1f}% over "
                f"{len(mine)} cases, parse {100 * s['parse_rate']:.1f}%, catalog checks "
                f"{100 * s['valid_rate']:.1f}%{note}"
            )
    if unscorable:
        click.echo(
            f"not scorable by execution: {unscorable} case(s) whose gold returns nothing (or fails) "
            "on its synthesized world (counted as not right; results.jsonl: scorable=false)"
        )
    if report is not None:
        click.echo(
            f"neighbour check: scorer catches {100 * report.caught_share():.1f}% "
            f"of {len(report.near_misses())} near-miss mutants "
            f"({len(report.equivalents())} equivalent mutants set apart)"
        )


class _Progress:
    """A progress bar with ETA on a terminal; elsewhere (a log file, CI) a line every 30 s."""

    def __init__(self, total: int, label: str, every_s: float = 30.0):
        self.total, self.label, self.every_s = total, label, every_s
        self.done = 0
        self.stream = sys.stderr
        self.tty = self.stream.isatty()
        self.started = self.last = time.monotonic()
        self.bar = None

    def __enter__(self) -> _Progress:
        if self.tty:
            self.bar = click.progressbar(length=self.total, label=self.label, show_eta=True,
                                         show_pos=True, file=self.stream).__enter__()
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)
        else:
            self._line("done")

    def step(self, what: str) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.label = f"{self.label} {what}"
            self.bar.update(1)
        elif time.monotonic() - self.last >= self.every_s:
            self._line(what)

    def _line(self, what: str) -> None:
        self.last = time.monotonic()
        elapsed = self.last - self.started
        eta = elapsed / self.done * (self.total - self.done) if self.done else 0.0
        click.echo(f"{self.label}: {self.done}/{self.total} {what} elapsed {elapsed:.0f} s, "
                   f"ETA {eta:.0f} s", err=True)
