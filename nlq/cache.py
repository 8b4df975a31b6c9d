"""Where nlq keeps what it builds once: converted models, compiled grammars,
synthesized worlds, gold answers, embeddings.

A module of its own, free of heavy imports, so that code that only needs the
path (the eval's gold cache, the worlds of own catalogs) does not pay for
importing torch and transformers.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_root() -> Path:
    """$NLQ_CACHE_DIR, else $XDG_CACHE_HOME/nlq, else ~/.cache/nlq."""
    root = os.environ.get("NLQ_CACHE_DIR")
    if root:
        return Path(root).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "nlq"
