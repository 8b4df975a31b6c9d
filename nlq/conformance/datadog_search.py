"""Conformance of nlq's Datadog log search evaluator with Vector's test table.

Each line of vector-search-syntax-checks.jsonl is `{"query", "pass", "fail"}`:
the query must match the `pass` event and must not match the `fail` event; a
case passes only when both hold.
"""

from __future__ import annotations

import json
from pathlib import Path

from nlq.conformance.report import CaseResult
from nlq.engine.datadog.search import compile_search, matches
from nlq.errors import QueryError

DEFAULT_DIR = "datadog"
FILE_PATTERN = "vector-search-syntax-checks.jsonl"


def run_file(path: Path) -> list[CaseResult]:
    results = []
    for number, line in enumerate(Path(path).read_text().splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        case = json.loads(line)
        query = case["query"]
        try:
            node = compile_search(query)
            passed = matches(node, case["pass"])
            failed = matches(node, case["fail"])
        except QueryError as exc:
            results.append(
                CaseResult(path.name, number, query, "failed", "parses", "", exc.render())
            )
            continue
        ok = passed and not failed
        got = f"pass event matched: {passed}; fail event matched: {failed}"
        results.append(
            CaseResult(
                Path(path).name,
                number,
                query,
                "passed" if ok else "failed",
                expected="pass event matched: True; fail event matched: False",
                got=got,
            )
        )
    return results
