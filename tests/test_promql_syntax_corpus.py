"""PromQL against real queries: acceptance, rejection, round trip, promql-parser, llguidance.

The corpora live in ../shared/corpora/promql (see its README); each file's
header says whether its lines are valid.  Every query where nlq and the
corpus's verdict still differ is listed, with the reason, in
tests/known_failures/promql.txt; every query where nlq and the `promql-parser`
package (a Rust PromQL parser) differ is listed, with evidence for who is
right, in tests/known_failures/promql-parser-disagreements.txt.  A query that
fails and is not listed fails the test (the numbers only go up); a listed query
that now passes fails it too (the lists stay honest).

Earley parsing costs ~40 ms a query on this machine, so the default run takes
a fixed sample (every file's first lines and then every 8th); the complete
run over all ~4,900 queries is marked slow.  Figures:

    pytest tests/test_promql_syntax_corpus.py -m slow -s
"""

from __future__ import annotations

import pytest
from corpus_util import CORPORA, corpus_lines, known_failures

from nlq import dialects
from nlq.errors import QueryError
from nlq.grammar import grammar_text

PROMQL = dialects.get("promql")
VALID_FILES = (
    "awesome-prometheus-alerts-data.txt",
    "awesome-prometheus-alerts.txt",
    "kubernetes-mixin.txt",
    "node-mixin.txt",
    "prometheus-compliance-queries.txt",
    "prometheus-parser-valid.txt",
    # "mostly valid": the lines meant to fail are listed in known_failures/promql.txt
    "promqltest-eval-exprs.txt",
)
#: rejected by Prometheus at parse *or evaluation* time; the ones nlq accepts are listed
INVALID_FILES = ("prometheus-parser-invalid.txt", "prometheus-compliance-fail-queries.txt")
SAMPLE_HEAD, SAMPLE_STRIDE = 40, 8

pytestmark = pytest.mark.skipif(
    not (CORPORA / "promql").is_dir(), reason="../shared/corpora/promql is absent"
)


def expectations(full: bool) -> list[tuple[str, str, bool]]:
    """(file, query, expected valid) for every corpus line, or for the default sample."""
    out = []
    for name in VALID_FILES + INVALID_FILES:
        lines = list(dict.fromkeys(corpus_lines("promql", name)))
        if not full:
            lines = lines[:SAMPLE_HEAD] + lines[SAMPLE_HEAD::SAMPLE_STRIDE]
        out += [(name, q, name in VALID_FILES) for q in lines]
    return out


def verdict(query: str) -> tuple[bool, str]:
    """(accepted, why not) after parsing and the type checks (no catalog)."""
    try:
        node = PROMQL.parse(query)
    except QueryError as exc:
        return False, exc.message
    problems = PROMQL.check(node, query)
    return (not problems), (problems[0].message if problems else "")


def reference_accepts(query: str) -> bool:
    import promql_parser

    try:
        promql_parser.parse(query)
    except BaseException:  # noqa: BLE001 - the Rust parser raises plain exceptions (and panics)
        return False
    return True


def _judge(full: bool) -> None:
    known = known_failures("promql.txt")
    rows = expectations(full)
    unexpected, now_passing = [], []
    figures: dict[str, list[int]] = {}
    for name, query, expected in rows:
        accepted, why = verdict(query)
        fig = figures.setdefault(name, [0, 0])
        fig[1] += 1
        fig[0] += accepted == expected
        listed = (name, query) in known
        if accepted != expected and not listed:
            unexpected.append(f"{name}: {'rejected' if expected else 'accepted'}: {query}  [{why}]")
        elif accepted == expected and listed:
            now_passing.append(f"{name}: {query}")
    print(f"\nPromQL corpus ({'complete' if full else 'sample'}): file  as-expected/total")
    for name, (good, total) in figures.items():
        print(f"  {name:42s} {good}/{total}  ({'accept' if name in VALID_FILES else 'reject'})")
    # The 99% bar: every valid file, and the INVALID file (the compliance "fail" file also
    # holds queries Prometheus rejects only at evaluation, which no parser can see).  Lines
    # listed as "valid as written" (transcoding artifacts of the corpus) leave the count.
    artifacts = {key for key, reason in known.items() if reason.startswith("valid as written")}
    for kind, files in (("valid", VALID_FILES), ("invalid", ("prometheus-parser-invalid.txt",))):
        good = sum(figures[f][0] for f in files if f in figures)
        total = sum(figures[f][1] for f in files if f in figures)
        dropped = sum(1 for f, q, _e in rows if f in files and (f, q) in artifacts)
        print(
            f"  all {kind:7s} {good}/{total} = {good / total:.2%}"
            + (
                f"; {good}/{total - dropped} without {dropped} listed corpus artifacts"
                if dropped
                else ""
            )
        )
        assert good / (total - dropped) >= 0.99 or not full
    assert not unexpected, "not listed in tests/known_failures/promql.txt:\n" + "\n".join(
        unexpected
    )
    assert not now_passing, (
        "listed in tests/known_failures/promql.txt but now as expected:\n" + "\n".join(now_passing)
    )


def test_corpus_sample_matches_the_expected_verdicts():
    _judge(full=False)


@pytest.mark.slow
def test_every_corpus_query_matches_the_expected_verdict():
    _judge(full=True)


def _agreement(full: bool) -> None:
    listed = known_failures("promql-parser-disagreements.txt")
    rows = list(dict.fromkeys((f, q) for f, q, _ in expectations(full)))
    unlisted, stale = [], []
    agree = 0
    for name, query in rows:
        ours, _ = verdict(query)
        theirs = reference_accepts(query)
        agree += ours == theirs
        if ours != theirs and (name, query) not in listed:
            unlisted.append(
                f"{name}: nlq {'accepts' if ours else 'rejects'}, promql-parser does not: {query}"
            )
        elif ours == theirs and (name, query) in listed:
            stale.append(f"{name}: {query}")
    print(f"\nPromQL agreement with promql-parser: {agree}/{len(rows)} queries")
    assert not unlisted, "\n".join(unlisted)
    assert not stale, "listed as disagreements but now agree:\n" + "\n".join(stale)


def test_agreement_with_promql_parser_on_the_sample():
    _agreement(full=False)


@pytest.mark.slow
def test_agreement_with_promql_parser_on_every_query():
    _agreement(full=True)


def _round_trip(full: bool) -> None:
    broken = []
    for _name, query, _expected in expectations(full):
        try:
            node = PROMQL.parse(query)
        except QueryError:
            continue
        text = PROMQL.format(node)
        try:
            again = PROMQL.parse(text)
        except QueryError as exc:
            broken.append(f"{query}\n  -> {text}\n  {exc.message}")
            continue
        if again != node:
            broken.append(f"{query}\n  -> {text}")
    assert not broken, "\n".join(broken[:20])


def test_formatter_round_trip_on_the_sample():
    _round_trip(full=False)


@pytest.mark.slow
def test_formatter_round_trip_on_every_query():
    _round_trip(full=True)


# --------------------------------------------------------------- llguidance


def _llguidance_parity(full: bool) -> None:
    import lark
    from corpus_util import llguidance_acceptor

    text = grammar_text(PROMQL.grammar_file)
    ll_accepts = llguidance_acceptor(text)
    parser = lark.Lark(text, parser="earley", lexer="dynamic")

    def lark_accepts(query: str) -> bool:
        try:
            parser.parse(query)
        except lark.exceptions.UnexpectedInput:
            return False
        return True

    listed = {q for (_f, q) in known_failures("promql-llguidance.txt")}
    queries = list(dict.fromkeys(q for _f, q, _v in expectations(full)))
    if not full:
        queries = queries[::3]  # both parsers are run afresh here: a third of the sample is plenty
    mismatches = [q for q in queries if lark_accepts(q) != ll_accepts(q) and q not in listed]
    print(f"\nPromQL lark/llguidance parity: {len(queries) - len(mismatches)}/{len(queries)}")
    assert not mismatches, "\n".join(mismatches[:20])


def test_llguidance_validates_the_grammar():
    import llguidance

    spec = llguidance.LLMatcher.grammar_from_lark(grammar_text(PROMQL.grammar_file))
    assert llguidance.LLMatcher.validate_grammar(spec, llguidance.LLTokenizer("byte")) == ""


def test_llguidance_agrees_with_lark_on_the_sample():
    _llguidance_parity(full=False)


@pytest.mark.slow
def test_llguidance_agrees_with_lark_on_every_query():
    _llguidance_parity(full=True)


@pytest.mark.slow
def test_the_generation_grammar_writes_every_query_the_checks_accept():
    """The generation grammar types calls and keeps ranges inside them (nlq.constrain.calls):
    it must still write, in canonical form, every valid corpus query the checks accept.  A
    query that is a range vector at the top is wrapped in count_over_time, the one place a
    generated range may stand.  A query selecting by labels alone (`{job="a"}`) it must
    refuse: generated selectors name their metric (nlq.constrain.selectors)."""
    from corpus_util import generation_grammar_acceptor

    from nlq.degenerate import ast_nodes
    from nlq.dialects.promql import ast
    from nlq.dialects.promql.checks import _strip

    generation_accepts = generation_grammar_acceptor("promql")
    refused, nameless_written, count, nameless = [], [], 0, 0
    for name, query, _expected in expectations(full=True):
        if name not in VALID_FILES or not verdict(query)[0]:
            continue
        node = PROMQL.parse(query)
        canonical = PROMQL.format(node)
        if isinstance(_strip(node), (ast.MatrixSelector, ast.Subquery)):
            canonical = f"count_over_time({canonical})"
        if any(isinstance(n, ast.VectorSelector) and not n.name for n in ast_nodes(node)):
            nameless += 1
            if generation_accepts(canonical):
                nameless_written.append(f"{name}: {canonical}")
            continue
        count += 1
        if not generation_accepts(canonical):
            refused.append(f"{name}: {canonical}")
    print(f"\nPromQL generation grammar: {count - len(refused)}/{count} valid corpus queries, "
          f"{nameless - len(nameless_written)}/{nameless} nameless selectors refused")
    assert not refused, "\n".join(refused[:20])
    assert nameless > 0 and not nameless_written, "\n".join(nameless_written[:20])
