"""Generated PromQL over the snapshot catalog, run by the real Prometheus and by nlq's engine.

The differential test fails on a disagreement that tests/known_failures/promql-differential.txt
does not list (and on a listed query that now agrees), so the figure can only improve.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from nlq.catalog import load_catalog
from nlq.reference import prometheus as ref
from nlq.snapshot import snapshot_names
from nlq.snapshot.differential import engine_connection, evaluation_times, run_differential, summary
from nlq.snapshot.querygen import generate_queries, regex_literal

ROOT = Path(__file__).resolve().parents[1]
CATALOG = ROOT / "snapshots" / "catalog" / "promql.json"
KNOWN = ROOT / "tests" / "known_failures" / "promql-differential.txt"
N_QUERIES = 1000

needs_prometheus = pytest.mark.skipif(
    not ref.binaries_available(), reason="prometheus/promtool not installed (scripts/setup: apt-get install -y prometheus)")


@pytest.fixture(scope="module", autouse=True)
def stop_reference_servers():
    yield
    for name in snapshot_names():
        ref.stop(name)


@pytest.fixture(scope="module")
def queries():
    return generate_queries(load_catalog(CATALOG), N_QUERIES)


def test_generator_is_deterministic_and_varied(queries):
    assert len(set(queries)) == N_QUERIES
    assert queries == generate_queries(load_catalog(CATALOG), N_QUERIES)
    for needle in ("rate(", "increase(", "histogram_quantile(", " by (", " on (", "group_left", " offset ",
                   "_over_time(", "topk(", "=~", "!~", "[10m:", " bool ", "@ end()"):
        assert any(needle in q for q in queries), needle


def test_regex_literal_escapes_for_promql_strings():
    assert regex_literal("10.0.0.9:9308") == "10\\\\.0\\\\.0\\\\.9:9308"
    assert regex_literal("checkout-payments") == "checkout-payments"


def test_queries_parse_with_nlq_when_the_dialect_exists(queries):
    from nlq import dialects

    try:
        dialect = dialects.get("promql")
    except ModuleNotFoundError:
        pytest.skip("nlq.dialects.promql not available yet")
    failures = []
    for q in queries:
        try:
            dialect.parse(q)
        except Exception as exc:  # noqa: BLE001
            failures.append(f"{q}: {exc}")
    assert not failures, "\n".join(failures[:20])


@pytest.mark.slow
@needs_prometheus
def test_every_generated_query_runs_on_prometheus(queries):
    name = snapshot_names()[0]
    con = engine_connection(name)
    instants, _ = evaluation_times(con)
    con.close()
    errors, answered = [], 0
    for q in queries:
        try:
            answered += bool(ref.query(name, q, instants[-1] / 1000).series)
        except Exception as exc:  # noqa: BLE001
            errors.append(f"{q}: {exc}")
    assert not errors, "\n".join(errors[:20])
    assert answered >= 0.85 * len(queries)  # most queries select something at the window's end


def _known() -> dict[str, str]:
    if not KNOWN.exists():
        return {}
    out = {}
    for line in KNOWN.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            reason, _, query = line.partition("\t")
            out[query] = reason
    return out


def _check_agreement(queries: list[str], **options) -> None:
    from nlq.engine import EngineUnavailable, engine_for

    try:
        engine_for("promql")
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
    outcomes = run_differential(snapshot_names(), queries, **options)
    print(summary(outcomes))
    known = _known()
    new = [o for o in outcomes if not o.agree and o.query not in known]
    fixed = [o.query for o in outcomes if o.agree and o.query in known]
    message = "\n".join([f"{o.query}\n    {o.reasons[0][:300]}" for o in new[:30]] +
                        [f"now agrees, remove from {KNOWN.name}: {q}" for q in fixed[:30]])
    assert not new and not fixed, message


@pytest.mark.slow
@needs_prometheus
def test_engine_agrees_with_prometheus(queries):
    _check_agreement(queries)


@pytest.mark.slow
@needs_prometheus
def test_gold_queries_agree_with_prometheus():
    """Every gold PromQL query of the eval benchmark, on every variant, instants and a range."""
    gold_file = ROOT / "evals" / "promql.jsonl"
    if not gold_file.exists():
        pytest.skip("evals/promql.jsonl not there yet")
    gold = sorted({json.loads(line)["gold"] for line in gold_file.read_text().splitlines() if line.strip()})
    _check_agreement(gold, instants_first=2, instants_others=2, range_variants=3)
