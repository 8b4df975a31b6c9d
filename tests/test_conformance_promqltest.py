"""Prometheus's own engine tests (promqltest) on nlq's PromQL engine.

Every eval of ../shared/corpora/promql/promqltest/*.test runs (instant evals
also with `@` and in range mode, as Prometheus's harness does).  A case that
fails must be listed in conformance/promqltest.expected-failures (file:line);
one that fails outside that list is a regression.
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

from nlq.conformance import promqltest

CORPORA = Path(os.environ.get("NLQ_CORPORA", Path(__file__).resolve().parents[2] / "shared" / "corpora"))
SUITE = CORPORA / promqltest.DEFAULT_DIR

pytestmark = pytest.mark.skipif(not SUITE.is_dir(), reason=f"promqltest corpus not found at {SUITE}")


@pytest.fixture(scope="module")
def cases():
    out = []
    for path in sorted(SUITE.glob(promqltest.FILE_PATTERN)):
        out.extend(promqltest.run_file(path))
    return out


@pytest.mark.slow
def test_no_failures_outside_the_expected_list(cases):
    expected = promqltest.expected_failures()
    unexpected = [c for c in cases if c.status == "failed" and (c.file, c.line) not in expected]
    message = "\n".join(f"{c.file}:{c.line} {c.query}\n    {c.got}" for c in unexpected[:30])
    assert not unexpected, f"{len(unexpected)} promqltest cases fail outside expected-failures:\n{message}"


@pytest.mark.slow
def test_pass_rate_and_stale_entries(cases):
    counts = Counter(c.status for c in cases)
    assert len(cases) >= 2200  # the corpus README counts 2213 evals
    rate = counts["passed"] / (counts["passed"] + counts["failed"])
    assert rate >= 0.95, counts  # issue #9
    passing = {(c.file, c.line) for c in cases if c.status == "passed"}
    stale = sorted(promqltest.expected_failures() & passing)
    if stale:
        pytest.skip(f"{len(stale)} expected failures now pass; remove them: {stale[:10]}")


def test_series_notation():
    assert promqltest.expand_values("1+2x3 _ stale -1-1x1 _x2 0x2") == [
        1.0, 3.0, 5.0, 7.0, None, "stale", -1.0, -2.0, None, None, 0.0, 0.0, 0.0]
    labels, values = promqltest.parse_series('foo{a="b", c="d\\"e"} 1 2')
    assert labels == {"__name__": "foo", "a": "b", "c": 'd"e'} and values == "1 2"
    assert promqltest.parse_duration("1h30m") == 5_400_000


def test_one_script_end_to_end():
    script = """
load 1m
  http_requests{job="a"} 0+10x10
  http_requests{job="b"} 0+20x10

eval instant at 5m sum(rate(http_requests[5m]))
  {} 0.5

eval range from 0 to 2m step 1m http_requests{job="a"}
  http_requests{job="a"} 0 10 20

eval instant at 5m http_requests + on() group_left http_requests
  expect fail
"""
    storage = promqltest.TestStorage()
    results = []
    for cmd in promqltest.parse_script(script):
        if isinstance(cmd, tuple):
            storage.load(cmd[1], cmd[2])
        else:
            results.append(promqltest.run_eval("inline.test", cmd, storage))
    assert [r.status for r in results] == ["passed", "passed", "passed"], results
