"""LogQL against Loki's own queries: acceptance, rejection, formatter round trip, llguidance parity.

The corpora live in ../shared/corpora/logql (read through tests/corpus_util.py,
which skips when the folder is absent); each file's header says whether its
lines are valid.  Lines of the two mixed files are judged by
tests/known_failures/logql-mixed-decisions.txt; lines where nlq and the corpus
still disagree are listed, with the reason, in tests/known_failures/logql.txt.
"""

from __future__ import annotations

import pytest
from corpus_util import KNOWN_FAILURES, corpus_lines, known_failures

from nlq import dialects
from nlq.errors import QueryError
from nlq.grammar import grammar_text

VALID_FILES = ("loki-parser-valid.txt", "loki-logqltest-exprs.txt", "loki-bench-queries.txt")
INVALID_FILES = ("loki-parser-invalid.txt",)
MIXED = {"loki-logqltest-fail-exprs.txt": False, "loki-docs-examples.txt": True}  # default verdict

LOGQL = dialects.get("logql")


def lines_of(name: str) -> list[str]:
    return corpus_lines("logql", name)


def decisions() -> list[list[str]]:
    """Rows of known_failures/logql-mixed-decisions.txt: file, verdict, reason, query."""
    rows = []
    for line in (KNOWN_FAILURES / "logql-mixed-decisions.txt").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t", 3))
    return rows


def expectations() -> list[tuple[str, str, bool]]:
    """(file, query, expected valid) for every corpus line."""
    verdicts = {(f, q): verdict == "valid" for f, verdict, _reason, q in decisions()}
    out = []
    for name in VALID_FILES:
        out += [(name, q, True) for q in lines_of(name)]
    for name in INVALID_FILES:
        out += [(name, q, False) for q in lines_of(name)]
    for name, default in MIXED.items():
        out += [(name, q, verdicts.get((name, q), default)) for q in lines_of(name)]
    return out


def accepts(query: str) -> bool:
    try:
        LOGQL.validate(query)
    except QueryError:
        return False
    return True


def test_corpus_verdicts_match_except_the_listed_known_failures():
    known = known_failures("logql.txt")
    cases = expectations()
    disagree = {(f, q) for f, q, valid in cases if accepts(q) != valid}
    valid_cases = [c for c in cases if c[2]]
    invalid_cases = [c for c in cases if not c[2]]
    valid_ok = sum(1 for f, q, _ in valid_cases if (f, q) not in disagree)
    invalid_ok = sum(1 for f, q, _ in invalid_cases if (f, q) not in disagree)
    print(
        f"\nLogQL corpus: valid accepted {valid_ok}/{len(valid_cases)} "
        f"({100 * valid_ok / len(valid_cases):.2f}%), invalid rejected {invalid_ok}/{len(invalid_cases)} "
        f"({100 * invalid_ok / len(invalid_cases):.2f}%)"
    )
    assert valid_ok / len(valid_cases) >= 0.99
    assert invalid_ok / len(invalid_cases) >= 0.99
    unlisted = sorted(disagree - set(known))
    assert not unlisted, (
        "corpus lines judged wrongly and not in known_failures/logql.txt:\n"
        + "\n".join(f"{f}: {q}" for f, q in unlisted)
    )
    fixed = sorted(set(known) - disagree)
    assert not fixed, (
        "listed in known_failures/logql.txt but now judged right (remove them):\n"
        + "\n".join(f"{f}: {q}" for f, q in fixed)
    )


def test_every_decision_and_known_failure_names_a_real_corpus_line():
    lines = {(name, q) for name in (*VALID_FILES, *INVALID_FILES, *MIXED) for q in lines_of(name)}
    for f, verdict, reason, q in decisions():
        assert (f, q) in lines and verdict in ("valid", "invalid") and reason.strip()
    for (f, q), reason in known_failures("logql.txt").items():
        assert (f, q) in lines and reason.strip()


def test_formatter_round_trips_every_corpus_query():
    failures = []
    count = 0
    for _name, query, _ in expectations():
        try:
            node = LOGQL.parse(query)
        except QueryError:
            continue
        count += 1
        text = LOGQL.format(node)
        try:
            again = LOGQL.parse(text)
        except QueryError as exc:
            failures.append(f"{query}\n  -> {text}\n  !! {exc.headline()}")
            continue
        if again != node:
            failures.append(f"{query}\n  -> {text}")
        elif LOGQL.format(again) != text:
            failures.append(f"{query}\n  -> {text}\n  -> {LOGQL.format(again)} (not stable)")
    print(f"\nLogQL formatter round trip: {count - len(failures)}/{count}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.slow
def test_llguidance_agrees_with_lark_on_every_corpus_query():
    import lark
    from corpus_util import llguidance_acceptor

    text = grammar_text(LOGQL.grammar_file)
    ll_accepts = llguidance_acceptor(text)
    parser = lark.Lark(text, parser="earley", lexer="dynamic")

    def lark_accepts(query: str) -> bool:
        try:
            parser.parse(query)
        except lark.exceptions.UnexpectedInput:
            return False
        return True

    queries = list(dict.fromkeys(q for _f, q, _v in expectations()))
    mismatches = [q for q in queries if lark_accepts(q) != ll_accepts(q)]
    print(f"\nLogQL lark/llguidance parity: {len(queries) - len(mismatches)}/{len(queries)}")
    assert not mismatches, "\n".join(mismatches[:20])


@pytest.mark.slow
def test_the_generation_grammar_writes_every_query_the_checks_accept():
    """The generation grammar gives each aggregation only what Loki allows it
    (nlq.constrain.aggregations): it must still write, in canonical form, every corpus
    query the checks accept."""
    from corpus_util import generation_grammar_acceptor

    generation_accepts = generation_grammar_acceptor("logql")
    refused, count = [], 0
    for name, query, _expected in expectations():
        if not accepts(query):
            continue
        canonical = LOGQL.format(LOGQL.parse(query))
        count += 1
        if not generation_accepts(canonical):
            refused.append(f"{name}: {canonical}")
    print(f"\nLogQL generation grammar: {count - len(refused)}/{count} accepted corpus queries")
    assert not refused, "\n".join(refused[:20])
