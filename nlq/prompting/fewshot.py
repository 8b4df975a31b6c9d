"""Few-shot examples: question/query pairs retrieved by BM25 from fewshot/<dialect>.jsonl.

Each line of the file is one JSON object `{"question", "query", ...}` (the file name gives the dialect;
a `"dialect"` field, where present, must agree);
blank lines and lines starting with `//` or `#` are skipped.

    >>> bank = FewShotBank.load("promql")            # doctest: +SKIP
    >>> [e.query for e in bank.retrieve("5xx rate of checkout", k=2)]  # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nlq.errors import UsageError
from nlq.prompting.retrieval import BM25, words

FEWSHOT_DIR = Path(os.environ.get("NLQ_FEWSHOT", Path(__file__).resolve().parents[2] / "fewshot"))


@dataclass(frozen=True)
class Example:
    question: str
    query: str
    dialect: str


class FewShotBank:
    def __init__(self, examples: list[Example]):
        self.examples = examples
        self._index = BM25([words(e.question + " " + e.query, expand=True) for e in examples])

    @classmethod
    def from_file(cls, path: str | Path, dialect: str | None = None) -> FewShotBank:
        path = Path(path)
        examples = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = line.strip()
            if not line or line.startswith(("#", "//")):
                continue
            try:
                record = json.loads(line)
                example = Example(str(record["question"]), str(record["query"]),
                                  str(record.get("dialect") or dialect or ""))
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{path}:{number}: not a {{question, query, dialect}} object: {exc}") from None
            if dialect is None or example.dialect in ("", dialect):
                examples.append(example)
        return cls(examples)

    @classmethod
    def load(cls, dialect: str) -> FewShotBank:
        """The bank for `dialect` from the project's fewshot/ folder (empty if there is none)."""
        return _load_cached(dialect, str(FEWSHOT_DIR))

    def retrieve(self, question: str, k: int = 3) -> list[Example]:
        """The `k` examples closest to `question`, best first; none when the bank is empty."""
        if not self.examples or k <= 0:
            return []
        best = self._index.top(words(question, expand=True), k)
        if len(best) < k:  # too few lexical matches: fill with the first examples, for the format
            best += [i for i in range(len(self.examples)) if i not in best][: k - len(best)]
        return [self.examples[i] for i in best]


@cache
def _load_cached(dialect: str, folder: str) -> FewShotBank:
    for name in (f"{dialect}.jsonl", f"{dialect.replace('-', '_')}.jsonl"):
        path = Path(folder) / name
        if path.is_file():
            return FewShotBank.from_file(path, dialect)
    return FewShotBank([])
