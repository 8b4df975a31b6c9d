"""Every Datadog corpus query validates, except the listed known failures; own test
sets from Datadog's documentation validate or are rejected as labelled; the
canonical formatter round-trips every query it parses.

Figures: `pytest tests/test_datadog_corpus.py -s` prints accepted/total per file.
"""

from __future__ import annotations

import pytest
from datadog_util import (
    CORPUS_FILES,
    DATA_DIR,
    corpus_queries,
    dialect_for,
    known_failures,
    parsed,
    read_queries,
    validation_error,
)

from nlq import dialects
from nlq.errors import QueryError


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(CORPUS_FILES))
def test_corpus_validates_except_known_failures(name):
    queries = corpus_queries(name)
    listed = {q: r for (f, q), r in known_failures().items() if f == name}
    failing = {}
    for query in queries:
        error = validation_error(dialect_for(CORPUS_FILES[name], query), query)
        if error is not None:
            failing[query] = error.render().splitlines()[0]
    accepted = len(queries) - len(failing)
    print(f"\n{name}: {accepted}/{len(queries)} valid ({100 * accepted / len(queries):.1f}%)")
    unlisted = {q: e for q, e in failing.items() if q not in listed}
    assert not unlisted, "failures not in tests/known_failures/datadog.txt:\n" + "\n".join(
        f"  {q}\n    {e}" for q, e in unlisted.items()
    )
    now_passing = [q for q in listed if q not in failing and q in queries]
    assert not now_passing, "listed as known failures but now valid (remove them):\n" + "\n".join(
        now_passing
    )


@pytest.mark.slow
@pytest.mark.parametrize("dialect", ["datadog-metrics", "datadog-logs"])
def test_whole_corpus_at_least_99_percent(dialect):
    total = accepted = 0
    for name, file_dialect in CORPUS_FILES.items():
        if file_dialect != dialect:
            continue
        for query in corpus_queries(name):
            total += 1
            accepted += validation_error(dialect_for(file_dialect, query), query) is None
    print(f"\n{dialect} corpus: {accepted}/{total} valid ({100 * accepted / total:.2f}%)")
    assert accepted >= 0.99 * total


OWN_SETS = {
    "datadog-metrics": ("datadog_metrics_valid.txt", "datadog_metrics_invalid.txt"),
    "datadog-logs": ("datadog_logs_valid.txt", "datadog_logs_invalid.txt"),
}


@pytest.mark.parametrize("dialect", sorted(OWN_SETS))
def test_own_sets(dialect):
    valid_file, invalid_file = OWN_SETS[dialect]
    valid = read_queries(DATA_DIR / valid_file)
    invalid = read_queries(DATA_DIR / invalid_file)
    refused = {q: validation_error(dialect_for(dialect, q), q) for q in valid}
    refused = {q: e for q, e in refused.items() if e is not None}
    accepted_invalid = [q for q in invalid if validation_error(dialect_for(dialect, q), q) is None]
    print(
        f"\n{valid_file}: {len(valid) - len(refused)}/{len(valid)} valid; "
        f"{invalid_file}: {len(invalid) - len(accepted_invalid)}/{len(invalid)} rejected"
    )
    assert not refused, "\n".join(f"{q}\n{e.render()}" for q, e in refused.items())
    assert not accepted_invalid, "accepted but invalid:\n" + "\n".join(accepted_invalid)


def _round_trip_cases():
    yield from sorted(CORPUS_FILES.items())
    for dialect, (valid_file, _) in OWN_SETS.items():
        yield valid_file, dialect


@pytest.mark.slow
@pytest.mark.parametrize(("name", "file_dialect"), list(_round_trip_cases()))
def test_format_round_trips(name, file_dialect):
    path_queries = (
        read_queries(DATA_DIR / name)
        if name.endswith(tuple(v for v, _ in OWN_SETS.values()))
        else corpus_queries(name)
    )
    broken = []
    for query in path_queries:
        dialect = dialect_for(file_dialect, query)
        node = parsed(dialect, query)
        if isinstance(node, QueryError):
            continue
        spec = dialects.get(dialect)
        text = spec.format(node)
        again = parsed(dialect, text) if text != query else node
        if again != node:
            broken.append(f"{query}\n  -> {text}")
        elif spec.format(again) != text:
            broken.append(f"{query}\n  -> {text}\n  -> {spec.format(again)} (not a fixed point)")
    assert not broken, "\n".join(broken[:20])


@pytest.mark.slow
def test_the_metrics_generation_grammar_writes_every_query_the_checks_accept():
    """Generation names functions, modifiers and aggregators from the checks' tables
    (nlq.constrain.datadog_names): it must still write, in canonical form, every metrics
    corpus query the checks accept.  A formula that refers to named queries (`a / b`) it
    must refuse: a translated query is one query, with none to refer to."""
    from corpus_util import generation_grammar_acceptor

    from nlq.degenerate import ast_nodes
    from nlq.dialects.datadog_metrics import ast

    metrics = dialects.get("datadog-metrics")
    generation_accepts = generation_grammar_acceptor("datadog-metrics")
    refused, referring_written, count, referring = [], [], 0, 0
    for name, file_dialect in CORPUS_FILES.items():
        for query in corpus_queries(name):
            if dialect_for(file_dialect, query) != "datadog-metrics" or validation_error("datadog-metrics", query):
                continue
            node = parsed("datadog-metrics", query)
            canonical = metrics.format(node)
            if any(isinstance(n, ast.QueryRef) for n in ast_nodes(node)):
                referring += 1
                if generation_accepts(canonical):
                    referring_written.append(f"{name}: {canonical}")
                continue
            count += 1
            if not generation_accepts(canonical):
                refused.append(f"{name}: {canonical}")
    print(f"\nDatadog metrics generation grammar: {count - len(refused)}/{count} valid corpus queries, "
          f"{referring - len(referring_written)}/{referring} formulas of named queries refused")
    assert count > 0 and not refused, "\n".join(refused[:20])
    assert referring > 0 and not referring_written, "\n".join(referring_written[:20])
