"""`nlq format`: print a query in its canonical form."""

from __future__ import annotations

import json

import click

from nlq.commands._common import dialect_option, json_option, read_query_lines
from nlq.errors import QueryError, UsageError
from nlq.validation import format_query


@click.command("format")
@dialect_option
@click.argument("query", required=False)
@click.option("--file", "-f", "file", default=None, help="Format one query per line of FILE ('-' for stdin).")
@json_option
def command(dialect: str, query: str | None, file: str | None, as_json: bool):
    """Print QUERY in canonical form (the form nlq compares and emits).

    Exit status: 0 on success, 1 when a query does not parse, 2 on a usage error.

    \b
    Example:
      nlq format -d promql 'sum(rate(x[5m]))by(job)'
      -> sum by (job) (rate(x[5m]))
    """
    if (query is None) == (file is None):
        raise UsageError("give either a QUERY argument or --file FILE (not both)")
    items = [(0, query)] if file is None else list(read_query_lines(file))
    failed = False
    for line_number, text in items:
        try:
            formatted, error = format_query(text, dialect), None
        except QueryError as exc:
            formatted, error, failed = None, exc, True
        if as_json:
            click.echo(json.dumps({"query": text, "formatted": formatted,
                                   "error": None if error is None else error.render()}))
        elif error is None:
            click.echo(formatted)
        else:
            prefix = f"{file}:{line_number}: " if file is not None else ""
            click.echo(f"{prefix}error: {error.render()}", err=True)
    raise SystemExit(1 if failed else 0)
