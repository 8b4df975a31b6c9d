"""Shared helpers for corpus tests (PromQL, LogQL, Datadog engineers may all use these).

The corpora live outside the project in ../shared/corpora (see its README).
Tests that need them call `corpus_lines(...)`, which skips the test with a
clear message when the folder is absent, and read their lists of known
failures with `known_failures(...)`.

    from corpus_util import corpus_lines, known_failures  # tests/ is on sys.path under pytest
    queries = corpus_lines("promql", "node-mixin.txt")
"""

from __future__ import annotations

from pathlib import Path

import pytest

CORPORA = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
KNOWN_FAILURES = Path(__file__).resolve().parent / "known_failures"


def corpus_dir(dialect: str) -> Path:
    """../shared/corpora/<dialect>; skips the calling test when it is absent."""
    path = CORPORA / dialect
    if not path.is_dir():
        pytest.skip(f"corpus folder {path} is absent (clone the shared corpora beside the project)")
    return path


def corpus_files(dialect: str) -> list[str]:
    """Names of the corpus files (*.txt) for `dialect`, sorted; [] when the folder is absent."""
    path = CORPORA / dialect
    return sorted(p.name for p in path.glob("*.txt")) if path.is_dir() else []


def corpus_header(dialect: str, name: str) -> str:
    """The '#' lines at the top of a corpus file (its source, license, expectation)."""
    lines = []
    for line in (corpus_dir(dialect) / name).read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line)
    return "\n".join(lines)


def corpus_lines(dialect: str, name: str) -> list[str]:
    """The queries of one corpus file: '#' lines and blank lines skipped, order kept."""
    text = (corpus_dir(dialect) / name).read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def known_failures(name: str) -> dict[tuple[str, str], str]:
    """Read tests/known_failures/<name>: tab-separated `file<TAB>reason<TAB>query` lines.

    Returns {(file, query): reason}; '#' lines and blank lines are skipped; a
    missing file is an empty list.  The query is the last field, so it may
    itself hold tabs.
    """
    path = KNOWN_FAILURES / name
    out: dict[tuple[str, str], str] = {}
    if not path.is_file():
        return out
    for line in path.read_text().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        file, reason, query = line.split("\t", 2)
        out[(file, query)] = reason
    return out


def llguidance_acceptor(lark_text: str):
    """A function telling whether llguidance, given `lark_text`, accepts a query whole
    (fed byte by byte); the grammar must validate."""
    import llguidance

    tokenizer = llguidance.LLTokenizer("byte")
    spec = llguidance.LLMatcher.grammar_from_lark(lark_text)
    assert llguidance.LLMatcher.validate_grammar(spec, tokenizer) == ""

    def accepts(query: str) -> bool:
        matcher = llguidance.LLMatcher(tokenizer, spec, log_level=0)
        for byte in query.encode("utf-8", "surrogateescape"):
            if not matcher.consume_token(byte):
                return False
        return matcher.is_accepting()

    return accepts


def generation_grammar_acceptor(dialect: str):
    """`llguidance_acceptor` for the dialect's generation grammar (before narrowing: no catalog)."""
    from nlq.constrain.narrow import generation_source, generation_text

    return llguidance_acceptor(generation_text(generation_source(dialect)))
