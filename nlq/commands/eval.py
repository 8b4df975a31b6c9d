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
    help="Folder for report.md, results.jsonl and the chart.",
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
    "--variants",
    default="shop-a,shop-b,shop-c",
    show_default=True,
    help="Snapshot variants to compare answers on (comma-separated).",
)
@click.option("--limit", type=int, default=None, help="Only the first N cases (after --dialect).")
@click.option(
    "--every", type=int, default=None, help="Only every Nth case (a spread sample over the strata)."
)
@click.option("--id", "ids", multiple=True, help="Only the case(s) with this id. Repeatable.")
def command(
    case_files,
    dialect,
    model,
    out_dir,
    use_gold,
    neighbours,
    neighbours_only,
    variants,
    limit,
    every,
    ids,
):
    """Score translations by execution-equivalence with the gold on every snapshot variant.

    Writes report.md (parse rate, catalog-check pass rate, exact match after
    canonical formatting, execution accuracy, retries, tokens, latency p50/p95,
    per dialect, stratum and tag), results.jsonl (one line per case) and
    accuracy.png (matplotlib) into --out.

    \b
    Examples:
      nlq eval --dialect promql --model embedded --out out/eval-promql
      nlq eval --gold --neighbours --dialect logql --limit 20
    """
    from nlq.evaluation import load_cases
    from nlq.evaluation.neighbours import neighbour_check
    from nlq.evaluation.report import Row, render_markdown, write_chart
    from nlq.evaluation.scoring import Scorer

    cases = load_cases(list(case_files) or None, dialect=dialect)
    if ids:
        wanted = set(ids)
        cases = [c for c in cases if c.id in wanted]
    if every:
        cases = cases[::every]
    if limit is not None:
        cases = cases[:limit]
    if not cases:
        raise UsageError("no eval cases selected")
    names = [v.strip() for v in variants.split(",") if v.strip()]
    scorer = Scorer(names)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    rows: list[Row] = []
    report = None
    try:
        if not neighbours_only:
            translate = None if use_gold else _translator(model)
            with click.progressbar(
                cases,
                label="eval",
                item_show_func=lambda c: c.id if c else "",
                file=click.get_text_stream("stderr"),
            ) as bar:
                for case in bar:
                    rows.append(_evaluate(case, scorer, translate))
        if neighbours or neighbours_only:
            with click.progressbar(
                length=len(cases), label="neighbours", file=click.get_text_stream("stderr")
            ) as bar:
                report = neighbour_check(cases, scorer, progress=lambda _c: bar.update(1))
    finally:
        scorer.close()
    meta = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "model": "gold (no model)"
        if use_gold
        else (rows[0].extra.get("model") if rows else model) or "default",
        "cases": len(cases),
        "variants": ", ".join(names),
        "command": "nlq eval "
        + " ".join(sys.argv[1:][1:] if sys.argv[1:2] == ["eval"] else sys.argv[1:]),
        "wall time": f"{time.time() - started:.0f} s",
    }
    worlds = sorted({r.score.world for r in rows} - {"shop"})
    if worlds:
        meta["synthesized worlds"] = (
            ", ".join(worlds) + " (from the cases' own catalogs; variants synth-1..3)"
        )
    unscorable = sum(not r.score.scorable for r in rows)
    if unscorable:
        meta["not scorable by execution"] = (
            f"{unscorable} case(s): the gold returns nothing (or fails) there"
        )
    with open(out / "results.jsonl", "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row.to_dict()) + "\n")
    if report is not None:
        with open(out / "neighbours.jsonl", "w", encoding="utf-8") as fh:
            for mutant in report.mutants:
                fh.write(json.dumps(mutant.to_dict()) + "\n")
    chart = "accuracy.png" if rows and write_chart(rows, out / "accuracy.png") else None
    (out / "report.md").write_text(render_markdown(rows, meta, report, chart))
    if rows:
        accuracy = sum(r.score.equivalent for r in rows) / len(rows)
        click.echo(f"execution accuracy {100 * accuracy:.1f}% over {len(rows)} cases")
        if unscorable:
            click.echo(
                f"not scorable by execution: {unscorable} case(s) whose gold returns nothing (or fails) "
                "on its synthesized world (counted as not right; results.jsonl: scorable=false)"
            )
    if report is not None:
        click.echo(
            f"neighbour check: scorer catches {100 * report.caught_share():.1f}% "
            f"of {len(report.mutants)} near-miss mutants"
        )
    click.echo(f"report: {out / 'report.md'}")


def _translator(model):
    from nlq.models import load_model
    from nlq.translate import translate

    backend = load_model(model)

    def run(case, catalog):
        return translate(case.question, case.dialect, catalog, backend)

    return run


def _evaluate(case, scorer, translate):
    from nlq.evaluation.report import Row

    if translate is None:
        return Row(case, scorer.score(case, case.gold), status="gold")
    t0 = time.perf_counter()
    try:
        result = translate(
            case, scorer.catalog_for(case)
        )  # the case's own catalog, else the shop's
    except Exception as exc:  # noqa: BLE001 - one failing case must not end the run
        latency = time.perf_counter() - t0
        return Row(
            case,
            scorer.score(case, None),
            status="error",
            latency_s=latency,
            message=f"{type(exc).__name__}: {exc}",
        )
    latency = time.perf_counter() - t0
    tokens = result.tokens
    return Row(
        case,
        scorer.score(case, result.query),
        status=result.status,
        retries=max(0, len(result.attempts) - 1),
        prompt_tokens=tokens.get("prompt", 0),
        completion_tokens=tokens.get("completion", 0),
        latency_s=latency,
        message=result.message or "",
        extra={"model": result.model, "attempts": len(result.attempts)},
    )
