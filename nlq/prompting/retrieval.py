"""Lexical retrieval: a small BM25 over words split the way telemetry names are written.

`http_request_duration_seconds` and `trace.http.request.hits` split into their
words; a few telemetry synonyms ("latency" -> duration, "errors" -> 5xx) bridge
the gap between how people ask and how metrics are named.

    >>> index = BM25([words("http_requests_total"), words("node_cpu_seconds_total")])
    >>> index.top(words("how many requests"), 1)
    [0]
"""

from __future__ import annotations

import math
import re
from collections import Counter

_SPLIT = re.compile(r"[A-Z]?[a-z]+|[A-Z]+(?![a-z])|\d+")
_STOP = frozenset(
    "a an the of in on for to and or is are was were be what which how much show me give "
    "get list all any with from during at as it its this that there their my our i we do does "
    "did can could would should please tell find display return query value values".split()
)
SYNONYMS: dict[str, tuple[str, ...]] = {
    "latency": ("duration", "seconds", "time"),
    "slow": ("duration", "latency"),
    "error": ("5xx", "500", "fail", "status", "code"),
    "fail": ("error", "5xx"),
    "failure": ("error", "fail"),
    "traffic": ("request", "hit"),
    "throughput": ("request", "rate"),
    "request": ("hit", "http"),
    "memory": ("mem", "bytes"),
    "ram": ("memory", "mem"),
    "mem": ("memory",),
    "cpu": ("processor",),
    "disk": ("filesystem", "fs"),
    "down": ("up",),
    "availability": ("up",),
    "log": ("line",),
    "status": ("code",),
    "many": ("count",),
    "number": ("count",),
    "per": ("by",),
    "each": ("by",),
}


def _fold(word: str) -> str:
    """Plurals folded so "requests" meets "request" ("status" and "bytes" stay)."""
    if len(word) > 3 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "tes")):
        return word[:-1]
    return word


def words(text: str, expand: bool = False) -> list[str]:
    """Lower-case words of `text`, identifiers split, stop words dropped.

    >>> words("http_requests_total{code='500'}")
    ['http', 'request', 'total', 'code', '500']
    """
    out = []
    for raw in _SPLIT.findall(text):
        word = _fold(raw.lower())
        if word in _STOP or len(word) < 2 and not word.isdigit():
            continue
        out.append(word)
        if expand:
            out.extend(_fold(s) for s in SYNONYMS.get(word, ()))
    return out


class BM25:
    """Okapi BM25 over pre-tokenized documents."""

    def __init__(self, documents: list[list[str]], k1: float = 1.5, b: float = 0.75):
        self.k1, self.b = k1, b
        self.docs = [Counter(d) for d in documents]
        self.lengths = [len(d) for d in documents]
        self.avg = (sum(self.lengths) / len(documents)) if documents else 0.0
        df: Counter = Counter()
        for doc in self.docs:
            df.update(doc.keys())
        n = len(documents)
        self.idf = {w: math.log(1 + (n - f + 0.5) / (f + 0.5)) for w, f in df.items()}

    def scores(self, query: list[str]) -> list[float]:
        out = []
        for doc, length in zip(self.docs, self.lengths, strict=True):
            score = 0.0
            for word in query:
                tf = doc.get(word)
                if not tf:
                    continue
                norm = tf + self.k1 * (1 - self.b + self.b * length / (self.avg or 1))
                score += self.idf[word] * tf * (self.k1 + 1) / norm
            out.append(score)
        return out

    def top(self, query: list[str], k: int, min_score: float = 0.0) -> list[int]:
        """Indices of the `k` best documents scoring above `min_score`, best first (stable)."""
        scored = sorted(enumerate(self.scores(query)), key=lambda p: (-p[1], p[0]))
        return [i for i, s in scored[:k] if s > min_score]


# ---------------------------------------------------------------------------
# choosing few-shot examples: lexical, semantic or both

#: "bm25": lexical (above); "embedding": cosine of all-MiniLM-L6-v2 question embeddings
#: (nlq.prompting.embedding); "hybrid": both rankings fused; "none": the same few examples for every question
RETRIEVAL_METHODS = ("bm25", "embedding", "hybrid", "none")
#: chosen by leave-one-out over fewshot/ (benchmarks/retrieval_quality.py), never on evals/: over
#: the 650 curated pairs, the nearest neighbour's query overlaps the held-out one's as much with
#: embeddings as with BM25 (0.512 both; hybrid 0.527, within noise) and shares its stratum less
#: often (0.297 and 0.305 against 0.338), while embedding costs a model load (4-14 s, more on a busy
#: machine) and 25-65 ms a question (idle / load 7) against BM25's 0.2-0.4 ms.  So BM25 stays the default until an eval ablation says otherwise.
DEFAULT_RETRIEVAL = "bm25"
#: reciprocal-rank-fusion constant: 60 is the usual choice; it damps the head of each ranking
#: so that an example ranked well by both methods beats one ranked first by only one
RRF_K = 60


def check_retrieval(method: str | None) -> str:
    """`method` (None: the default) if it names a retrieval method, else a UsageError."""
    from nlq.errors import UsageError

    if method is None:
        return DEFAULT_RETRIEVAL
    if method not in RETRIEVAL_METHODS:
        raise UsageError(f"unknown retrieval method {method!r}: choose one of {', '.join(RETRIEVAL_METHODS)}")
    return method


def ranking(scores, min_score: float | None = None) -> list[int]:
    """Indices by descending score (ties by index, so results are stable); below `min_score` left out."""
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    if min_score is None:
        return order
    return [i for i in order if float(scores[i]) > min_score]


def fuse(rankings: list[list[int]], k: int = RRF_K) -> list[int]:
    """Reciprocal rank fusion: sum over rankings of 1 / (k + rank); best first, ties by index."""
    fused: dict[int, float] = {}
    for order in rankings:
        for rank, index in enumerate(order):
            fused[index] = fused.get(index, 0.0) + 1.0 / (k + rank + 1)
    return sorted(fused, key=lambda i: (-fused[i], i))
