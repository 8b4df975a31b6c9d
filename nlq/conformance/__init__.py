"""Conformance suites: nlq's engines checked against the real systems' own tests.

Each suite is a module listed in `SUITES` that defines

* `DEFAULT_DIR`: the suite's folder (or file) relative to the shared corpora;
* `FILE_PATTERN`: the glob of its case files inside that folder;
* `run_file(path: Path) -> list[CaseResult]`: every case of one file, run.

Cases the engine deliberately does not support are listed, with the reason, in
`conformance/<suite>.unsupported` (read by the suite), so they stay counted.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from nlq.conformance.report import CaseResult, SuiteReport
from nlq.errors import UsageError

SUITES = {
    "promqltest": "nlq.conformance.promqltest",
    "logqltest": "nlq.conformance.logqltest",
    "datadog-search": "nlq.conformance.datadog_search",
}


def suite_module(name: str) -> ModuleType:
    if name not in SUITES:
        raise UsageError(f"unknown suite {name!r}: choose one of {', '.join(SUITES)} or all")
    return importlib.import_module(SUITES[name])


__all__ = ["SUITES", "CaseResult", "SuiteReport", "suite_module"]
