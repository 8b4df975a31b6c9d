"""The few-shot banks in fewshot/: well-formed, canonical, valid for the snapshot
catalogs, spread over the strata, and every query returns data on a snapshot.

The rules these tests hold the files to are written down in fewshot/README.md.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from functools import cache
from pathlib import Path

import pytest

from nlq import dialects
from nlq.catalog import load_catalog
from nlq.prompting.fewshot import FewShotBank

ROOT = Path(__file__).resolve().parents[1]
FEWSHOT = ROOT / "fewshot"
CATALOGS = ROOT / "snapshots" / "catalog"
DIALECTS = ("promql", "logql", "datadog-metrics", "datadog-logs")
# Target share of each stratum; every stratum must hold at least MIN_SHARE of a file.
STRATA = {"filter": 0.30, "grouping": 0.30, "rate": 0.20, "join": 0.10, "edge": 0.10}
MIN_SHARE = 0.10
MAX_DRIFT = 0.08  # how far a stratum's share may stray from its target
MIN_PAIRS = 150
# The dialect is the file's name, so a record does not repeat it.
FIELDS = {"question", "query", "stratum", "tags"}
# Tags that excuse a pair from returning data: the right answer on a healthy
# system is "nothing" (absent(), up == 0), or the engine does not run it (monitors).
MAY_BE_EMPTY = {"may-be-empty", "monitor"}
SNAPSHOT = "shop-a"
STEP_MS = 900_000  # 25 steps over the 6 hours: enough to meet every incident, 3x cheaper than 5m


@cache
def pairs(dialect: str) -> list[dict]:
    path = FEWSHOT / f"{dialect}.jsonl"
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip() and not line.lstrip().startswith(("#", "//")):
            record = json.loads(line)
            record["_line"] = number
            record["_dialect"] = dialect
            out.append(record)
    return out


def dialect_or_skip(name: str):
    try:
        return dialects.get(name)
    except ImportError as exc:  # the dialect's package is missing or still a stub
        pytest.skip(f"the {name} dialect is not in this build yet: {exc}")


def where(record: dict) -> str:
    return f"fewshot/{record['_dialect']}.jsonl:{record['_line']}"


@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_line_is_a_complete_record(dialect):
    problems = []
    for record in pairs(dialect):
        keys = set(record) - {"_line", "_dialect"}
        if keys != FIELDS:
            problems.append(f"{where(record)}: fields {sorted(keys)}, want {sorted(FIELDS)}")
            continue
        if record["stratum"] not in STRATA:
            problems.append(
                f"{where(record)}: stratum {record['stratum']!r} not one of {list(STRATA)}"
            )
        if not record["question"].strip() or not record["query"].strip():
            problems.append(f"{where(record)}: empty question or query")
        tags = record["tags"]
        if (
            not isinstance(tags, list)
            or not tags
            or not all(
                isinstance(t, str) and re.fullmatch(r"[a-z0-9_][a-z0-9_.\-]*", t) for t in tags
            )
        ):
            problems.append(
                f"{where(record)}: tags must be a non-empty list of lower-case words: {tags!r}"
            )
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_enough_pairs_in_every_stratum(dialect):
    records = pairs(dialect)
    assert len(records) >= MIN_PAIRS, f"{dialect}: {len(records)} pairs, want at least {MIN_PAIRS}"
    counts = Counter(r["stratum"] for r in records)
    for stratum, target in STRATA.items():
        share = counts[stratum] / len(records)
        assert share >= MIN_SHARE, (
            f"{dialect}: {stratum} has {share:.1%} of the pairs, want >= {MIN_SHARE:.0%}"
        )
        assert abs(share - target) <= MAX_DRIFT, (
            f"{dialect}: {stratum} has {share:.1%} of the pairs, target {target:.0%} ± {MAX_DRIFT:.0%}"
        )


@pytest.mark.parametrize("dialect", DIALECTS)
def test_no_duplicate_questions(dialect):
    seen: dict[str, str] = {}
    duplicates = []
    for record in pairs(dialect):
        key = " ".join(record["question"].lower().split())
        if key in seen:
            duplicates.append(f"{where(record)} repeats {seen[key]}: {record['question']!r}")
        seen[key] = where(record)
    assert not duplicates, "\n".join(duplicates)


@pytest.mark.parametrize("dialect", DIALECTS)
def test_the_prompt_loader_reads_every_pair(dialect):
    bank = FewShotBank.from_file(FEWSHOT / f"{dialect}.jsonl", dialect)
    assert len(bank.examples) == len(pairs(dialect))


@pytest.mark.parametrize("dialect", DIALECTS)
def test_queries_are_canonical_and_pass_the_catalog_checks(dialect):
    language = dialect_or_skip(dialect)
    catalog = load_catalog(CATALOGS / f"{dialect}.json")
    problems = []
    for record in pairs(dialect):
        query = record["query"]
        try:
            node = language.validate(query, catalog)
        except Exception as exc:  # noqa: BLE001 - report every failing line at once
            problems.append(f"{where(record)}: {query}\n    {str(exc).splitlines()[0]}")
            continue
        canonical = language.format(node)
        if canonical != query:
            problems.append(
                f"{where(record)}: not canonical\n    have {query}\n    want {canonical}"
            )
    assert not problems, f"{len(problems)} bad queries:\n" + "\n".join(problems)


def _snapshot_connection(dialect: str):
    from nlq.snapshot.store import open_snapshot, snapshot_path

    conn = open_snapshot(SNAPSHOT)  # builds the snapshot on first use
    if dialect != "logql":
        return conn
    # The LogQL engine's LogStore runs CREATE TABLE IF NOT EXISTS, which a
    # read-only connection refuses: give it an in-memory copy of the log tables.
    import duckdb

    conn.close()
    memory = duckdb.connect(":memory:")
    memory.execute(f"ATTACH '{snapshot_path(SNAPSHOT)}' AS snapshot (READ_ONLY)")
    for table in ("log_streams", "log_lines", "meta"):
        memory.execute(f"CREATE TABLE {table} AS SELECT * FROM snapshot.{table}")
    memory.execute("DETACH snapshot")
    return memory


def _has_data(result) -> bool:
    if isinstance(result, list):  # matched log events
        return bool(result)
    for series in result.series:
        if series.lines:
            return True
        if any(not math.isnan(value) for _, value in series.samples):
            return True
    return False


@pytest.mark.slow
@pytest.mark.parametrize("dialect", DIALECTS)
def test_every_query_returns_data_on_the_snapshot(dialect):
    from nlq.engine import EngineUnavailable, engine_for, run_query
    from nlq.results import TimeRange

    try:
        engine = engine_for(dialect)
    except EngineUnavailable as exc:
        pytest.skip(f"no {dialect} engine in this build yet: {exc}")
    try:
        dialects.get(dialect)
        run = lambda text, conn, window: run_query(dialect, text, conn, window)  # noqa: E731
    except ImportError:
        if dialect != "promql":
            pytest.skip(f"the {dialect} dialect is not in this build yet")
        run = engine  # the PromQL engine parses text itself (promql-parser) until the dialect lands
    conn = _snapshot_connection(dialect)
    meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
    window = TimeRange.range(int(meta["start_ms"]), int(meta["end_ms"]), STEP_MS)
    if dialect == "datadog-logs":
        # The engine reloads every event per query (seconds each); search the
        # events loaded once with the same matcher instead.
        from nlq.engine.datadog.logs import row_event
        from nlq.engine.datadog.search import search

        events = [
            row_event(*row)
            for row in conn.execute(
                "SELECT ts, service, host, status, source, message, tags, attributes FROM dd_logs"
            ).fetchall()
        ]
        run = lambda text, conn, window: search(text, events)  # noqa: E731
    problems = []
    for record in pairs(dialect):
        if MAY_BE_EMPTY & set(record["tags"]):
            continue
        try:
            result = run(record["query"], conn, window)
        except Exception as exc:  # noqa: BLE001 - report every failing line at once
            problems.append(f"{where(record)}: {record['query']}\n    {type(exc).__name__}: {exc}")
            continue
        if not _has_data(result):
            problems.append(f"{where(record)}: no data on {SNAPSHOT}: {record['query']}")
    assert not problems, f"{len(problems)} queries without data:\n" + "\n".join(problems)


def _squash(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_no_pair_repeats_a_line_of_the_shared_corpora():
    """The corpora are test material for grammars and engines: never prompt material.

    Compares whitespace-free text, so a re-spaced copy of a corpus query counts too.
    """
    corpora = Path(__file__).resolve().parent.parent.parent / "shared" / "corpora"
    if not corpora.is_dir():
        pytest.skip(f"{corpora} is absent")
    corpus_text = set()
    for path in corpora.rglob("*.txt"):
        for line in path.read_text(encoding="utf-8", errors="ignore").splitlines():
            if line.strip() and not line.startswith("#"):
                corpus_text.add(_squash(line))
    leaks = [
        f"{where(record)}: {field} {record[field]!r}"
        for dialect in DIALECTS
        for record in pairs(dialect)
        for field in ("question", "query")
        if _squash(record[field]) in corpus_text
    ]
    assert not leaks, "few-shot pairs copied from ../shared/corpora:\n" + "\n".join(leaks)
