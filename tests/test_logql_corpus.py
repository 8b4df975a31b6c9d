"""LogQL against Loki's own queries: acceptance, rejection, formatter round trip, llguidance parity.

The corpora live in ../shared/corpora/logql (see its README); each file's
header says whether its lines are valid.  Lines of the two mixed files are
judged by tests/known_failures/logql-mixed-decisions.txt; lines where nlq and
the corpus still disagree are listed, with the reason, in
tests/known_failures/logql.txt.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from nlq import dialects
from nlq.errors import QueryError
from nlq.grammar import grammar_text

CORPUS_DIR = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / "logql"
KNOWN = Path(__file__).resolve().parent / "known_failures"

VALID_FILES = ("loki-parser-valid.txt", "loki-logqltest-exprs.txt", "loki-bench-queries.txt")
INVALID_FILES = ("loki-parser-invalid.txt",)
MIXED = {"loki-logqltest-fail-exprs.txt": False, "loki-docs-examples.txt": True}  # default verdict

LOGQL = dialects.get("logql")

pytestmark = pytest.mark.skipif(
    not CORPUS_DIR.is_dir(), reason=f"corpus folder {CORPUS_DIR} is absent"
)


def corpus_lines(name: str) -> list[str]:
    text = (CORPUS_DIR / name).read_text()
    return [line for line in text.splitlines() if line.strip() and not line.startswith("#")]


def tab_file(path: Path) -> list[list[str]]:
    rows = []
    for line in path.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            rows.append(line.split("\t"))
    return rows


def expectations() -> list[tuple[str, str, bool]]:
    """(file, query, expected valid) for every corpus line."""
    decisions = {
        (f, q): verdict == "valid"
        for f, verdict, _reason, q in tab_file(KNOWN / "logql-mixed-decisions.txt")
    }
    out = []
    for name in VALID_FILES:
        out += [(name, q, True) for q in corpus_lines(name)]
    for name in INVALID_FILES:
        out += [(name, q, False) for q in corpus_lines(name)]
    for name, default in MIXED.items():
        out += [(name, q, decisions.get((name, q), default)) for q in corpus_lines(name)]
    return out


def accepts(query: str) -> bool:
    try:
        LOGQL.validate(query)
    except QueryError:
        return False
    return True


def test_corpus_verdicts_match_except_the_listed_known_failures():
    known = {(f, q): reason for f, reason, q in tab_file(KNOWN / "logql.txt")}
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
    lines = {
        (name, q) for name in (*VALID_FILES, *INVALID_FILES, *MIXED) for q in corpus_lines(name)
    }
    for f, verdict, reason, q in tab_file(KNOWN / "logql-mixed-decisions.txt"):
        assert (f, q) in lines and verdict in ("valid", "invalid") and reason.strip()
    for f, reason, q in tab_file(KNOWN / "logql.txt"):
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
    import llguidance

    text = grammar_text(LOGQL.grammar_file)
    tokenizer = llguidance.LLTokenizer("byte")
    spec = llguidance.LLMatcher.grammar_from_lark(text)
    assert llguidance.LLMatcher.validate_grammar(spec, tokenizer) == ""
    parser = lark.Lark(text, parser="earley", lexer="dynamic")

    def lark_accepts(query: str) -> bool:
        try:
            parser.parse(query)
        except lark.exceptions.UnexpectedInput:
            return False
        return True

    def ll_accepts(query: str) -> bool:
        matcher = llguidance.LLMatcher(tokenizer, spec, log_level=0)
        for byte in query.encode():
            if not matcher.consume_token(byte):
                return False
        return matcher.is_accepting()

    queries = list(dict.fromkeys(q for _f, q, _v in expectations()))
    mismatches = [q for q in queries if lark_accepts(q) != ll_accepts(q)]
    print(f"\nLogQL lark/llguidance parity: {len(queries) - len(mismatches)}/{len(queries)}")
    assert not mismatches, "\n".join(mismatches[:20])
