"""`nlq validate` and `nlq format` as a person and a script use them: exit codes, messages, JSON."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

NLQ = [sys.executable, "-m", "nlq.cli"]


def run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([*NLQ, *args], input=stdin, capture_output=True, text=True, timeout=120)


def test_valid_query_exits_zero():
    result = run("validate", "--dialect", "promql", 'sum by (route) (rate(http_requests_total{service="checkout"}[5m]))')
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "valid"


def test_invalid_query_exits_one_with_a_caret_under_the_spot():
    result = run("validate", "--dialect", "promql", "sum(rate(x[5m])")
    assert result.returncode == 1
    assert "line 1, column" in result.stderr
    assert "^" in result.stderr
    assert "Traceback" not in result.stderr


def test_type_error_carries_a_hint():
    result = run("validate", "--dialect", "promql", "rate(up)")
    assert result.returncode == 1
    assert "rate(up[5m])" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("validate", "--dialect", "nosuch", "up"),
        ("validate", "--dialect", "promql"),
        ("validate", "--dialect", "promql", "up", "--file", "x"),
        ("validate", "--dialect", "promql", "--file", "/no/such/file"),
        ("validate", "--dialect", "promql", "up", "--catalog", "/no/such/catalog.json"),
    ],
)
def test_usage_errors_exit_two_without_a_traceback(args):
    result = run(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    assert result.stderr.strip()


def test_file_mode_skips_comments_and_blanks_and_prints_json_per_query(tmp_path):
    queries = tmp_path / "q.promql"
    queries.write_text("# alerts\n\nup == 0\n\nrate(up)\nsum(rate(x[5m])) by (job)\n")
    result = run("validate", "--dialect", "promql", "--file", str(queries), "--json")
    assert result.returncode == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["query"] for r in records] == ["up == 0", "rate(up)", "sum(rate(x[5m])) by (job)"]
    assert [r["valid"] for r in records] == [True, False, True]
    assert records[1]["error"]
    assert records[0]["error"] is None


def test_stdin_is_read_with_dash():
    result = run("validate", "--dialect", "promql", "--file", "-", stdin="up\nnode_load1 > 2\n")
    assert result.returncode == 0, result.stdout + result.stderr


def test_binary_file_is_a_usage_error(tmp_path):
    blob = tmp_path / "blob.bin"
    blob.write_bytes(b"\xff\xfe\x00\x81garbage")
    result = run("validate", "--dialect", "promql", "--file", str(blob))
    assert result.returncode == 2
    assert "not UTF-8" in result.stderr


def test_catalog_check_names_the_unknown_metric(tmp_path):
    catalog = tmp_path / "mine.yaml"
    catalog.write_text("http_requests_total:\n  service: [checkout, cart]\n")
    result = run("validate", "-d", "promql", "rate(http_request_total[5m])", "--catalog", str(catalog))
    assert result.returncode == 1
    assert "http_request_total" in result.stderr
    assert "http_requests_total" in result.stderr  # the did-you-mean


def test_format_prints_the_canonical_form_which_is_stable():
    first = run("format", "--dialect", "promql", "sum(rate(x[5m]))by(job)")
    assert first.returncode == 0, first.stderr
    second = run("format", "--dialect", "promql", first.stdout.strip())
    assert second.stdout == first.stdout


def test_format_of_a_broken_query_exits_one():
    result = run("format", "--dialect", "logql", '{service="cart"')
    assert result.returncode == 1
    assert "Traceback" not in result.stderr


def test_a_query_that_says_nothing_is_valid_with_a_warning():
    result = run("validate", "--dialect", "promql", "sum(rate(x[5m])) / sum(rate(x[5m]))")
    assert result.returncode == 0 and result.stdout.strip() == "valid"
    assert "warning: both sides of `/` are sum(rate(x[5m]))" in result.stderr
    as_json = run("validate", "--dialect", "logql", '{app="a", app="a"}', "--json")
    record = json.loads(as_json.stdout)
    assert as_json.returncode == 0 and record["valid"]
    assert record["warnings"] == ['the matcher app="a" is written twice']
