"""Few-shot retrieval by embeddings (the real all-MiniLM-L6-v2), hybrid fusion, and the method switch."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nlq.errors import UsageError
from nlq.prompting import FewShotBank
from nlq.prompting.embedding import Embedder, texts_hash
from nlq.prompting.retrieval import (
    DEFAULT_RETRIEVAL,
    RETRIEVAL_METHODS,
    check_retrieval,
    fuse,
    ranking,
)
from nlq.translate import translate

FIXTURES = Path(__file__).parent / "fixtures" / "translate"


@pytest.fixture(scope="module")
def bank() -> FewShotBank:
    return FewShotBank.from_file(FIXTURES / "fewshot_promql.jsonl", "promql")


@pytest.fixture(scope="module")
def embedder() -> Embedder:
    return Embedder.shared()


def test_embeddings_are_unit_vectors_and_paraphrases_are_closer(embedder):
    vectors = embedder.embed(["p99 latency of checkout", "99th percentile response time of checkout",
                              "disk space left on the database host"])
    assert vectors.shape == (3, 384) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert vectors[0] @ vectors[1] > vectors[0] @ vectors[2] + 0.2
    assert embedder.embed([]).shape == (0, 384)


def test_bank_embeddings_are_cached_by_content(embedder, tmp_path):
    texts = ["request rate of cart", "which targets are down"]
    first = embedder.embed_cached(texts, tmp_path)
    files = list(tmp_path.glob("*.npy"))
    assert [f.name for f in files] == [f"{embedder.name}-{texts_hash(texts)}.npy"]
    np.save(files[0], first * 0 + 7)  # a cached file is read back, not recomputed
    assert np.all(embedder.embed_cached(texts, tmp_path) == 7)
    changed = embedder.embed_cached(texts + ["cpu by host"], tmp_path)  # other content, other file
    assert changed.shape == (3, 384) and len(list(tmp_path.glob("*.npy"))) == 2
    assert np.allclose(changed[:2], first, atol=1e-5)


def test_embedding_finds_a_paraphrase_bm25_cannot(bank):
    # no word of the question (nor a synonym) occurs in the bank: BM25 only fills for the format
    question = "which hosts are unreachable"
    assert bank.retrieve(question, 1, "embedding")[0].query == "up == 0"
    assert bank.retrieve(question, 1, "hybrid")[0].query == "up == 0"
    assert bank.retrieve(question, 1, "bm25")[0].query != "up == 0"


def test_methods_agree_on_an_obvious_match_and_none_retrieves_nothing(bank):
    for method in ("bm25", "embedding", "hybrid"):
        best = bank.retrieve("free RAM on each machine", 2, method)
        assert len(best) == 2 and best[0].query == "node_memory_MemAvailable_bytes", method
    fixed = bank.retrieve("free RAM on each machine", 3, "none")
    assert fixed == bank.retrieve("which targets are down", 3, "none")  # whatever the question
    assert fixed == [bank.examples[0], bank.examples[2], bank.examples[4]]  # spread over the file
    assert bank.with_retrieval("none").retrieve("cpu", 2) == [bank.examples[0], bank.examples[3]]
    assert bank.retrieve("cpu", 0, "none") == []


def test_exclude_leaves_one_out(bank):
    question = bank.examples[3].question
    assert bank.rank(question, 1, "embedding")[0] == 3
    ranked = bank.rank(question, 3, "hybrid", exclude=3)
    assert 3 not in ranked and len(ranked) == 3


def test_with_retrieval_shares_the_embeddings(bank):
    other = bank.with_retrieval("embedding")
    assert other.retrieval == "embedding" and other.examples is bank.examples
    vectors = other.vectors()
    assert bank.vectors() is vectors


def test_fusion_and_ranking():
    assert ranking([0.1, 0.9, 0.5]) == [1, 2, 0]
    assert ranking([0.0, 2.0, 0.0], min_score=0.0) == [1]
    # 2 is second in both rankings, so it beats 0 and 1, each first in one and absent from the other
    assert fuse([[0, 2], [1, 2]])[0] == 2
    assert fuse([[], [4, 3]]) == [4, 3]


def test_unknown_method_is_a_usage_error(bank):
    assert check_retrieval(None) == DEFAULT_RETRIEVAL in RETRIEVAL_METHODS
    with pytest.raises(UsageError, match="unknown retrieval method 'dense'"):
        bank.retrieve("cpu", 1, "dense")
    with pytest.raises(UsageError, match="unknown retrieval method"):
        FewShotBank([], retrieval="dense")
    with pytest.raises(UsageError, match="unknown retrieval method"):
        translate("cpu by host", "promql", None, model=object(), retrieval="dense")
