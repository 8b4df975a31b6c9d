"""A small reader for Lark grammar text: definitions, their bodies, the names they use.

Enough of Lark's surface syntax to rewrite rules safely: a definition starts in
column 0 (`name:`, `?name:`, `!name:`, `NAME:`, optionally `name.2:`) and runs
over indented or `|`-led continuation lines; bodies are tokenized so that
names inside string literals and regexes are never touched.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_DEF = re.compile(r"^([?!]?)([A-Za-z_][A-Za-z_0-9]*)(\.-?\d+)?\s*:(?!:)(.*)$")
_TOKEN = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"i?)
  | (?P<regex>/(?:\\.|[^/\\\n])+/[imslux]*)
  | (?P<arrow>->)
  | (?P<name>[A-Za-z_][A-Za-z_0-9]*)
  | (?P<comment>//[^\n]*)
  | (?P<space>\s+)
  | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)


@dataclass
class Definition:
    name: str
    prefix: str  # "", "?" or "!"
    priority: str  # "" or ".2"
    body: str
    first_line: int
    last_line: int  # inclusive

    @property
    def is_terminal(self) -> bool:
        return self.name.lstrip("_")[:1].isupper()


def tokens(body: str) -> list[tuple[str, str]]:
    """(kind, text) pairs; kinds: string, regex, arrow, name, comment, space, other."""
    return [(m.lastgroup or "other", m.group()) for m in _TOKEN.finditer(body)]


def referenced_names(body: str) -> list[str]:
    """Rule and terminal names a body refers to (not alias names after `->`)."""
    names = []
    after_arrow = False
    for kind, text in tokens(body):
        if kind == "arrow":
            after_arrow = True
        elif kind == "name":
            if not after_arrow:
                names.append(text)
            after_arrow = False
        elif kind == "other" and text == "|":
            after_arrow = False
    return names


def substitute(body: str, mapping: dict[str, str]) -> str:
    """The body with referenced names replaced per `mapping` (aliases untouched)."""
    out = []
    after_arrow = False
    for kind, text in tokens(body):
        if kind == "arrow":
            after_arrow = True
        elif kind == "name":
            if not after_arrow:
                text = mapping.get(text, text)
            after_arrow = False
        elif kind == "other" and text == "|":
            after_arrow = False
        if kind != "comment":
            out.append(text)
    return "".join(out)


def alternatives(body: str) -> list[str]:
    """Top-level `|` alternatives of a body (not splitting inside (), [] or literals)."""
    parts, current, depth = [], [], 0
    for kind, text in tokens(body):
        if kind == "comment":
            continue
        if kind == "other":
            if text in "([":
                depth += 1
            elif text in ")]":
                depth -= 1
            elif text == "|" and depth == 0:
                parts.append("".join(current).strip())
                current = []
                continue
        current.append(text)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def definitions(text: str) -> dict[str, Definition]:
    """Every rule and terminal defined in `text`, by name."""
    lines = text.split("\n")
    found: dict[str, Definition] = {}
    current: Definition | None = None
    body_lines: list[str] = []

    def close(last: int) -> None:
        nonlocal current, body_lines
        if current is not None:
            current.body = "\n".join(body_lines).strip()
            current.last_line = last
            found[current.name] = current
        current, body_lines = None, []

    for number, line in enumerate(lines):
        match = _DEF.match(line)
        if match and not line.startswith(("%", "//")):
            close(_last_content_line(lines, number - 1))
            prefix, name, priority, rest = match.groups()
            current = Definition(name, prefix, priority or "", "", number, number)
            body_lines = [rest]
            continue
        if current is None:
            continue
        stripped = line.strip()
        if not stripped or stripped.startswith("//"):
            body_lines.append("")
            continue
        if line[0] in " \t" or stripped.startswith("|"):
            body_lines.append(line)
            continue
        close(_last_content_line(lines, number - 1))
    close(_last_content_line(lines, len(lines) - 1))
    return found


def _last_content_line(lines: list[str], index: int) -> int:
    while index > 0 and (not lines[index].strip() or lines[index].strip().startswith("//")):
        index -= 1
    return index


def replace_definitions(text: str, replacements: dict[str, str], extra: list[str],
                        header: str = "narrowed to the catalog by nlq.constrain.narrow") -> str:
    """`text` with each named definition replaced by new text, and `extra` lines appended
    under a `// ---- header` comment."""
    defs = definitions(text)
    lines = text.split("\n")
    # replace from the bottom up so earlier line numbers stay valid
    for name in sorted(replacements, key=lambda n: defs[n].first_line, reverse=True):
        d = defs[name]
        lines[d.first_line : d.last_line + 1] = [replacements[name]]
    return "\n".join(lines).rstrip("\n") + f"\n\n// ---- {header}\n" + "\n".join(extra) + "\n"


def lark_string(value: str) -> str:
    """A Lark string literal for `value`."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_WORDS = re.compile(r"^/([A-Za-z0-9_|]+)/$")


def alternation_words(body: str) -> list[str]:
    """The words of a terminal written as one case-sensitive regex alternation of plain
    words (`/rate|irate/`); ValueError for any other body."""
    match = _WORDS.match(body.strip())
    if not match or "" in match.group(1).split("|"):
        raise ValueError(f"not an alternation of plain words: {body.strip()}")
    return match.group(1).split("|")


def words_terminal(name: str, words) -> str:
    """A terminal definition matching exactly `words`, longest first (llguidance's lexer is greedy)."""
    ordered = sorted(set(words), key=lambda w: (-len(w), w))
    return f"{name}: " + " | ".join(lark_string(w) for w in ordered)
