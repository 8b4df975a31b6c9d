"""Loki's own engine tests (../shared/corpora/logql/logqltest) run on nlq's LogQL engine."""

from __future__ import annotations

from pathlib import Path

import pytest

from nlq.conformance import logqltest

SUITE_DIR = (
    Path(__file__).resolve().parent.parent.parent / "shared" / "corpora" / logqltest.DEFAULT_DIR
)
EXPECTED_FAILURES = (
    Path(__file__).resolve().parent.parent / "conformance" / "logqltest.expected-failures"
)


def expected_failures() -> set[tuple[str, int]]:
    out = set()
    for raw in EXPECTED_FAILURES.read_text().splitlines():
        if raw.strip() and not raw.startswith("#"):
            name, _, line = raw.split()[0].rpartition(":")
            out.add((name, int(line)))
    return out


@pytest.mark.slow
@pytest.mark.skipif(not SUITE_DIR.is_dir(), reason=f"{SUITE_DIR} is absent")
def test_logqltest_suite_passes_except_listed_cases():
    cases = []
    for path in sorted(SUITE_DIR.glob(logqltest.FILE_PATTERN)):
        cases += logqltest.run_file(path)
    passed = sum(c.status == "passed" for c in cases)
    unsupported = sum(c.status == "unsupported" for c in cases)
    failed = [c for c in cases if c.status == "failed"]
    print(
        f"\nlogqltest: {passed}/{len(cases)} passed ({100 * passed / len(cases):.1f}%), "
        f"{unsupported} unsupported, {len(failed)} failed"
    )
    assert passed / len(cases) >= 0.95
    unexpected = [c for c in failed if (c.file, c.line) not in expected_failures()]
    assert not unexpected, "\n".join(
        f"{c.file}:{c.line} {c.query}\n  {c.reason}: {c.got[:200]}" for c in unexpected
    )
