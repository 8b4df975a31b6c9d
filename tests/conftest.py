"""Fixtures shared by test modules."""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# Property tests draw the same examples on every run, so CI cannot fail by luck
# on one commit and pass on the next; HYPOTHESIS_PROFILE=explore draws new ones
# (run it when changing a grammar, parser or formatter).
settings.register_profile("deterministic", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "deterministic"))


@pytest.fixture(scope="session")
def model():
    """The embedded model as `nlq ask` loads it by default; the test skips where it is not installed.

    Loaded once per process (`load_model` caches it), so every module that asks
    for it shares one copy.  A module may define its own `model` (test_llamacpp.py does).
    """
    from nlq.models.embedded import ModelUnavailable

    try:
        from nlq.models import load_model

        return load_model("embedded")
    except ModelUnavailable as exc:
        pytest.skip(str(exc))
