"""Shared by the Datadog test files: corpus reading, known failures, cached parses."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import pytest

from nlq import dialects
from nlq.errors import QueryError

ROOT = Path(__file__).resolve().parent.parent
CORPUS_DIR = ROOT.parent / "shared" / "corpora" / "datadog"
DATA_DIR = Path(__file__).resolve().parent / "data"
KNOWN_FAILURES = Path(__file__).resolve().parent / "known_failures" / "datadog.txt"

#: corpus file -> dialect; log-search files may end with whole log monitor queries
#: (`logs("...").rollup(...) > 2`), which are monitor syntax and go to datadog-metrics.
CORPUS_FILES = {
    "terraform-provider-metrics.txt": "datadog-metrics",
    "integrations-extras-metric-queries.txt": "datadog-metrics",
    "integrations-extras-metric-formulas.txt": "datadog-metrics",
    "integrations-extras-monitor-queries.txt": "datadog-metrics",
    "api-client-python-metric-queries.txt": "datadog-metrics",
    "ddqp-test-queries.txt": "datadog-metrics",
    "integrations-extras-log-queries.txt": "datadog-logs",
    "integrations-extras-other-search-queries.txt": "datadog-logs",
    "api-client-python-log-queries.txt": "datadog-logs",
    "vector-search-syntax-queries.txt": "datadog-logs",
}


def dialect_for(file_dialect: str, query: str) -> str:
    if file_dialect == "datadog-logs" and query.startswith(("logs(", "formula(")):
        return "datadog-metrics"
    return file_dialect


def read_queries(path: Path) -> list[str]:
    """Non-blank lines that are not `#` comments."""
    return [
        line for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


def corpus_queries(name: str) -> list[str]:
    path = CORPUS_DIR / name
    if not path.is_file():
        pytest.skip(f"shared corpus not found: {path} (the tests read ../shared/corpora/datadog)")
    return read_queries(path)


def known_failures() -> dict[tuple[str, str], str]:
    """(corpus file, query) -> reason."""
    out = {}
    for line in KNOWN_FAILURES.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        file, reason, query = line.split("\t", 2)
        out[(file, query)] = reason
    return out


@cache
def parsed(dialect: str, query: str):
    """The AST of `query`, or the QueryError; cached because Earley parsing is slow."""
    try:
        return dialects.get(dialect).parse(query)
    except QueryError as exc:
        return exc


def validation_error(dialect: str, query: str) -> QueryError | None:
    node = parsed(dialect, query)
    if isinstance(node, QueryError):
        return node
    problems = dialects.get(dialect).check(node, query, None)
    return problems[0] if problems else None
