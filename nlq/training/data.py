"""The training set for `nlq tune`: generated pairs for a catalog plus the curated fewshot/ pairs.

Every example is rendered through `nlq.prompting.build_prompt(style="compact")`,
the function translate() uses at inference for a tuned model, so the model is
trained on exactly the prompts it will see.

    >>> examples = training_pairs({"promql": catalog}, n=100, seed=0)   # doctest: +SKIP
"""

from __future__ import annotations

import json
import random
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from nlq.catalog import Catalog
from nlq.prompting.fewshot import FEWSHOT_DIR
from nlq.training.pairs import generate_pairs

DIALECTS = ("promql", "logql", "datadog-metrics", "datadog-logs")


@dataclass(frozen=True)
class TrainingPair:
    question: str
    query: str
    dialect: str
    #: "generated" or "fewshot"
    origin: str


def generated_pairs(catalog: Catalog, n: int, seed: int) -> list[TrainingPair]:
    """`n` pairs from the catalog-driven generator (about n/3 queries, three phrasings each)."""
    queries = max(1, (n + 2) // 3)
    pairs = generate_pairs(catalog, n=queries, seed=seed)
    rng = random.Random(f"subsample:{seed}:{catalog.dialect}")
    rng.shuffle(pairs)
    return [TrainingPair(p.question, p.query, p.dialect, "generated") for p in pairs[:n]]


def fewshot_pairs(dialect: str, folder: Path = FEWSHOT_DIR) -> list[TrainingPair]:
    """The curated pairs of fewshot/<dialect>.jsonl (none when the file is missing)."""
    path = Path(folder) / f"{dialect}.jsonl"
    if not path.is_file():
        return []
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith(("#", "//")):
            continue
        record = json.loads(line)
        out.append(TrainingPair(str(record["question"]), str(record["query"]), dialect, "fewshot"))
    return out


def normalized_question(text: str) -> str:
    """Lower case, single spaces, no final punctuation: how two questions are compared."""
    return re.sub(r"\s+", " ", text.strip().lower()).rstrip("?.! ")


def canonical_query(dialect: str, query: str) -> str:
    """The dialect formatter's text for `query` (the stripped text when it does not parse)."""
    from nlq import dialects

    try:
        language = dialects.get(dialect)
        return language.format(language.parse(query))
    except Exception:  # noqa: BLE001 - comparison only: an unparsable text compares as written
        return query.strip()


#: a run of this many characters (whitespace aside) shared with a held-back case makes a
#: pair a near-copy of it: the same query with another window, or its operands swapped
SHARED_RUN = 60


def shared_runs(text: str, length: int = SHARED_RUN) -> set[str]:
    """Every `length`-character run of `text` with the whitespace taken out."""
    squashed = re.sub(r"\s+", "", text)
    return {squashed[i:i + length] for i in range(len(squashed) - length + 1)}


@dataclass(frozen=True)
class HeldBack:
    """Cases training must not repeat or nearly copy: their normalized questions, (dialect,
    canonical query), and the 60-character runs of their questions and queries."""

    questions: frozenset[str] = frozenset()
    queries: frozenset[tuple[str, str]] = frozenset()
    runs: frozenset[str] = frozenset()

    def repeats(self, pair: TrainingPair, canonical: bool = True) -> bool:
        """Whether `pair` repeats or nearly copies a held-back case (generated queries are already canonical)."""
        query = canonical_query(pair.dialect, pair.query) if canonical else pair.query.strip()
        return (normalized_question(pair.question) in self.questions or (pair.dialect, query) in self.queries
                or not self.runs.isdisjoint(shared_runs(pair.question) | shared_runs(pair.query)))


@cache
def held_back_cases(paths: tuple[str, ...]) -> HeldBack:
    """The cases of these JSONL files (`question`, `dialect`, and `gold` or `query`), for exclusion only.

    The generator never reads them; `nlq tune` passes the benchmark's files so
    that no training pair equals, or nearly copies, a case it is scored on.
    """
    questions, queries, runs = set(), set(), set()
    for path in paths:
        for line in Path(path).read_text(encoding="utf-8").splitlines():
            if not line.strip() or line.lstrip().startswith(("#", "//")):
                continue
            case = json.loads(line)
            dialect = case.get("dialect") or Path(path).stem
            gold = case.get("gold") or case.get("query") or ""
            questions.add(normalized_question(case["question"]))
            queries.add((dialect, canonical_query(dialect, gold)))
            runs |= shared_runs(case["question"]) | shared_runs(gold)
    return HeldBack(frozenset(questions), frozenset(queries), frozenset(runs))


def training_pairs(
    catalogs: dict[str, Catalog], n: int, seed: int, fewshot: bool = True, held_back: HeldBack = HeldBack()
) -> list[TrainingPair]:
    """Generated pairs (n per dialect) and, with `fewshot`, the curated ones, shuffled.

    Duplicates are dropped, and so is any pair whose question or query equals
    a `held_back` case's: a generator over the snapshot catalog composes simple
    queries (`{service="cart", level="error"}`) that a benchmark also asks for,
    and a benchmark must stay unseen.
    """
    pairs: list[TrainingPair] = []
    for dialect, catalog in catalogs.items():
        pairs += generated_pairs(catalog, n, seed)
        if fewshot:
            pairs += fewshot_pairs(dialect)
    seen: set[tuple[str, str]] = set()
    unique = []
    for pair in pairs:
        key = (pair.dialect, normalized_question(pair.question))
        if key in seen or held_back.repeats(pair, canonical=pair.origin != "generated"):
            continue
        seen.add(key)
        unique.append(pair)
    random.Random(seed).shuffle(unique)
    return unique


def held_out_pairs(catalogs: dict[str, Catalog], n: int, seed: int, exclude: list[TrainingPair],
                   held_back: HeldBack = HeldBack()) -> list[TrainingPair]:
    """Generated pairs from another seed whose queries are not in `exclude`: for choosing rank and lr.

    Never the held-back benchmark: it stays unseen by every choice made in training.
    """
    taken = {(p.dialect, p.query) for p in exclude}
    out = []
    for catalog in catalogs.values():
        fresh = [p for p in generated_pairs(catalog, n * 4, seed + 7919)
                 if (p.dialect, p.query) not in taken and not held_back.repeats(p, canonical=False)]
        out += fresh[:n]
    return out
