"""Results of a conformance run, in the shape `nlq conformance --json` prints."""

from __future__ import annotations

from dataclasses import dataclass, field

STATUSES = ("passed", "failed", "unsupported")


@dataclass
class CaseResult:
    file: str
    line: int
    query: str
    status: str  # one of STATUSES
    expected: str = ""
    got: str = ""
    reason: str = ""  # why a case is unsupported or failed, in words


@dataclass
class SuiteReport:
    suite: str
    cases: list[CaseResult] = field(default_factory=list)

    def count(self, status: str, file: str | None = None) -> int:
        return sum(1 for c in self.cases if c.status == status and (file is None or c.file == file))

    def files(self) -> list[str]:
        return list(dict.fromkeys(c.file for c in self.cases))

    def to_dict(self) -> dict:
        return {
            "suite": self.suite,
            **{status: self.count(status) for status in STATUSES},
            "files": [
                {"file": f, **{status: self.count(status, f) for status in STATUSES}}
                for f in self.files()
            ],
            "failures": [
                {"file": c.file, "line": c.line, "query": c.query, "expected": c.expected, "got": c.got}
                for c in self.cases
                if c.status == "failed"
            ],
        }
