"""`nlq conformance` and `nlq run` from the command line."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from nlq.cli import main

CORPORA = Path(os.environ.get("NLQ_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
needs_corpora = pytest.mark.skipif(not (CORPORA / "promql" / "promqltest").is_dir(), reason="corpora not found")


@needs_corpora
def test_conformance_json_shape():
    result = CliRunner().invoke(main, ["conformance", "promqltest", "--file", "literals*", "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert set(data) == {"suite", "passed", "failed", "unsupported", "files", "failures"}
    assert data["suite"] == "promqltest" and data["passed"] == 25 and data["failed"] == 0
    assert data["files"] == [{"file": "literals.test", "passed": 25, "failed": 0, "unsupported": 0}]


@needs_corpora
def test_conformance_table():
    result = CliRunner().invoke(main, ["conformance", "promqltest", "--file", "literals*"])
    assert result.exit_code == 0, result.output
    assert "literals.test" in result.output and "100.0%" in result.output


def test_conformance_missing_suite_folder(tmp_path):
    result = CliRunner().invoke(main, ["conformance", "promqltest", "--path", str(tmp_path / "nope")])
    assert result.exit_code == 2
    assert "not found" in result.output


def test_run_rejects_bad_input_without_traceback():
    runner = CliRunner()
    bad_time = runner.invoke(main, ["run", "--at", "0", "up"])
    assert bad_time.exit_code != 0 and "outside snapshot" in bad_time.output
    bad_query = runner.invoke(main, ["run", "sum(up"])
    assert bad_query.exit_code != 0 and "Traceback" not in bad_query.output
    bad_regex = runner.invoke(main, ["run", 'up{job=~"("}'])
    assert bad_regex.exit_code != 0 and "Traceback" not in bad_regex.output


def test_run_json_is_the_normalised_result():
    result = CliRunner().invoke(main, ["run", "--json", "count(up)"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["type"] == "vector" and data["series"][0]["labels"] == {}
    assert data["series"][0]["samples"][0][1] > 0
