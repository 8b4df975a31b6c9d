"""Few-shot examples: question/query pairs retrieved from fewshot/<dialect>.jsonl.

Retrieval is lexical (BM25 over question and query words, the default: see
`DEFAULT_RETRIEVAL` for why), semantic (cosine of the questions' all-MiniLM-L6-v2
embeddings, nlq.prompting.embedding) or both fused (`hybrid`); `none` retrieves
nothing: the same examples, spread over the file, for every question (the
ablation of what retrieval adds; `k=0` gives no examples at all).  See nlq.prompting.retrieval.

Each line of the file is one JSON object `{"question", "query", ...}` (the file name gives the dialect;
a `"dialect"` field, where present, must agree);
blank lines and lines starting with `//` or `#` are skipped.

    >>> bank = FewShotBank.load("promql")            # doctest: +SKIP
    >>> [e.query for e in bank.retrieve("5xx rate of checkout", k=2)]  # doctest: +SKIP
    >>> bank.retrieve("5xx rate of checkout", k=2, retrieval="bm25")      # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from nlq.errors import UsageError
from nlq.prompting.retrieval import BM25, check_retrieval, fuse, ranking, words

FEWSHOT_DIR = Path(os.environ.get("NLQ_FEWSHOT", Path(__file__).resolve().parents[2] / "fewshot"))


@dataclass(frozen=True)
class Example:
    question: str
    query: str
    dialect: str
    #: the curation's labels where the file gives them (for measuring retrieval, not for prompts)
    stratum: str = ""
    tags: tuple[str, ...] = ()


class FewShotBank:
    def __init__(self, examples: list[Example], retrieval: str | None = None):
        self.examples = examples
        #: the method `retrieve` uses when not told otherwise
        self.retrieval = check_retrieval(retrieval)
        self._index = BM25([words(e.question + " " + e.query, expand=True) for e in examples])
        #: computed on first use and shared with the `with_retrieval` copies
        self._lazy: dict[str, np.ndarray] = {}

    def with_retrieval(self, retrieval: str | None) -> FewShotBank:
        """The same examples and indexes, retrieving with `retrieval` by default."""
        method = check_retrieval(retrieval)
        if method == self.retrieval:
            return self
        other = object.__new__(FewShotBank)
        other.__dict__.update(self.__dict__)
        other.retrieval = method
        return other

    def vectors(self) -> np.ndarray:
        """The questions' embeddings, one unit row per example (embedded once, cached on disk)."""
        if "vectors" not in self._lazy:
            from nlq.prompting.embedding import Embedder

            self._lazy["vectors"] = Embedder.shared().embed_cached([e.question for e in self.examples])
        return self._lazy["vectors"]

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
                                  str(record.get("dialect") or dialect or ""), str(record.get("stratum") or ""),
                                  tuple(str(t) for t in record.get("tags") or ()))
            except (ValueError, KeyError, TypeError) as exc:
                raise UsageError(f"{path}:{number}: not a {{question, query, dialect}} object: {exc}") from None
            if dialect is None or example.dialect in ("", dialect):
                examples.append(example)
        return cls(examples)

    @classmethod
    def load(cls, dialect: str) -> FewShotBank:
        """The bank for `dialect` from the project's fewshot/ folder (empty if there is none)."""
        return _load_cached(dialect, str(FEWSHOT_DIR))

    def index_of(self, question: str, query: str) -> int | None:
        """The index of the example with this question and query (None when the bank has none)."""
        return next((i for i, e in enumerate(self.examples) if e.question == question and e.query == query), None)

    def retrieve(self, question: str, k: int = 3, retrieval: str | None = None,
                 exclude: int | None = None) -> list[Example]:
        """The `k` examples closest to `question`, best first (none when the bank is empty);
        with `retrieval` (default: the bank's) "none", `k` fixed examples whatever the
        question.  `exclude` leaves one example out (for leave-one-out measurement)."""
        return [self.examples[i] for i in self.rank(question, k, retrieval, exclude)]

    def rank(self, question: str, k: int = 3, retrieval: str | None = None,
             exclude: int | None = None) -> list[int]:
        """Indices of the `k` examples `retrieve` returns."""
        method = self.retrieval if retrieval is None else check_retrieval(retrieval)
        if not self.examples or k <= 0:
            return []
        if method == "none":  # evenly spread over the file, so the fixed set covers its strata
            pool = [i for i in range(len(self.examples)) if i != exclude]
            return [pool[j * len(pool) // k] for j in range(min(k, len(pool)))]
        lexical: list[int] = []
        semantic: list[int] = []
        if method in ("bm25", "hybrid"):
            lexical = ranking(self._index.scores(words(question, expand=True)), min_score=0.0)
        if method in ("embedding", "hybrid"):
            from nlq.prompting.embedding import Embedder, cosine_scores

            query = Embedder.shared().embed([question])[0]
            semantic = ranking(cosine_scores(query, self.vectors()))
        best = lexical if method == "bm25" else semantic if method == "embedding" else fuse([lexical, semantic])
        best = [i for i in best if i != exclude][:k]
        if len(best) < k:  # too few lexical matches: fill with the first examples, for the format
            best += [i for i in range(len(self.examples)) if i not in best and i != exclude][: k - len(best)]
        return best


@cache
def _load_cached(dialect: str, folder: str) -> FewShotBank:
    for name in (f"{dialect}.jsonl", f"{dialect.replace('-', '_')}.jsonl"):
        path = Path(folder) / name
        if path.is_file():
            return FewShotBank.from_file(path, dialect)
    return FewShotBank([])
