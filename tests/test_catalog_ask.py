"""`nlq ask --catalog mine.yaml` with the real embedded model on a team's own minimal catalog.

The catalog shares no metric name with the shop snapshot, so an answer that
names only its metrics and label values shows the catalog (not the few-shot
examples, which are about the shop) decides what the model may write.
"""

from __future__ import annotations

import json
import re

import pytest
from click.testing import CliRunner

from nlq.catalog import load_catalog
from nlq.cli import main
from nlq.snapshot.catalogs import catalog_path

MINE_YAML = """\
warehouse_picks_total:
  warehouse: [berlin, lyon, madrid]
  picker_shift: [early, late]
warehouse_pick_duration_seconds_bucket:
  warehouse: [berlin, lyon, madrid]
  le: ["1", "5", "30", "120", "+Inf"]
warehouse_pick_duration_seconds_sum:
  warehouse: [berlin, lyon, madrid]
warehouse_pick_duration_seconds_count:
  warehouse: [berlin, lyon, madrid]
conveyor_belt_speed_ratio:
  belt: [b1, b2]
"""

IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def test_the_catalog_shares_no_metric_with_the_snapshot(tmp_path):
    path = tmp_path / "mine.yaml"
    path.write_text(MINE_YAML)
    shop = json.loads(catalog_path("promql").read_text())["metrics"]
    assert not set(load_catalog(path).metrics) & set(shop)


def _names(query: str) -> set[str]:
    """Identifiers outside strings and `#` comments (a comment may say anything)."""
    code = re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)
    code = re.sub(r"#[^\n]*", "", code)
    return set(IDENT.findall(code))


def _shop_metrics() -> set[str]:
    return set(json.loads(catalog_path("promql").read_text())["metrics"])


@pytest.mark.model
@pytest.mark.slow
def test_ask_answers_with_names_from_my_catalog_only(model, tmp_path, monkeypatch):
    """The CLI, the real embedded model, the minimal catalog: a valid query over mine.yaml's metrics."""
    path = tmp_path / "mine.yaml"
    path.write_text(MINE_YAML)
    mine = load_catalog(path)
    monkeypatch.setenv("NLQ_MODEL", "embedded")
    result = CliRunner().invoke(main, ["ask", "--dialect", "promql", "--catalog", str(path), "--json",
                                       "rate of warehouse picks"])
    assert result.exit_code == 0, result.output
    answer = json.loads(result.output[result.output.index("{"):])
    query = answer["query"]
    assert answer["status"] == "ok" and query, answer
    assert _names(query) & set(mine.metrics), query
    assert not _names(query) & _shop_metrics(), query
    values = re.findall(r'"([^"]*)"', query)
    known = {v for m in mine.metrics.values() for vs in m.labels.values() for v in vs}
    assert all(v in known or re.search(r"[.*|+\[]", v) for v in values), query


@pytest.mark.model
@pytest.mark.slow
def test_even_failed_attempts_never_name_a_snapshot_metric(model, tmp_path):
    """On a question the 135M model gets wrong, every attempt still writes only mine.yaml's names.

    (It answers "90th percentile pick duration by warehouse" with no valid query
    within its retries; the grammar still keeps the shop's few-shot metrics out.)
    """
    from nlq.translate import translate

    path = tmp_path / "mine.yaml"
    path.write_text(MINE_YAML)
    mine = load_catalog(path)
    result = translate("90th percentile pick duration by warehouse", "promql", mine, model)
    attempts = [q for a in result.attempts for q in [a.query, *a.candidates] if q]
    assert attempts
    for query in attempts:
        assert not _names(query) & _shop_metrics(), query
        labels = set(re.findall(r"([a-zA-Z_]\w*)\s*(?:=~|!=|!~|=)\s*\"", query))
        assert labels <= {"__name__", *mine.label_names()}, query
