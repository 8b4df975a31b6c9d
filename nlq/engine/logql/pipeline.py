"""Running a LogQL pipeline over one log line, as Loki does (pkg/logql/log).

Labels start as the stream's, then structured metadata; a parser adds what it
extracts.  A name that is already taken gets the suffix `_extracted`.  A stage
that cannot do its job (a line that is not JSON, a label that is not a number
for a numeric filter) keeps the line and sets `__error__`, which a later
`| __error__=""` can drop; a metric query over lines still carrying an error
fails.
"""

from __future__ import annotations

import ipaddress
import json
import re

from nlq.dialects.logql import ast
from nlq.dialects.logql.checks import go_regex
from nlq.engine.logql.templates import render
from nlq.engine.logql.units import parse_bytes, parse_duration_seconds, parse_go_duration

ERROR = "__error__"
ERROR_DETAILS = "__error_details__"
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SANITIZE = re.compile(r"[^a-zA-Z0-9_]")
_IPV4 = re.compile(r"(?<![0-9.])(?:\d{1,3}\.){3}\d{1,3}(?![0-9])")
_IPV6 = re.compile(r"[0-9a-fA-F:]*:[0-9a-fA-F:.]+")


class Labels:
    """A label set that remembers which names came from where (for `_extracted`)."""

    def __init__(self, stream: dict[str, str]):
        self.values: dict[str, str] = dict(stream)

    def add_metadata(self, name: str, value: str) -> None:
        self._add(name, value)

    def add_parsed(self, name: str, value: str) -> None:
        self._add(name, value)

    def _add(self, name: str, value: str) -> None:
        if name in self.values:
            self.values[name + "_extracted"] = value
        else:
            self.values[name] = value

    def set_error(self, error: str, details: str = "") -> None:
        if ERROR not in self.values:
            self.values[ERROR] = error
            if details:
                self.values[ERROR_DETAILS] = details


def sanitize(key: str) -> str:
    key = _SANITIZE.sub("_", key)
    if key and key[0].isdigit():
        key = "_" + key
    return key


# ------------------------------------------------------------------ filters
def ip_matcher(pattern: str):
    if "/" in pattern:
        net = ipaddress.ip_network(pattern, strict=False)
        return lambda a: a.version == net.version and a in net
    if "-" in pattern:
        first, last = (ipaddress.ip_address(p.strip()) for p in pattern.split("-", 1))
        return lambda a: a.version == first.version and first <= a <= last
    one = ipaddress.ip_address(pattern)
    return lambda a: a == one


def _ips_in(text: str):
    for m in _IPV4.finditer(text):
        try:
            yield ipaddress.ip_address(m.group(0))
        except ValueError:
            pass
    for m in _IPV6.finditer(text):
        try:
            yield ipaddress.ip_address(m.group(0))
        except ValueError:
            pass


def pattern_regex(pattern: str, named: bool) -> re.Pattern:
    parts = re.split(r"(<[^<>\s]*>)", pattern)
    out = []
    for part in parts:
        if part.startswith("<") and part.endswith(">") and len(part) >= 2:
            name = part[1:-1]
            if named and name and name != "_":
                out.append(f"(?P<{name}>.*?)")
            else:
                out.append(".*?")
        else:
            out.append(re.escape(part))
    return re.compile("".join(out) + ("" if parts[-1] else "$"), re.S)


def _pattern_parts(pattern: str) -> list[tuple[str, str]]:
    """("lit", text) and ("cap", name) items of a pattern, in order."""
    parts = []
    for piece in re.split(r"(<[^<>\s]*>)", pattern):
        if piece.startswith("<") and piece.endswith(">") and len(piece) >= 2:
            parts.append(("cap", piece[1:-1]))
        elif piece:
            parts.append(("lit", piece))
    return parts


def pattern_captures_of(pattern: str, line: str) -> list[tuple[str, str]]:
    """Loki's pattern matcher (pkg/logql/log/pattern): captures left to right; a
    capture whose following literal is missing takes the rest of the line."""
    parts = _pattern_parts(pattern)
    out: list[tuple[str, str]] = []
    rest = line
    if parts and parts[0][0] == "lit":
        if not rest.startswith(parts[0][1]):
            return out
        rest = rest[len(parts[0][1]) :]
        parts = parts[1:]
    while parts:
        name = parts[0][1]
        named = name not in ("", "_")
        if len(parts) == 1:
            if named:
                out.append((name, rest))
            return out
        literal = parts[1][1]
        parts = parts[2:]
        i = rest.find(literal)
        if i == -1:
            if named:
                out.append((name, rest))
            return out
        if named:
            out.append((name, rest[:i]))
        rest = rest[i + len(literal) :]
    return out


def line_value_matches(op: str, value: ast.LineFilterValue, line: str) -> bool:
    if value.ip:
        match = ip_matcher(value.value)
        return any(match(a) for a in _ips_in(line))
    if op in ("|=", "!="):
        return value.value in line
    if op in ("|~", "!~"):
        return go_regex(value.value).search(line) is not None
    return pattern_regex(value.value, False).fullmatch(line) is not None


def line_filter(f: ast.LineFilter, line: str) -> bool:
    hit = any(line_value_matches(f.op, v, line) for v in f.values)
    return hit if f.op in ("|=", "|~", "|>") else not hit


_CMP = {
    "==": lambda a, b: a == b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
}


def label_filter(f, labels: Labels) -> bool:
    values = labels.values
    if isinstance(f, ast.AndFilter):
        return label_filter(f.left, labels) and label_filter(f.right, labels)
    if isinstance(f, ast.OrFilter):
        return label_filter(f.left, labels) or label_filter(f.right, labels)
    if isinstance(f, ast.StringFilter):
        value = values.get(f.name, "")
        if f.op == "=":
            return value == f.value
        if f.op == "!=":
            return value != f.value
        hit = go_regex(f.value).fullmatch(value) is not None
        return hit if f.op == "=~" else not hit
    if isinstance(f, ast.IpFilter):
        if values.get(ERROR):
            return True  # ip() keeps any line that already failed (as in Loki)
        value = values.get(f.name)
        if value is None:
            return False
        match = ip_matcher(f.pattern)
        hit = any(match(a) for a in _ips_in(value))
        return hit if f.op == "=" else not hit
    # numeric, duration and bytes filters
    # A converting filter needs its label and cannot read __error__ (Loki keeps errors
    # apart from labels); a value it cannot convert marks the line (the first error
    # wins) and keeps it.
    if f.name not in values or f.name in (ERROR, ERROR_DETAILS):
        return False
    raw = values[f.name]
    try:
        if isinstance(f, ast.NumberFilter):
            have, want = float(raw), f.value
        elif isinstance(f, ast.DurationFilter):
            have, want = parse_go_duration(raw), parse_duration_seconds(f.text)
        else:
            have, want = parse_bytes(raw), parse_bytes(f.text)
    except ValueError as exc:
        labels.set_error("LabelFilterErr", str(exc))
        return True
    return _CMP[f.op](have, want)


# ------------------------------------------------------------------ parsers
def _first_wins(pairs):
    out = {}
    for k, v in pairs:
        out.setdefault(k, v)
    return out


def _flatten(prefix: str, value, out: dict[str, str]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}_{sanitize(k)}" if prefix else sanitize(k), v, out)
    elif isinstance(value, list):
        return
    elif value is not None:
        out.setdefault(prefix, _json_scalar(value))


def _json_scalar(value) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, float) and value == int(value) and "e" not in repr(value):
        return repr(value)
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(",", ":"))
    return str(value)


_PATH_PART = re.compile(r'\.?([^.\[\]"]+)|\[(\d+)\]|\["((?:\\.|[^"\\])*)"\]')


def json_path(doc, path: str):
    for m in _PATH_PART.finditer(path):
        key, index, quoted = m.groups()
        if index is not None:
            if not isinstance(doc, list) or int(index) >= len(doc):
                return None
            doc = doc[int(index)]
        else:
            name = key if key is not None else quoted
            if not isinstance(doc, dict) or name not in doc:
                return None
            doc = doc[name]
    return doc


def parse_json(stage: ast.JsonParser, line: str, labels: Labels) -> None:
    try:
        doc = json.loads(line, object_pairs_hook=_first_wins)
        if not isinstance(doc, dict):
            raise ValueError("not an object")
    except ValueError as exc:
        labels.set_error("JSONParserErr", str(exc))
        return
    if stage.extractions:
        for e in stage.extractions:
            value = json_path(doc, e.path if e.path is not None else e.name)
            labels.add_parsed(e.name, "" if value is None else _json_scalar(value))
        return
    out: dict[str, str] = {}
    _flatten("", doc, out)
    for k, v in out.items():
        labels.add_parsed(k, v)


_LOGFMT = re.compile(r'\s*([^\s=]+)(?:=("(?:\\.|[^"\\])*"|[^\s"]*))?')


def logfmt_pairs(line: str, strict: bool) -> list[tuple[str, str]]:
    pairs = []
    pos = 0
    while pos < len(line):
        m = _LOGFMT.match(line, pos)
        if not m or m.end() == pos:
            if line[pos:].strip():
                if strict:
                    raise ValueError(f"logfmt syntax error at pos {pos}")
                pos += 1
                continue
            break
        key, value = m.group(1), m.group(2)
        if value is None:
            value = ""
        elif value.startswith('"'):
            try:
                value = json.loads(value)
            except ValueError:
                value = value[1:-1]
        if strict and ('"' in key or "=" in key):
            raise ValueError("invalid key")
        pairs.append((key, value))
        pos = m.end()
    return pairs


def parse_logfmt(stage: ast.LogfmtParser, line: str, labels: Labels) -> None:
    strict = "--strict" in stage.flags
    keep_empty = "--keep-empty" in stage.flags
    try:
        pairs = logfmt_pairs(line, strict)
    except ValueError as exc:
        labels.set_error("LogfmtParserErr", str(exc))
        return
    if stage.extractions:
        found = dict((sanitize(k), v) for k, v in pairs)
        for e in stage.extractions:
            source = e.path if e.path is not None else e.name
            if source in found:
                labels.add_parsed(e.name, found[source])
        return
    seen = set()
    for key, value in pairs:
        key = sanitize(key)
        if not key or (value == "" and not keep_empty) or key in seen:
            continue
        seen.add(key)
        labels.add_parsed(key, value)


def run_stage(stage, line: str, labels: Labels, ts: int) -> str | None:
    """The line after `stage`, or None when the stage drops it."""
    if isinstance(stage, ast.LineFilter):
        return line if line_filter(stage, line) else None
    if isinstance(stage, ast.JsonParser):
        parse_json(stage, line, labels)
    elif isinstance(stage, ast.LogfmtParser):
        parse_logfmt(stage, line, labels)
    elif isinstance(stage, ast.RegexpParser):
        m = go_regex(stage.regex).search(line)
        if m:
            for name, value in m.groupdict().items():
                labels.add_parsed(name, value or "")
    elif isinstance(stage, ast.PatternParser):
        for name, value in pattern_captures_of(stage.pattern, line):
            labels.add_parsed(name, value)
    elif isinstance(stage, ast.UnpackParser):
        try:
            doc = json.loads(line)
            if not isinstance(doc, dict):
                raise ValueError("not an object")
        except ValueError as exc:
            labels.set_error("JSONParserErr", str(exc))
            return line
        for k, v in doc.items():
            if k == "_entry":
                line = str(v)
            elif isinstance(v, str):
                labels.add_parsed(sanitize(k), v)
    elif isinstance(stage, ast.LabelFilterStage):
        return line if label_filter(stage.filter, labels) else None
    elif isinstance(stage, ast.LineFormat):
        return render(stage.template, labels.values, line, ts)
    elif isinstance(stage, ast.LabelFormat):
        new = {}
        for item in stage.items:
            if item.rename:
                new[item.name] = labels.values.get(item.value, "")
            else:
                new[item.name] = render(item.value, labels.values, line, ts)
        for item in stage.items:
            if item.rename:
                labels.values.pop(item.value, None)
        labels.values.update(new)
    elif isinstance(stage, ast.Decolorize):
        return _ANSI.sub("", line)
    elif isinstance(stage, (ast.Drop, ast.Keep)):

        def hit(item: ast.NamedMatcher, name: str, value: str) -> bool:
            if item.name != name:
                return False
            if item.op is None:
                return True
            return label_filter(ast.StringFilter(name, item.op, item.value or ""), labels)

        if isinstance(stage, ast.Drop):
            for name, value in list(labels.values.items()):
                if any(hit(i, name, value) for i in stage.items):
                    del labels.values[name]
        else:
            for name, value in list(labels.values.items()):
                if not any(hit(i, name, value) for i in stage.items):
                    del labels.values[name]
    return line
