"""`nlq eval` with the real embedded model on cases that bring their own catalogs.

Two cases from examples/own-catalog with different catalogs (the render farm's
file and an inline kiln catalog): whatever the 135M model answers, every
query it writes names only the metrics of that case's own catalog, so the
translator narrowed its grammar (and built its prompt) with the case's catalog,
not the shop's.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlq.cli import main
from nlq.evaluation.cases import load_cases

CASES = Path(__file__).resolve().parents[1] / "examples" / "own-catalog" / "cases.jsonl"
IDS = ("farm-rate-001", "kiln-filter-001")
IDENT = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")


def _names(query: str) -> set[str]:
    return set(IDENT.findall(re.sub(r'"(?:[^"\\]|\\.)*"', '""', query)))


@pytest.mark.model
@pytest.mark.slow
def test_each_case_is_translated_with_its_own_catalog(model, tmp_path, monkeypatch):
    monkeypatch.setenv("NLQ_WORLDS_DIR", str(tmp_path / "worlds"))
    args = ["eval", "--cases", str(CASES), "--model", "embedded", "--out", str(tmp_path / "out")]
    for case_id in IDS:
        args += ["--id", case_id]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "out" / "results.jsonl").read_text().splitlines()]
    cases = {c.id: c for c in load_cases([CASES]) if c.id in IDS}
    written = [r for r in rows if r["prediction"]]
    assert written, rows  # the model wrote at least one query
    for row in written:
        own = set(cases[row["id"]].catalog.metrics)
        others = {m for c in cases.values() for m in c.catalog.metrics} - own
        named = _names(row["prediction"])
        assert named & own, row["prediction"]
        assert not named & others, row["prediction"]
        assert row["valid"], row  # it passes the checks against the case's catalog
        assert row["world"].startswith("synth:")
