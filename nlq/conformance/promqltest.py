"""Prometheus's engine tests (`promql/promqltest/*.test`) run on nlq's PromQL engine.

The script format is Prometheus's (promql/promqltest/test.go):

* `load <interval>` blocks of series in series notation (`1+2x5`, `_`, `_x3`,
  `stale`, `1x3`, `-1-2x3`); native histograms (`{{...}}`) are not loaded;
* `clear`;
* `eval instant at <t> <query>` and `eval range from <t> to <t> step <d> <query>`
  (with the older `eval_fail`/`eval_ordered`/`eval_warn`/`eval_info` forms),
  followed by `expect fail|ordered|warn|no_warn|info|no_info [msg:|regex:]`,
  `expected_fail_message`/`expected_fail_regexp`, `expect string "..."`,
  `expect range vector from .. to .. step ..` and the expected series.

As Prometheus's harness does, values compare with a relative tolerance of 1e-6,
the lookback is 5 minutes, and each instant eval is run again with `@` set on
every selector (at five other evaluation times) and as a range query (the middle
step of [t-1m, t+1m] compared).  Annotations (`expect warn`/`info`, `eval_warn`)
are not checked: nlq's engine does not produce Prometheus's annotations.  An
`expect fail` with a message passes when the engine fails; the message is not
compared (nlq words its errors its own way).

Cases nlq does not support are listed in conformance/promqltest.unsupported,
one rule a line (`<rule> <reason>`):

    file:line                  one eval
    file <name>                every eval of a file
    query <regex>              evals whose query matches
    expected <regex>           evals whose expected block matches
    histogram-series           evals whose query reads a series loaded with native histograms
"""

from __future__ import annotations

import ast as pyast
import dataclasses
import math
import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import duckdb
import numpy as np

from nlq.conformance.report import CaseResult
from nlq.errors import NlqError
from nlq.results import almost_equal, format_value

DEFAULT_DIR = "promql/promqltest"
FILE_PATTERN = "*.test"
REPO = Path(__file__).resolve().parents[2]
UNSUPPORTED_FILE = REPO / "conformance" / "promqltest.unsupported"
EXPECTED_FAILURES_FILE = REPO / "conformance" / "promqltest.expected-failures"

PAT_LOAD = re.compile(r"^load(?:_(with_nhcb))?\s+(.+?)$")
PAT_EVAL_INSTANT = re.compile(r"^eval(?:_(fail|warn|ordered|info))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$")
PAT_EVAL_RANGE = re.compile(r"^eval(?:_(fail|warn|info))?\s+range\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+?)\s+(.+)$")
PAT_EXPECT = re.compile(r"^expect\s+(ordered|fail|warn|no_warn|info|no_info)(?:\s+(regex|msg):(.+))?$")
PAT_EXPECT_RANGE = re.compile(r"^expect range vector\s+from\s+(.+)\s+to\s+(.+)\s+step\s+(.+)$")
AT_UNSAFE = {"days_in_month", "day_of_month", "day_of_week", "day_of_year", "end", "hour", "minute",
             "month", "year", "predict_linear", "range", "start", "step", "time", "timestamp"}
QUERY_CONTEXT_FUNCS = re.compile(r"(start|end|range|step)\(\)")

_DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000,
            "y": 31_536_000_000}


class ScriptError(NlqError):
    """The test script itself could not be read."""


def parse_duration(text: str) -> int:
    """Prometheus's model.ParseDuration, in milliseconds ("0", "1h30m", "5m")."""
    text = text.strip()
    if text == "0":
        return 0
    pos = 0
    total = 0
    for m in _DURATION.finditer(text):
        if m.start() != pos:
            raise ScriptError(f"not a valid duration string: {text!r}")
        total += int(m.group(1)) * _UNIT_MS[m.group(2)]
        pos = m.end()
    if pos != len(text) or not text:
        raise ScriptError(f"not a valid duration string: {text!r}")
    return total


# --------------------------------------------------------------------------- series notation
_NUM = r"(?:[+-]?(?:Inf|inf|NaN|nan|0x[0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))"
_ITEM_NUM = r"(?:[+-]?(?:Inf|inf|NaN|nan|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))"
_ITEM = re.compile(rf"^(?P<a>{_ITEM_NUM})(?:(?P<op>[+-])(?P<b>{_ITEM_NUM.replace('[+-]?', '')}))?(?:x(?P<n>\d+))?$")
_LABEL_PAIR = re.compile(r'\s*("(?:[^"\\]|\\.)*"|[^\s=!~,"{}]+)\s*=\s*("(?:[^"\\]|\\.)*")\s*,?')
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:.]*")

STALE = "stale"
OMITTED = None


def parse_number(text: str) -> float:
    t = text.strip()
    low = t.lower()
    sign = -1.0 if low.startswith("-") else 1.0
    body = low.lstrip("+-")
    if body in ("inf", "infinity"):
        return sign * math.inf
    if body == "nan":
        return math.nan
    if body.startswith("0x"):
        return sign * int(body, 16)
    return float(t)


def _unquote(text: str) -> str:
    """Go's strconv.Unquote for "..." and `...` (raw) strings."""
    if len(text) >= 2 and text[0] == text[-1] == "`":
        return text[1:-1]
    if text.startswith(('"', "'")):
        return pyast.literal_eval(text)
    return text


def parse_series(line: str) -> tuple[dict[str, str], str]:
    """A series line -> (labels incl. __name__, the values text)."""
    line = line.strip()
    labels: dict[str, str] = {}
    pos = 0
    m = _NAME.match(line)
    if m and not line.startswith("{"):
        labels["__name__"] = m.group(0)
        pos = m.end()
    if pos < len(line) and line[pos] == "{":
        end = _closing_brace(line, pos)
        inner = line[pos + 1:end]
        _parse_label_body(inner, labels)
        pos = end + 1
    return {k: v for k, v in labels.items() if v != ""}, line[pos:].strip()


def _closing_brace(line: str, start: int) -> int:
    i = start + 1
    quote = False
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == '"':
                quote = False
        elif ch == '"':
            quote = True
        elif ch == "}":
            return i
        i += 1
    raise ScriptError(f"unclosed label set in {line!r}")


def _parse_label_body(inner: str, labels: dict[str, str]) -> None:
    rest = inner.strip()
    while rest:
        m = _LABEL_PAIR.match(rest)
        if m:
            labels[_unquote(m.group(1))] = _unquote(m.group(2))
            rest = rest[m.end():].strip()
            continue
        # a bare quoted metric name: {"metric.name", a="b"}
        m2 = re.match(r'\s*("(?:[^"\\]|\\.)*")\s*,?', rest)
        if m2:
            labels["__name__"] = _unquote(m2.group(1))
            rest = rest[m2.end():].strip()
            continue
        raise ScriptError(f"cannot read labels {inner!r}")


def expand_values(text: str) -> list:
    """Series notation -> list of float | None (omitted) | STALE."""
    out: list = []
    for item in text.split():
        if item == "_":
            out.append(OMITTED)
            continue
        if item.startswith("_x"):
            out.extend([OMITTED] * int(item[2:]))
            continue
        if item == "stale":
            out.append(STALE)
            continue
        m = _ITEM.match(item)
        if not m:
            raise ScriptError(f"cannot read series value {item!r}")
        a = parse_number(m.group("a"))
        if m.group("n") is None:
            out.append(a)
            continue
        times = int(m.group("n"))
        b = parse_number(m.group("b")) if m.group("b") else 0.0
        if m.group("op") == "-":
            b = -b
        k = a
        out.append(k)
        for _ in range(times):
            k += b
            out.append(k)
    return out


# --------------------------------------------------------------------------- the script
@dataclass
class Eval:
    line: int
    query: str
    instant: bool
    at_ms: int = 0
    start_ms: int = 0
    end_ms: int = 0
    step_ms: int = 0
    fail: bool = False
    ordered: bool = False
    expected: list = field(default_factory=list)  # [(labels, values list)] or ("scalar", value)
    expect_scalar: bool = False
    expected_string: str | None = None
    range_vector: tuple[int, int, int] | None = None
    exclude_from_range: bool = False
    block: list[str] = field(default_factory=list)


def _lines(text: str) -> list[str]:
    out = []
    for raw in text.split("\n"):
        s = raw.strip()
        out.append("" if s.startswith("#") else s)
    return out


def parse_script(text: str) -> list:
    """Commands: ("load", interval_ms, [(labels, values)]), ("clear",), Eval."""
    lines = _lines(text)
    cmds: list = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if not line:
            i += 1
            continue
        word = re.split(r"[\t ]+", line, maxsplit=1)[0].lower()
        if word == "clear":
            cmds.append(("clear",))
            i += 1
        elif word.startswith("load"):
            m = PAT_LOAD.match(line)
            if not m:
                raise ScriptError(f"line {i + 1}: invalid load command")
            interval = parse_duration(m.group(2))
            series = []
            i += 1
            while i < len(lines) and lines[i]:
                series.append(lines[i])
                i += 1
            cmds.append(("load", interval, series, bool(m.group(1))))
        elif word.startswith("eval"):
            ev, i = _parse_eval(lines, i)
            cmds.append(ev)
        else:
            raise ScriptError(f"line {i + 1}: invalid command {line!r}")
    return cmds


def _parse_eval(lines: list[str], i: int) -> tuple[Eval, int]:
    line = lines[i]
    mi = PAT_EVAL_INSTANT.match(line)
    mr = PAT_EVAL_RANGE.match(line)
    if mi:
        mod = mi.group(1)
        ev = Eval(i + 1, mi.group(3), True, at_ms=parse_duration(mi.group(2) or "0"))
        ev.start_ms = ev.end_ms = ev.at_ms
    elif mr:
        mod = mr.group(1)
        ev = Eval(i + 1, mr.group(5), False, start_ms=parse_duration(mr.group(2)),
                  end_ms=parse_duration(mr.group(3)), step_ms=parse_duration(mr.group(4)))
    else:
        raise ScriptError(f"line {i + 1}: invalid eval command")
    if mod == "ordered":
        ev.ordered = True
    elif mod == "fail":
        ev.fail = True
    i += 1
    while i < len(lines) and lines[i]:
        d = lines[i]
        ev.block.append(d)
        i += 1
        if ev.fail and (d.startswith("expected_fail_message") or d.startswith("expected_fail_regexp")):
            continue
        if d.startswith("expect range vector"):
            m = PAT_EXPECT_RANGE.match(d)
            if not m:
                raise ScriptError(f"line {i}: invalid range vector definition")
            ev.range_vector = (parse_duration(m.group(1)), parse_duration(m.group(2)), parse_duration(m.group(3)))
            ev.exclude_from_range = True
            continue
        if d.startswith("expect string"):
            ev.expected_string = _unquote(d[len("expect string"):].strip())
            ev.exclude_from_range = True
            continue
        if d.split(" ")[0] == "expect":
            m = PAT_EXPECT.match(d)
            if m:
                if m.group(1) == "fail":
                    ev.fail = True
                elif m.group(1) == "ordered":
                    ev.ordered = True
            continue
        try:
            value = parse_number(d)
        except ValueError:
            value = None
        if value is not None and not d.startswith("{"):
            ev.expect_scalar = True
            ev.expected = [("scalar", value)]
            continue
        labels, values = parse_series(d)
        ev.expected.append((labels, values))
    return ev, i


# --------------------------------------------------------------------------- storage
class TestStorage:
    """The series loaded so far, as DuckDB tables (rebuilt after each load)."""

    def __init__(self) -> None:
        self.series: dict[tuple, tuple[dict, dict[int, float | str]]] = {}
        self.histogram_names: set[str] = set()
        self.unreadable: list[str] = []
        self._storage = None

    def clear(self) -> None:
        self.series.clear()
        self.histogram_names.clear()
        self._storage = None

    def load(self, interval: int, lines: list[str], nhcb: bool = False) -> None:
        for line in lines:
            labels, text = parse_series(line)
            if nhcb:  # load_with_nhcb also writes native histograms with custom buckets under the base name
                name = labels.get("__name__", "")
                for suffix in ("_bucket", "_count", "_sum"):
                    if name.endswith(suffix):
                        self.histogram_names.add(name[: -len(suffix)])
            if labels.get("__name__", "").endswith("@st") or text.startswith("@st"):
                continue  # start timestamps (created timestamps): not modelled
            if "{{" in text:
                self.histogram_names.add(labels.get("__name__", ""))
                continue
            try:
                values = expand_values(text)
            except ScriptError:
                self.unreadable.append(line)
                continue
            key = tuple(sorted(labels.items()))
            entry = self.series.setdefault(key, (labels, {}))
            for n, v in enumerate(values):
                if v is OMITTED:
                    continue
                entry[1][n * interval] = v
        self._storage = None

    def storage(self):
        from nlq.engine.promql.storage import Storage

        if self._storage is None:
            conn = duckdb.connect()
            keys = sorted(self.series)
            sid, metric, labels_json, lkey = [], [], [], []
            s_sid, s_ts, s_val, s_stale = [], [], [], []
            import json

            for n, key in enumerate(keys):
                labels, samples = self.series[key]
                sid.append(n)
                metric.append(labels.get("__name__", ""))
                rest = {k: v for k, v in labels.items() if k != "__name__"}
                labels_json.append(json.dumps(rest, sort_keys=True))
                lkey.append(json.dumps(rest, sort_keys=True))
                for ts in sorted(samples):
                    v = samples[ts]
                    s_sid.append(n)
                    s_ts.append(ts)
                    s_val.append(np.nan if v == STALE else float(v))
                    s_stale.append(v == STALE)
            conn.register("_s", {"series_id": np.asarray(sid, dtype=np.int64),
                                 "metric": np.asarray(metric, dtype=object),
                                 "labels_json": np.asarray(labels_json, dtype=object),
                                 "labels_key": np.asarray(lkey, dtype=object)})
            conn.execute("CREATE TABLE prom_series AS SELECT series_id, metric, "
                         "labels_json::JSON::MAP(VARCHAR, VARCHAR) AS labels, labels_key FROM _s")
            conn.unregister("_s")
            conn.register("_p", {"series_id": np.asarray(s_sid, dtype=np.int64),
                                 "ts": np.asarray(s_ts, dtype=np.int64),
                                 "value": np.asarray(s_val, dtype=np.float64),
                                 "stale": np.asarray(s_stale, dtype=bool)})
            conn.execute("CREATE TABLE prom_samples AS SELECT * FROM _p")
            conn.unregister("_p")
            self._storage = Storage(conn)
        return self._storage


# --------------------------------------------------------------------------- unsupported rules
@dataclass
class Rules:
    lines: dict[tuple[str, int], str] = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    queries: list[tuple[re.Pattern, str]] = field(default_factory=list)
    expected: list[tuple[re.Pattern, str]] = field(default_factory=list)
    histogram_series: str | None = None

    def reason(self, file: str, ev: Eval, storage: TestStorage) -> str | None:
        if (file, ev.line) in self.lines:
            return self.lines[(file, ev.line)]
        if file in self.files:
            return self.files[file]
        for pattern, why in self.queries:
            if pattern.search(ev.query):
                return why
        text = "\n".join(ev.block)
        for pattern, why in self.expected:
            if pattern.search(text):
                return why
        if self.histogram_series and storage.histogram_names:
            names = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", ev.query))
            if names & storage.histogram_names:
                return self.histogram_series
        return None


def _split_rule(text: str) -> tuple[str, str]:
    """`<pattern>  <reason>`: the pattern ends at two spaces or a tab."""
    m = re.match(r"^(.*?)(?:\t|  +)(.*)$", text)
    if m:
        return m.group(1).strip(), m.group(2).strip()
    return text.strip(), "unsupported"


@cache
def load_rules(path: Path = UNSUPPORTED_FILE) -> Rules:
    rules = Rules()
    if not path.is_file():
        return rules
    for raw in path.read_text().splitlines():
        line = raw.rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        if word == "file":
            name, why = _split_rule(rest)
            rules.files[name] = why
        elif word == "query":
            pat, why = _split_rule(rest)
            rules.queries.append((re.compile(pat), why))
        elif word == "expected":
            pat, why = _split_rule(rest)
            rules.expected.append((re.compile(pat), why))
        elif word == "histogram-series":
            rules.histogram_series = rest.strip() or "native histograms"
        else:
            m = re.match(r"^(\S+):(\d+)$", word)
            if not m:
                raise ScriptError(f"{path.name}: cannot read rule {line!r}")
            rules.lines[(m.group(1), int(m.group(2)))] = rest.strip()
    return rules


def expected_failures(path: Path = EXPECTED_FAILURES_FILE) -> set[tuple[str, int]]:
    out = set()
    if path.is_file():
        for raw in path.read_text().splitlines():
            raw = raw.split("#", 1)[0].strip()
            if raw:
                name, _, line = raw.partition(":")
                out.add((name, int(line)))
    return out


# --------------------------------------------------------------------------- running
class Mismatch(Exception):
    pass


def run_file(path: Path) -> list[CaseResult]:
    path = Path(path)
    cmds = parse_script(path.read_text())
    storage = TestStorage()
    rules = load_rules()
    results = []
    for cmd in cmds:
        if isinstance(cmd, tuple):
            if cmd[0] == "clear":
                storage.clear()
            else:
                storage.load(cmd[1], cmd[2], cmd[3])
            continue
        results.append(run_eval(path.name, cmd, storage, rules))
    return results


def run_eval(file: str, ev: Eval, storage: TestStorage, rules: Rules | None = None) -> CaseResult:
    case = CaseResult(file, ev.line, ev.query, "passed", expected="\n".join(ev.block))
    why = (rules or Rules()).reason(file, ev, storage)
    if why:
        case.status, case.reason = "unsupported", why
        return case
    try:
        if ev.instant:
            _run_instant(ev, storage)
        else:
            _run_range(ev, storage)
    except Mismatch as exc:
        case.status, case.got, case.reason = "failed", str(exc)[:1000], "mismatch"
    except NlqError as exc:
        case.status, case.got, case.reason = "failed", f"error: {str(exc)[:500]}", "error"
    except Exception as exc:  # an engine bug: reported, never a crash of the run
        case.status, case.got, case.reason = "failed", f"crash: {type(exc).__name__}: {exc}"[:500], "crash"
    return case


def _engine():
    from nlq.engine import promql

    return promql


def _query(node, storage, start, end, step):
    from nlq.results import TimeRange

    promql = _engine()
    tr = TimeRange(start, end, step)
    return promql.evaluate(node, storage.storage(), tr)


@cache
def _parse(query: str):
    return _engine().parse(query)


def _run_range(ev: Eval, storage: TestStorage) -> None:
    try:
        node = _parse(ev.query)
        result = _query(node, storage, ev.start_ms, ev.end_ms, ev.step_ms)
    except NlqError:
        if ev.fail:
            return
        raise
    if ev.fail:
        raise Mismatch("expected an error, got a result")
    _compare(ev, result, ev.start_ms, ev.step_ms, ev.end_ms)


def _run_instant(ev: Eval, storage: TestStorage) -> None:
    try:
        node = _parse(ev.query)
    except NlqError:
        if ev.fail:
            return
        raise
    queries = [(node, ev.at_ms)]
    at_node = with_at(node, ev.at_ms)
    if at_node is not None:
        ts = ev.at_ms
        times = [-10 * ts, 0, _go_div(ts, 5), ts, 10 * ts] if ts != 0 else [-1000, 0, 1000]
        queries += [(at_node, t) for t in times]
    for q, t in queries:
        try:
            result = _query(q, storage, t, t, 0)
        except NlqError:
            if ev.fail:
                continue
            raise
        if ev.fail:
            raise Mismatch(f"expected an error, got a result (at {t} ms)")
        if ev.range_vector:
            start, end, step = ev.range_vector
            _compare(ev, result, start, step, end)
        else:
            _compare(ev, result, t, 0, t)
        if ev.exclude_from_range or QUERY_CONTEXT_FUNCS.search(ev.query) or ev.ordered:
            continue
        rng = _query(q, storage, t - 60_000, t + 60_000, 60_000)
        picked = _pick(rng, t)
        if result.type == "scalar":
            from nlq.results import Result, Series

            val = picked.series[0].samples[0][1] if picked.series else math.nan
            picked = Result("scalar", [Series({}, [(t, val)])])
        try:
            _compare(ev, picked, t, 0, t)
        except Mismatch as exc:
            raise Mismatch(f"range mode: {exc}") from None


def _go_div(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def _pick(result, t):
    from nlq.results import Result, Series

    out = []
    for s in result.series:
        for ts, v in s.samples:
            if ts == t:
                out.append(Series(s.labels, [(ts, v)]))
                break
    return Result("vector", out)


def with_at(node, t_ms: int):
    """The AST with `@ t` on every selector and subquery that has none (None: unsafe functions)."""
    at = t_ms / 1000.0
    unsafe = False

    def walk(n):
        nonlocal unsafe
        k = type(n).__name__
        if k == "VectorSelector":
            return n if n.at is not None else dataclasses.replace(n, at=at)
        if k == "MatrixSelector":
            return n if n.vector.at is not None else dataclasses.replace(n, vector=dataclasses.replace(n.vector, at=at))
        if k == "Subquery":
            return n if n.at is not None else dataclasses.replace(n, at=at)
        if k == "Call" and n.func in AT_UNSAFE:
            unsafe = True
        if dataclasses.is_dataclass(n):
            changes = {}
            for f in dataclasses.fields(n):
                v = getattr(n, f.name)
                if dataclasses.is_dataclass(v) and not isinstance(v, type):
                    changes[f.name] = walk(v)
                elif isinstance(v, tuple) and v and any(dataclasses.is_dataclass(x) for x in v):
                    changes[f.name] = tuple(walk(x) if dataclasses.is_dataclass(x) else x for x in v)
            return dataclasses.replace(n, **changes) if changes else n
        return n

    out = walk(node)
    return None if unsafe else out


def _compare(ev: Eval, result, start: int, step: int, end: int) -> None:
    if ev.expected_string is not None:
        if result.type != "string" or result.string != ev.expected_string:
            raise Mismatch(f"expected string {ev.expected_string!r}, got {result.type} {result.string!r}")
        return
    if result.type == "string":
        raise Mismatch("unexpected string result")
    if result.type == "scalar":
        if not ev.expect_scalar:
            raise Mismatch(f"expected vector or matrix result, but got scalar {result.series[0].samples[0][1]}")
        got = result.series[0].samples[0][1]
        want = ev.expected[0][1]
        if not almost_equal(want, got):
            raise Mismatch(f"expected scalar {format_value(want)} but got {format_value(got)}")
        return
    if ev.expect_scalar:
        raise Mismatch(f"expected scalar result, but got {result.type}: {_show(result)}")
    expected = {}
    for pos, (labels, values) in enumerate(ev.expected, start=1):
        expected[tuple(sorted(labels.items()))] = (pos, values)
    if result.type == "matrix":
        if ev.ordered:
            raise Mismatch("expected ordered result, but query returned a matrix")
        seen = set()
        for s in result.series:
            key = tuple(sorted(s.labels.items()))
            if key not in expected:
                raise Mismatch(f"unexpected metric {_fmt(s.labels)} in result: {_show_series(s)}")
            seen.add(key)
            _, text = expected[key]
            want = []
            for i, v in enumerate(expand_values(text)):
                t = start + i * step
                if t > end:
                    raise Mismatch(f"expected {i + 1}+ points for {_fmt(s.labels)} beyond the query range")
                if v is OMITTED or v == STALE:
                    continue
                want.append((t, v))
            if len(want) != len(s.samples):
                raise Mismatch(f"expected {len(want)} points for {_fmt(s.labels)}, got {_show_series(s)}")
            for (wt, wv), (gt, gv) in zip(want, s.samples, strict=True):
                if wt != gt:
                    raise Mismatch(f"{_fmt(s.labels)}: expected a point at {wt}, got one at {gt}")
                if not almost_equal(wv, gv):
                    raise Mismatch(f"{_fmt(s.labels)} @{gt}: expected {format_value(wv)}, got {format_value(gv)}")
        missing = [k for k in expected if k not in seen]
        if missing:
            raise Mismatch(f"expected metric {_fmt(dict(missing[0]))} not found; got {_show(result)}")
        return
    # vector
    seen = set()
    for pos, s in enumerate(result.series):
        key = tuple(sorted(s.labels.items()))
        if key not in expected:
            raise Mismatch(f"unexpected metric {_fmt(s.labels)} in result, has value {format_value(s.samples[0][1])}")
        exp_pos, text = expected[key]
        if ev.ordered and exp_pos != pos + 1:
            raise Mismatch(f"expected metric {_fmt(s.labels)} at position {exp_pos} but was at {pos + 1}")
        vals = [v for v in expand_values(text)]
        want = vals[0] if vals else math.nan
        got = s.samples[0][1]
        if not isinstance(want, float) or not almost_equal(want, got):
            raise Mismatch(f"expected {want} for {_fmt(s.labels)} but got {format_value(got)}")
        seen.add(key)
    missing = [k for k in expected if k not in seen]
    if missing:
        raise Mismatch(f"expected metric {_fmt(dict(missing[0]))} not found; got {_show(result)}")


def _fmt(labels) -> str:
    from nlq.results import format_labels

    return format_labels(labels) or "{}"


def _show_series(s) -> str:
    return " ".join(f"{format_value(v)}@{t}" for t, v in s.samples[:20])


def _show(result) -> str:
    return "; ".join(f"{_fmt(s.labels)} {_show_series(s)}" for s in result.series[:10]) or "(empty)"
