"""The benchmark's cases (evals/*.jsonl) are sound.

Every gold parses, passes its dialect's catalog checks against the snapshot
catalog, and returns a non-empty, non-trivial result on every snapshot variant;
ids are unique; the strata keep their target shares; and no case's question or
gold appears among the few-shot examples the model sees (fewshot/).
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
from nlq.evaluation import CASE_FILES, EVALS_DIR, STRATA, STRATUM_TARGETS, load_cases

ROOT = Path(__file__).resolve().parents[1]
CATALOG_DIR = ROOT / "snapshots" / "catalog"
FEWSHOT_DIR = ROOT / "fewshot"
VARIANTS = ("shop-a", "shop-b", "shop-c")
MINIMUM = {"promql": 120, "logql": 120, "datadog": 120}
SHARE_TOLERANCE = 0.05

CASES = load_cases()
IDS = [c.id for c in CASES]


def benchmark(dialect: str) -> str:
    """Datadog metrics and logs form one benchmark."""
    return "datadog" if dialect.startswith("datadog") else dialect


@cache
def catalog(dialect: str):
    return load_catalog(CATALOG_DIR / f"{dialect}.json", dialect=dialect)


@cache
def dialect_or_skip(name: str):
    try:
        spec = dialects.get(name)
        spec.parse(spec.example)
    except ImportError as exc:  # the registry names it, but its module or parser has not landed
        pytest.skip(f"the {name} dialect does not exist yet ({exc})")
    return spec


# --------------------------------------------------------------------------- the files
def test_every_dialect_has_a_case_file():
    for name in CASE_FILES.values():
        assert (EVALS_DIR / name).is_file(), f"evals/{name} is missing"


def test_ids_unique_and_well_formed():
    duplicates = [i for i, n in Counter(IDS).items() if n > 1]
    assert not duplicates, f"duplicate ids: {duplicates}"
    for case in CASES:
        assert re.fullmatch(rf"{re.escape(case.dialect)}-{case.stratum}-\d{{3}}", case.id), case.id
        assert Path(case.source).name == CASE_FILES[case.dialect], f"{case.id} is in the wrong file"


def test_questions_unique_per_dialect():
    seen: dict[tuple[str, str], str] = {}
    for case in CASES:
        key = (case.dialect, normalise_text(case.question))
        assert key not in seen, f"{case.id} asks the same as {seen[key]}"
        seen[key] = case.id


@pytest.mark.parametrize("bench", sorted(MINIMUM))
def test_enough_cases(bench):
    count = sum(1 for c in CASES if benchmark(c.dialect) == bench)
    assert count >= MINIMUM[bench], f"{bench}: {count} cases, want at least {MINIMUM[bench]}"


@pytest.mark.parametrize("bench", sorted(MINIMUM))
def test_strata_shares_near_targets(bench):
    cases = [c for c in CASES if benchmark(c.dialect) == bench]
    counts = Counter(c.stratum for c in cases)
    for stratum in STRATA:
        share = counts[stratum] / len(cases)
        target = STRATUM_TARGETS[stratum]
        assert abs(share - target) <= SHARE_TOLERANCE + 1e-9, (
            f"{bench}: {stratum} is {share:.1%} of the cases, target {target:.0%} ± 5 points"
        )


# --------------------------------------------------------------------------- the golds
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gold_parses_and_passes_catalog_checks(case):
    spec = dialect_or_skip(case.dialect)
    spec.validate(case.gold, catalog(case.dialect))


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gold_formats_stably(case):
    spec = dialect_or_skip(case.dialect)
    canonical = spec.format(spec.parse(case.gold))
    assert spec.format(spec.parse(canonical)) == canonical


@cache
def connection(variant: str):
    from nlq.snapshot import open_snapshot

    return open_snapshot(variant)


_FILTER_AGAINST_CONSTANT = re.compile(r"(==|!=|<=|>=|<|>)\s*-?[\d.]+\s*$")


def is_trivial(result, gold: str) -> str:
    """Why `result` is no answer (empty, all NaN, all zero), or "" when it is one.

    All-zero answers are fine for a filter against a constant (`up == 0` keeps zeros).
    """
    if not result.series:
        return "no series"
    if any(s.lines for s in result.series if s.lines is not None):
        return ""
    values = [v for s in result.series if s.lines is None for _, v in s.samples]
    finite = [v for v in values if not math.isnan(v)]
    if not finite:
        return "no samples" if not values else "only NaN"
    if all(v == 0 for v in finite) and not (
        _FILTER_AGAINST_CONSTANT.search(gold) and " bool " not in gold
    ):
        return "only zeros"
    return ""


@pytest.mark.slow
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gold_answers_on_every_variant(case, variant):
    from nlq.engine import EngineUnavailable, engine_for, run_query

    dialect_or_skip(case.dialect)
    try:
        engine_for(case.dialect)
    except EngineUnavailable as exc:
        pytest.skip(str(exc))
    result = run_query(case.dialect, case.gold, connection(variant), case.time_range())
    why = is_trivial(result, case.gold)
    assert not why, f"{case.id} on {variant}: {why} for {case.gold}"


# --------------------------------------------------------------------------- independence
def normalise_text(text: str) -> str:
    """Lower case, words only: 'P99 checkout latency, last hr!' -> 'p99 checkout latency last hr'."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def _strings(value) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def fewshot_strings() -> list[str]:
    """Every string in fewshot/: JSON/JSONL/YAML values, or plain lines of any other file."""
    out: list[str] = []
    for path in sorted(FEWSHOT_DIR.rglob("*")):
        if not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except (UnicodeDecodeError, OSError):
            continue
        parsed = False
        if path.suffix == ".jsonl":
            try:
                for line in text.splitlines():
                    if line.strip():
                        out.extend(_strings(json.loads(line)))
                parsed = True
            except json.JSONDecodeError:
                parsed = False
        elif path.suffix == ".json":
            try:
                out.extend(_strings(json.loads(text)))
                parsed = True
            except json.JSONDecodeError:
                parsed = False
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                for doc in yaml.safe_load_all(text):
                    out.extend(_strings(doc))
                parsed = True
            except yaml.YAMLError:
                parsed = False
        if not parsed:
            out.extend(line.strip() for line in text.splitlines() if line.strip())
    return out


def canonical(dialect: str, text: str) -> str | None:
    try:
        spec = dialects.get(dialect)
        return spec.format(spec.parse(text))
    except Exception:  # noqa: BLE001 - anything that does not parse is no query of this dialect
        return None


def test_no_eval_case_in_fewshot():
    if not FEWSHOT_DIR.is_dir():
        pytest.skip("no fewshot/ folder")
    strings = [s for s in fewshot_strings() if len(s) < 2000]
    if not strings:
        pytest.skip("fewshot/ holds no examples yet")
    questions = {normalise_text(s) for s in strings}
    raw = {" ".join(s.split()) for s in strings}
    leaks = []
    for case in CASES:
        if normalise_text(case.question) in questions:
            leaks.append(f"{case.id}: question {case.question!r}")
        if " ".join(case.gold.split()) in raw:
            leaks.append(f"{case.id}: gold {case.gold!r}")
    by_dialect: dict[str, set[str]] = {}
    for case in CASES:
        if case.dialect not in by_dialect:
            by_dialect[case.dialect] = {c for s in strings if (c := canonical(case.dialect, s))}
        gold = canonical(case.dialect, case.gold)
        if gold is not None and gold in by_dialect[case.dialect]:
            leaks.append(f"{case.id}: gold (canonical) {gold!r}")
    assert not leaks, "eval cases found in fewshot/:\n" + "\n".join(sorted(set(leaks)))


def renamed_cases() -> list[dict]:
    """The benchmark's renamed copy (snapshots/renamed/cases/): a benchmark too, so held out as well."""
    from nlq.snapshot.renamed import RENAMED_CASES_DIR

    return [json.loads(line) for path in sorted(RENAMED_CASES_DIR.glob("*.jsonl"))
            for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_no_fewshot_string_is_a_near_copy_of_an_eval_case():
    """Exact matches are not enough: `100 * a / b` in fewshot/ hands the model the case
    `a / b * 100`, and `...[5m]` the case `...[30m]`: a shared run of SHARED_RUN characters,
    whitespace aside, is a near-copy, as for `nlq tune`.  The renamed world's cases count too."""
    from nlq.training.data import shared_runs

    if not FEWSHOT_DIR.is_dir():
        pytest.skip("no fewshot/ folder")
    renamed = renamed_cases()
    assert len(renamed) == len(CASES)
    texts = [(c.id, t) for c in CASES for t in (c.question, c.gold)]
    texts += [(f"renamed {c['id']}", c[key]) for c in renamed for key in ("question", "gold")]
    runs: dict[str, str] = {}
    for case_id, text in texts:
        for run in shared_runs(text):
            runs.setdefault(run, case_id)
    near = []
    for text in fewshot_strings():
        shared = sorted(shared_runs(text) & runs.keys())
        if shared:
            near.append(f"{runs[shared[0]]}: {text!r} shares {shared[0]!r}")
    assert not near, f"{len(near)} few-shot strings nearly copy an eval case:\n" + "\n".join(near)
