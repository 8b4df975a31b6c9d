"""Loki's engine tests (`*.logqltest`, see FORMAT.md beside them) run on nlq's LogQL engine.

`load` blocks fill a DuckDB `LogStore`; each `eval` is validated with nlq's
LogQL dialect (so `expect fail` cases Loki rejects while parsing are caught
there) and evaluated by `nlq.engine.logql`; results are compared with the
expected series at a relative tolerance of 1e-6.  Cases listed in
conformance/logqltest.unsupported are reported as unsupported, with the reason.
"""

from __future__ import annotations

import math
import re
from functools import cache
from pathlib import Path

from nlq.conformance.report import CaseResult
from nlq.dialects import get as get_dialect
from nlq.engine.logql.evaluator import NS, Evaluator, Scalar, Vectors
from nlq.engine.logql.storage import LogStore
from nlq.engine.logql.units import parse_duration_seconds
from nlq.errors import NlqError

DEFAULT_DIR = "logql/logqltest"
FILE_PATTERN = "*.logqltest"
UNSUPPORTED_FILE = (
    Path(__file__).resolve().parent.parent.parent / "conformance" / "logqltest.unsupported"
)

_EVAL_INSTANT = re.compile(r"^eval\s+instant\s+at\s+(\S+)\s+(.*)$")
_EVAL_RANGE = re.compile(r"^eval\s+range\s+from\s+(\S+)\s+to\s+(\S+)\s+step\s+(\S+)\s+(.*)$")
_REPEAT = re.compile(r"^\[repeat\s+every\s+(\S+)\s+for\s+(\d+)\]")
_PAIR = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^\s=]+)="((?:[^"\\]|\\.)*)"')
_POINT_EXPAND = re.compile(r"^([-+]?[^-+x]+|[-+]?Inf|NaN)(?:([-+])([^x]+))?x(\d+)$")


@cache
def unsupported() -> dict[tuple[str, int], str]:
    """(file name, line) -> reason, from conformance/logqltest.unsupported."""
    out: dict[tuple[str, int], str] = {}
    if UNSUPPORTED_FILE.is_file():
        for raw in UNSUPPORTED_FILE.read_text().splitlines():
            if not raw.strip() or raw.startswith("#"):
                continue
            where, _, reason = raw.partition(" ")
            name, _, line = where.rpartition(":")
            out[(name, int(line))] = reason.strip()
    return out


def strip_comment(line: str) -> str:
    """Drop a trailing `# ...` outside "..." and `...` quotes."""
    quote = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\" and quote == '"':
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in '"`':
            quote = ch
        elif ch == "#":
            return line[:i].rstrip()
        i += 1
    return line.rstrip()


def go_duration_ns(text: str) -> int:
    return 0 if text.strip() in ("0", "0s") else round(parse_duration_seconds(text) * NS)


# ------------------------------------------------------------------ loading
def parse_load_line(text: str) -> list[tuple[dict[str, str], int, str, dict[str, str]]]:
    text = text.strip()
    close = text.index("}")
    selector = text[: close + 1]
    labels = dict(_PAIR.findall(selector[1:-1].replace(",", " ")))
    rest = text[close + 1 :].lstrip()
    quote = rest[0]
    i = 1
    while i < len(rest) and rest[i] != quote:
        i += 2 if (rest[i] == "\\" and quote == '"') else 1
    line = rest[1:i]
    rest = rest[i + 1 :].strip()
    assert rest.startswith("@"), f"missing @ in load line: {text}"
    rest = rest[1:].strip()
    start_text, _, rest = rest.partition(" ")
    start = go_duration_ns(start_text)
    step, count = 0, 1
    metadata: dict[str, str] = {}
    rest = rest.strip()
    m = _REPEAT.match(rest)
    if m:
        step, count = go_duration_ns(m.group(1)), int(m.group(2))
        rest = rest[m.end() :].strip()
    if rest.startswith("[metadata"):
        body = rest[len("[metadata") : rest.rindex("]")]
        metadata = {k.strip('"'): v for k, v in _PAIR.findall(body)}
    return [
        (labels, start + n * step, line.replace("{{.i}}", str(n)), metadata) for n in range(count)
    ]


# ---------------------------------------------------------------- expecting
def parse_value(text: str) -> float:
    lower = text.lower()
    if lower in ("inf", "+inf"):
        return math.inf
    if lower == "-inf":
        return -math.inf
    if lower == "nan":
        return math.nan
    return float(text)


def expand_points(tokens: list[str]) -> list[float | None]:
    out: list[float | None] = []
    for tok in tokens:
        if tok == "_":
            out.append(None)
            continue
        m = _POINT_EXPAND.match(tok)
        if m:
            base = parse_value(m.group(1))
            delta = parse_value(m.group(3)) if m.group(3) else 0.0
            if m.group(2) == "-":
                delta = -delta
            out.extend(base + delta * n for n in range(int(m.group(4)) + 1))
        else:
            out.append(parse_value(tok))
    return out


def parse_series(line: str) -> tuple[tuple, list[float | None]]:
    line = line.strip()
    close = line.index("}")
    labels = tuple(sorted((k, v) for k, v in _PAIR.findall(line[1:close].replace(",", " "))))
    return labels, expand_points(line[close + 1 :].split())


def close(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    if math.isnan(a) or math.isnan(b):
        return math.isnan(a) and math.isnan(b)
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-12)


def _fmt(v: float | None) -> str:
    return "_" if v is None else repr(v)


def _fmt_series(series: dict) -> str:
    return "; ".join(
        "{" + ", ".join(f'{k}="{v}"' for k, v in labels) + "} " + " ".join(_fmt(p) for p in points)
        for labels, points in series.items()
    )


# ------------------------------------------------------------------ running
def run_file(path: Path) -> list[CaseResult]:
    path = Path(path)
    lines = path.read_text().splitlines()
    store = LogStore()
    engine = Evaluator(store)
    logql = get_dialect("logql")
    results: list[CaseResult] = []
    skip = unsupported()
    i = 0
    while i < len(lines):
        raw = strip_comment(lines[i])
        stripped = raw.strip()
        if not stripped:
            i += 1
            continue
        if stripped == "clear":
            store.clear()
            i += 1
            continue
        if stripped == "load":
            i += 1
            while i < len(lines) and lines[i][:1] in (" ", "\t"):
                body = strip_comment(lines[i]).strip()
                if body:
                    for labels, ts, text, meta in parse_load_line(body):
                        store.add(labels, ts, text, meta)
                i += 1
            continue
        if stripped.startswith("eval"):
            line_no = i + 1
            block = []
            i += 1
            while i < len(lines) and lines[i][:1] in (" ", "\t"):
                body = strip_comment(lines[i]).strip()
                if body:
                    block.append(body)
                i += 1
            results.append(_run_eval(path.name, line_no, stripped, block, engine, logql, skip))
            continue
        i += 1
    return results


def _run_eval(name, line_no, command, block, engine, logql, skip) -> CaseResult:
    m_inst = _EVAL_INSTANT.match(command)
    m_rng = _EVAL_RANGE.match(command)
    query = (m_inst.group(2) if m_inst else m_rng.group(4)).strip()
    expected_text = "\n".join(block)
    case = CaseResult(name, line_no, query, "passed", expected=expected_text)
    if (name, line_no) in skip:
        case.status, case.reason = "unsupported", skip[(name, line_no)]
        return case
    expect_fail = any(b.startswith("expect fail") for b in block)
    ordered = "expect ordered" in block
    expect_empty = "expect empty" in block
    series_lines = [b for b in block if not b.startswith(("expect", "skip"))]
    try:
        node = logql.validate(query)
        if m_inst:
            steps = [go_duration_ns(m_inst.group(1))]
            result = engine.eval(node, steps, instant=True)
        else:
            start, end, step = (go_duration_ns(m_rng.group(k)) for k in (1, 2, 3))
            steps = list(range(start, end + 1, step))
            result = engine.eval(node, steps, instant=False)
    except (NlqError, ValueError, ZeroDivisionError, re.error) as exc:
        if expect_fail:
            case.got = f"error: {exc}"
            return case
        case.status, case.got, case.reason = (
            "failed",
            f"error: {str(exc)[:300]}",
            "evaluation error",
        )
        return case
    if expect_fail:
        case.status, case.got, case.reason = "failed", "a result", "expected the query to fail"
        return case

    # -- compare
    if isinstance(result, Scalar):
        if m_inst and series_lines and not series_lines[0].startswith("{"):
            want = parse_value(series_lines[0])
            ok = close(result.values[0], want)
            case.got = _fmt(result.values[0])
            if not ok:
                case.status, case.reason = "failed", "scalar differs"
            return case
        result = Vectors([{(): v} for v in result.values])
    got: dict[tuple, list[float | None]] = {}
    order: list[tuple] = []
    for idx, vector in enumerate(result.steps):
        for key, value in vector.items():
            if key not in got:
                got[key] = [None] * len(result.steps)
                order.append(key)
            got[key][idx] = value
    want: dict[tuple, list[float | None]] = {}
    want_order: list[tuple] = []
    if not expect_empty:
        for line in series_lines:
            labels, points = parse_series(line)
            want[labels] = points
            want_order.append(labels)
    case.got = _fmt_series(got) or "empty"
    if set(got) != set(want):
        case.status, case.reason = "failed", "series differ"
        return case
    for key, points in want.items():
        have = got[key]
        if len(points) != len(have) or not all(
            close(a, b) for a, b in zip(points, have, strict=True)
        ):
            case.status, case.reason = "failed", "values differ"
            return case
    if ordered and order != want_order:
        case.status, case.reason = "failed", "order differs"
    return case
