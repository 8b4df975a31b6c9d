"""`nlq validate`: does a query parse and pass the type and catalog checks?"""

from __future__ import annotations

import json

import click

from nlq.catalog import load_catalog
from nlq.commands._common import catalog_option, dialect_option, json_option, read_query_lines
from nlq.errors import UsageError
from nlq.validation import validate


@click.command("validate")
@dialect_option
@click.argument("query", required=False)
@click.option(
    "--file",
    "-f",
    "file",
    type=str,
    default=None,
    help="Validate one query per line of FILE ('-' for stdin); '#' lines and blank lines are skipped.",
)
@catalog_option
@json_option
def command(dialect: str, query: str | None, file: str | None, catalog_path: str | None, as_json: bool):
    """Check that QUERY is valid in DIALECT.

    Exit status: 0 when every query is valid, 1 when one is not, 2 on a usage error.
    A valid query that says nothing about the data (`x / x`, a matcher written
    twice) is valid, with a warning on stderr.

    \b
    Examples:
      nlq validate -d promql 'sum by (route) (rate(http_requests_total{service="checkout"}[5m]))'
      nlq validate -d logql --file queries.logql --json
      nlq validate -d promql 'rate(http_requests_total[5m])' --catalog snapshots/catalog/promql.json
    """
    if (query is None) == (file is None):
        raise UsageError("give either a QUERY argument or --file FILE (not both)")
    catalog = load_catalog(catalog_path, dialect) if catalog_path else None
    items = [(0, query)] if file is None else list(read_query_lines(file))

    all_valid = True
    for line_number, text in items:
        result = validate(text, dialect, catalog)
        all_valid &= result.valid
        if as_json:
            record = result.to_dict()
            if file is not None:
                record["line"] = line_number
            click.echo(json.dumps(record))
        elif result.valid:
            click.echo(("ok  " + text) if file is not None else "valid")
            for warning in result.warnings:  # valid: the exit status stays 0
                prefix = f"{file}:{line_number}: " if file is not None else ""
                click.echo(f"{prefix}warning: {warning}", err=True)
        else:
            prefix = f"{file}:{line_number}: " if file is not None else ""
            click.echo(f"{prefix}invalid: {result.error.render()}", err=file is None)
    raise SystemExit(0 if all_valid else 1)
