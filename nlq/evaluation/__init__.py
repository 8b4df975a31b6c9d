"""The benchmark: eval cases (evals/*.jsonl), their time ranges, and scoring.

>>> from nlq.evaluation import load_cases
>>> cases = load_cases(dialect="promql")
>>> cases[0].id, cases[0].time_range()          # doctest: +SKIP
('promql-filter-001', TimeRange(start_ms=..., end_ms=..., step_ms=60000))
"""

from nlq.evaluation.cases import (
    CASE_FILES,
    EVALS_DIR,
    STRATA,
    STRATUM_TARGETS,
    TAG_VOCABULARY,
    Case,
    load_cases,
    snapshot_end_ms,
)

__all__ = [
    "CASE_FILES",
    "EVALS_DIR",
    "STRATA",
    "STRATUM_TARGETS",
    "TAG_VOCABULARY",
    "Case",
    "load_cases",
    "snapshot_end_ms",
]
