"""`nlq ask`: translate a question into a validated query, explained, with links."""

from __future__ import annotations

import json

import click

from nlq.catalog import load_catalog
from nlq.choice import CHOICE_MODES, DEFAULT_CANDIDATES
from nlq.commands._common import dialect_option, json_option
from nlq.prompting.retrieval import DEFAULT_RETRIEVAL, RETRIEVAL_METHODS
from nlq.translate import DEFAULT_MAX_RETRIES, TOKEN_BUDGET, default_catalog, translate


@click.command("ask")
@click.argument("question")
@dialect_option
@click.option("--catalog", "catalog_path", type=click.Path(dir_okay=False), default=None,
              help="Catalog file (JSON/YAML); default snapshots/catalog/<dialect>.json when it exists.")
@click.option("--no-catalog", is_flag=True, help="Translate without a catalog (no narrowing, no catalog checks).")
@click.option("--model", default=None,
              help="embedded (default), transformers:<id or folder>, vllm:<URL>[#<model>], llama-cpp[:<gguf>]; "
                   "NLQ_MODEL sets the default.")
@click.option("--max-retries", type=click.IntRange(0, 10), default=DEFAULT_MAX_RETRIES, show_default=True,
              help="Further attempts after an invalid query, each with the error fed back.")
@click.option("--max-tokens", type=click.IntRange(8, 1024), default=None,
              help="Token budget for one query (default per dialect: "
                   + ", ".join(f"{d} {n}" for d, n in TOKEN_BUDGET.items()) + ").")
@click.option("--retrieval", type=click.Choice(RETRIEVAL_METHODS), default=None,
              help=f"How few-shot pairs are found (default {DEFAULT_RETRIEVAL}).")
@click.option("--choose", "choose", type=click.Choice(CHOICE_MODES), default="greedy", show_default=True,
              help="exec: sample more candidates, run each on the local snapshot (never a live system) and "
                   "keep the answer most agree on; --json lists candidates and votes. exec-if-empty: the same, "
                   "only when the answer, run there first, fails or returns nothing.")
@click.option("--candidates", type=click.IntRange(1, 16), default=DEFAULT_CANDIDATES, show_default=True,
              help="Sampled candidates for --choose exec (besides the greedy one).")
@click.option("--any-value", is_flag=True,
              help="Let the model pick any of a label's catalog values, not only those the question names "
                   "(a service, host or queue it implies without naming).")
@json_option
def command(question: str, dialect: str, catalog_path: str | None, no_catalog: bool, model: str | None,
            max_retries: int, max_tokens: int | None, retrieval: str | None, choose: str, candidates: int,
            any_value: bool, as_json: bool):
    """Translate QUESTION into a DIALECT query, checked against the catalog.

    Prints the query, a one-sentence explanation, what was assumed, and links
    to open it.  Exit status: 0 with a valid query, 1 when none came out or the
    question was refused, 2 on a usage error.

    \b
    Examples:
      nlq ask "5xx rate of checkout by status code" -d promql
      nlq ask "error logs of the cart service" -d logql --json
      nlq ask "cpu by host" -d datadog-metrics --model vllm:http://127.0.0.1:8000
      nlq ask "p99 latency of checkout" -d promql --choose exec --candidates 4 --json
    """
    if no_catalog:
        catalog = None
    elif catalog_path:
        catalog = load_catalog(catalog_path, dialect)
    else:
        catalog = default_catalog(dialect)
    result = translate(question, dialect, catalog, model, max_retries=max_retries, max_tokens=max_tokens,
                       retrieval=retrieval, choose=choose, candidates=candidates, ground_values=not any_value)
    if as_json:
        click.echo(json.dumps(result.to_dict(), indent=2))
    elif result.ok:
        click.echo(result.query)
        if result.explanation:
            click.echo(click.style(result.explanation, dim=True))
        for assumption in result.assumptions:
            click.echo(click.style(assumption, dim=True))
        if result.choice and result.choice.get("candidates") and result.choice.get("chosen") is not None:
            chosen = result.choice["candidates"][result.choice["chosen"]]
            click.echo(click.style(f"chosen by execution on snapshot {result.choice['snapshot']}: {chosen['votes']} of "
                                   f"{len(result.choice['candidates'])} candidates agree", dim=True))
        for warning in result.warnings:
            click.echo(f"warning: {warning}", err=True)
        for link in result.links:
            click.echo(f"{link.title}: {link.url}")
    else:
        click.echo(f"{'refused' if result.status == 'refused' else 'error'}: {result.message}", err=True)
    raise SystemExit(0 if result.ok else 1)
