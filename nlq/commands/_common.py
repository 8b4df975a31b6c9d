"""Options and helpers shared by several sub-commands."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from nlq.dialects import DIALECT_NAMES
from nlq.errors import UsageError

dialect_option = click.option(
    "--dialect",
    "-d",
    required=True,
    type=click.Choice(DIALECT_NAMES),
    help="Query language of the input.",
)

json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for machines.")

catalog_option = click.option(
    "--catalog",
    "catalog_path",
    type=click.Path(dir_okay=False),
    default=None,
    help="Catalog file (JSON or YAML) for the catalog checks: unknown metrics, labels, values.",
)


def read_query_lines(file: str) -> Iterator[tuple[int, str]]:
    """(line number, query) for each non-blank, non-comment line of FILE ('-' = stdin)."""
    if file == "-":
        text = sys.stdin.read()
    else:
        path = Path(file)
        if not path.is_file():
            raise UsageError(f"no such file: {file}")
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise UsageError(f"{file} is not UTF-8 text: {exc}") from exc
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            yield number, stripped
