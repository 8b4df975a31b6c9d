"""nlq.training.pairs: valid queries for any catalog, phrased three ways, deterministic."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest

from nlq import dialects
from nlq.catalog import Catalog, load_catalog
from nlq.training.pairs import STYLES, generate_pairs, words

CATALOGS = Path(__file__).resolve().parents[1] / "snapshots" / "catalog"
DIALECTS = ("promql", "logql", "datadog-metrics", "datadog-logs")

PODS = [f"worker-{i}" for i in range(15)]
# Small catalogs with names unlike the snapshot's, as another team would have.
OTHER_CATALOGS = {
    "promql": {
        "api_calls_total": {"handler": ["/login", "/search", "/basket"], "code": ["200", "404", "503"],
                            "region": ["north", "south"]},
        "rpc_served_total": {"rpc_code": ["OK", "NotFound", "Unavailable"], "rpc_method": ["Get", "Put"]},
        "api_latency_seconds_bucket": {"handler": ["/login", "/search"], "le": ["0.1", "0.5", "+Inf"]},
        "api_latency_seconds_sum": {"handler": ["/login", "/search"]},
        "api_latency_seconds_count": {"handler": ["/login", "/search"]},
        "worker_queue_length": {"queue": ["emails", "thumbnails", "exports"], "region": ["north", "south"]},
        "worker_memory_used_bytes": {"pod": PODS, "region": ["north", "south"]},
        "worker_memory_limit_bytes": {"pod": PODS, "region": ["north", "south"]},
        "pod_owner_info": {"pod": PODS, "team": ["core", "growth", "infra"]},
    },
    "logql": {
        "dialect": "logql",
        "log_labels": {"app": ["billing", "gateway", "ledger"], "severity": ["error", "info", "debug"]},
        "log_fields": {
            "http_status": {"kind": "number", "values": []},
            "took": {"kind": "duration", "values": []},
            "message": {"kind": "string", "values": ["invoice created", "ledger write failed"]},
        },
    },
    "datadog-metrics": {
        "dialect": "datadog-metrics",
        "metrics": {
            "web.requests": {"type": "count", "labels": {"app": ["billing", "gateway"], "code": ["200", "500"]}},
            "web.errors": {"type": "count", "labels": {"app": ["billing", "gateway"], "code": ["500", "503"]}},
            "web.latency": {"type": "distribution", "labels": {"app": ["billing", "gateway"]}},
            "pool.conn.used": {"type": "gauge", "labels": {"db": ["main", "replica", "audit"]}},
            "pool.conn.max": {"type": "gauge", "labels": {"db": ["main", "replica", "audit"]}},
            "jobs.processed": {"type": "rate", "labels": {"queue": ["emails", "exports"]}},
        },
    },
    "datadog-logs": {
        "dialect": "datadog-logs",
        "log_labels": {"service": ["billing", "gateway", "ledger"], "status": ["error", "info"],
                       "env": ["staging", "prod"]},
        "log_fields": {
            "http.status": {"kind": "number", "values": []},
            "error.msg": {"kind": "string", "values": ["ledger write failed", "timeout"]},
            "took_ms": {"kind": "number", "values": []},
        },
    },
}  # fmt: skip


def catalog_for(dialect: str, which: str) -> Catalog:
    if which == "snapshot":
        return load_catalog(CATALOGS / f"{dialect}.json")
    return Catalog.from_dict(OTHER_CATALOGS[dialect], dialect=dialect)


def check_query(dialect: str, query: str, catalog: Catalog) -> None:
    """Raise when `query` does not parse or names something `catalog` lacks."""
    try:
        language = dialects.get(dialect)
    except ImportError:  # nlq's PromQL parser is not in this build yet: promql-parser and names
        assert dialect == "promql"
        import promql_parser

        promql_parser.parse(query)
        for name, matchers in re.findall(r"([A-Za-z_:][\w:]*)\{([^}]*)\}", query):
            assert name in catalog.metrics, f"unknown metric {name} in {query}"
            for label in re.findall(r"(\w+)\s*[=!]~?", matchers):
                assert label in catalog.metrics[name].labels, f"unknown label {label} in {query}"
        return
    language.validate(query, catalog)


def invalid_queries(dialect: str, which: str, seeds, n: int) -> list[str]:
    catalog = catalog_for(dialect, which)
    problems = []
    for seed in seeds:
        for pair in generate_pairs(catalog, n=n, seed=seed, canonical=False):
            try:
                check_query(dialect, pair.query, catalog)
            except Exception as exc:  # noqa: BLE001 - list every bad query
                problems.append(f"[{pair.template}] {pair.query}\n    {str(exc).splitlines()[0]}")
    return sorted(set(problems))


@pytest.mark.parametrize("which", ["snapshot", "other"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_generated_queries_are_valid_for_their_catalog(dialect, which):
    problems = invalid_queries(dialect, which, seeds=(0,), n=25)
    assert not problems, f"{len(problems)} invalid:\n" + "\n".join(problems)


@pytest.mark.slow
@pytest.mark.parametrize("which", ["snapshot", "other"])
@pytest.mark.parametrize("dialect", DIALECTS)
def test_many_generated_queries_are_valid_for_their_catalog(dialect, which):
    problems = invalid_queries(dialect, which, seeds=(1, 2, 3), n=80)
    assert not problems, f"{len(problems)} invalid:\n" + "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_same_seed_gives_the_same_pairs(dialect):
    catalog = catalog_for(dialect, "snapshot")
    first = generate_pairs(catalog, n=40, seed=11, canonical=False)
    assert first == generate_pairs(catalog, n=40, seed=11, canonical=False)
    assert first != generate_pairs(catalog, n=40, seed=12, canonical=False)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_queries_come_out_in_canonical_form(dialect):
    try:
        language = dialects.get(dialect)
    except ImportError:
        pytest.skip(f"the {dialect} dialect is not in this build yet")
    for pair in generate_pairs(catalog_for(dialect, "other"), n=8, seed=5, styles=("terse",)):
        assert language.format(language.parse(pair.query)) == pair.query


@pytest.mark.parametrize("dialect", DIALECTS)
def test_pairs_cover_every_stratum_and_style(dialect):
    pairs = generate_pairs(catalog_for(dialect, "snapshot"), n=150, seed=0, canonical=False)
    queries = {p.query for p in pairs}
    assert len(queries) >= 100, f"only {len(queries)} distinct queries"
    strata = Counter(p.stratum for p in pairs)
    assert set(strata) == {"filter", "grouping", "rate", "join", "edge"}, strata
    assert {p.style for p in pairs} == set(STYLES)
    questions = [p.question.lower() for p in pairs]
    assert len(questions) == len(set(questions)), "duplicate questions"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_each_query_is_asked_in_more_than_one_way(dialect):
    pairs = generate_pairs(catalog_for(dialect, "other"), n=20, seed=3, canonical=False)
    by_query: dict[str, set[str]] = {}
    for p in pairs:
        by_query.setdefault(p.query, set()).add(p.question)
    # A question already used for another query is dropped, so a few may keep one phrasing.
    several = sum(len(qs) >= 2 for qs in by_query.values())
    assert by_query and several >= 0.9 * len(by_query), by_query


def test_promql_uses_functions_that_fit_the_metric_type():
    pairs = generate_pairs(catalog_for("promql", "snapshot"), n=200, seed=4, canonical=False)
    for p in pairs:
        for bucket in re.findall(r"\w+_bucket", p.query):
            # a quantile over every bucket, or the share at or under one bound (bucket over count)
            share = re.search(rf'{bucket}\{{[^}}]*le="[\d.]+"', p.query) and bucket[:-6] + "count" in p.query
            assert ("histogram_quantile" in p.query and "le" in p.query) or share, p.query
            assert f"rate({bucket}" in p.query, p.query
        for counter in re.findall(r"\b\w+_total\b", p.query):
            if not p.query.startswith("absent("):
                assert re.search(rf"(rate|increase)\({counter}\b", p.query), p.query


# The idioms each language is used for, beyond one selector and one function:
# a join through an info metric, a ratio of two metrics, counting series,
# thresholds, comparisons with a day or a week before, percentages, the peak of
# a rate (a subquery), the lowest few; log volume in bytes, top talkers,
# parsed-field filters, regex line filters, unwrapped numbers, the difference
# from an earlier window; Datadog arithmetic between two queries, percentages,
# shifts in time, running totals, derivatives, numeric ranges, wildcards and
# exclude lists.
IDIOMS = {
    "promql": [r"\* on \(pod\) group_left \(team\) pod_owner_info", r"^count by", r"\) / sum",
               r" [<>] \d+$", r"offset 1[dw]\)", r"\* 100$", r"\[\d+[hd]:1m\]\)$", r"^(top|bottom)k\(\d+, \w+(\{[^}]*\})?\)$",
               r'_bucket\{[^}]*le="0\.[15]"\}\[\w+\]\)\) / sum\(rate\(api_latency_seconds_count\b', r'code!="OK"'],
    "logql": [r"^topk\(", r"bytes_(over_time|rate)\(", r"\| json \| \w+=", r"\|~ ", r"\| unwrap \w+ \| __error__=\"\" \[",
              r"\)\) - sum\(count_over_time\(.*\] offset \w+\)\)$",
              r'severity="error"\} \|= "[^"]+" \[\w+\]\)\) / sum\(count_over_time\(\{[^}]*severity="error"\}',
              r'severity="\w+"\}\[\w+\]\)\) / sum\(count_over_time\(\{app="\w+", severity="\w+"\}'],
    "datadog-metrics": [r"^sum:([\w.]+)\{.*\.as_count\(\) / sum:(?!\1\{)[\w.]+\{", r"^top\(",
                        r"^100 \* ", r"(day|week)_before\(", r"^timeshift\(.*, -1800\)$", r"^cumsum\(",
                        r"^derivative\("],
    "datadog-logs": [r"@[\w.]+:>\d", r"@[\w.]+:\*\w+\*", r" -\w+:\("],
}  # fmt: skip


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_generator_composes_each_languages_idioms_for_any_catalog(dialect):
    catalog = catalog_for(dialect, "other")
    if dialect == "logql":  # categorical fields to filter and group on, a number to unwrap
        catalog = Catalog.from_dict(
            {**OTHER_CATALOGS["logql"], "log_fields": {
                **OTHER_CATALOGS["logql"]["log_fields"],
                "method": {"kind": "string", "values": ["GET", "POST"]},
                "queue_depth": {"kind": "number", "values": []}}},
            dialect="logql",
        )  # fmt: skip
    queries = {p.query for p in generate_pairs(catalog, n=200, seed=0, canonical=False)}
    missing = [idiom for idiom in IDIOMS[dialect] if not any(re.search(idiom, q) for q in queries)]
    assert not missing, f"no query matches {missing} among {len(queries)}"
    for query in queries:
        check_query(dialect, query, catalog)


def test_metric_names_become_words():
    assert words("http_request_duration_seconds_bucket") == "http request duration"
    assert words("node_memory_MemAvailable_bytes") == "node memory mem available bytes"
    assert words("trace.http.request.hits") == "trace http request hits"


def test_the_generator_never_reads_the_benchmark():
    source = (Path(__file__).resolve().parents[1] / "nlq" / "training").rglob("*.py")
    for path in source:
        assert "evals" not in path.read_text(), f"{path} mentions evals/"


@pytest.mark.parametrize("dialect", ["promql", "logql", "datadog-metrics"])
def test_every_question_states_the_grouping_and_any_unusual_window(dialect):
    """A question silent on the query's `by (x)` or `[10m]` would teach the model to invent them."""
    catalog = load_catalog(CATALOGS / f"{dialect}.json", dialect)
    checked = 0
    for pair in generate_pairs(catalog, n=120, seed=11):
        for by in re.findall(r"\bby\s*[({]([^)}]*)[)}]", pair.query):
            for label in (name.strip() for name in by.split(",")):
                if label and label != "le":
                    assert said(words(label), pair.question), (pair.question, pair.query)
                    checked += 1
        for window in re.findall(r"\[\s*(\d+[smhd])\s*\]", pair.query):
            if window != "5m":
                spelled = (window, words_for_window(window))
                assert any(said(s, pair.question) for s in spelled) or "last hr" in pair.question, (
                    pair.question, pair.query)
                checked += 1
    assert checked > 20


def said(phrase: str, question: str) -> bool:
    """`phrase` is in `question`, allowing the one swapped letter pair of the generator's typos."""
    for start in range(len(question) - len(phrase) + 1):
        piece = question[start:start + len(phrase)]
        diff = [i for i, (a, b) in enumerate(zip(piece, phrase, strict=True)) if a != b]
        if not diff or (len(diff) == 2 and diff[1] == diff[0] + 1 and piece[diff[0]] == phrase[diff[1]]):
            return True
    return False


def words_for_window(window: str) -> str:
    number, unit = int(window[:-1]), {"s": "second", "m": "minute", "h": "hour", "d": "day"}[window[-1]]
    return unit if number == 1 else f"{number} {unit}s"


def test_metric_aliases_pick_out_one_metric_of_the_catalog():
    from nlq.training.pairs import metric_aliases

    catalog = load_catalog(CATALOGS / "promql.json", "promql")
    aliases = metric_aliases(catalog)
    assert aliases["kube_pod_container_status_restarts_total"][0] == "restarts"
    all_words = {name: words(name).lower().split() for name in catalog.metrics}
    for name, names in aliases.items():
        for alias in names:
            wanted = alias.split()
            owners = {words(other) for other, tokens in all_words.items()
                      if all(w in tokens for w in wanted)}
            assert owners == {words(name)}, (name, alias, owners)


def test_every_shift_back_in_time_has_its_words():
    """A shift the composers can draw but the phrasings cannot say would fail generation only when drawn."""
    from nlq.training.composers import SHIFTS
    from nlq.training.pairs import _AGO

    assert set(SHIFTS) <= set(_AGO)
    assert all(len(said) == 3 and all(said) for said in _AGO.values())
