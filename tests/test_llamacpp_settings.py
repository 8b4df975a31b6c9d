"""The llama.cpp backend's environment settings, read without loading llama.cpp."""

import os

import pytest

from nlq.errors import UsageError
from nlq.models.llamacpp import DRAFT_TOKENS, _draft_tokens, _prompt_threads


def test_drafting_is_off_unless_asked_for(monkeypatch):
    monkeypatch.delenv("NLQ_DRAFT_TOKENS", raising=False)
    assert _draft_tokens() == DRAFT_TOKENS == 0
    monkeypatch.setenv("NLQ_DRAFT_TOKENS", "3")
    assert _draft_tokens() == 3


@pytest.mark.parametrize("value", ["four", "-2", "1.5"])
def test_a_bad_draft_setting_is_a_usage_error(monkeypatch, value):
    monkeypatch.setenv("NLQ_DRAFT_TOKENS", value)
    with pytest.raises(UsageError, match=f"NLQ_DRAFT_TOKENS={value}"):
        _draft_tokens()


def test_prompts_use_every_core_unless_told_otherwise(monkeypatch):
    monkeypatch.delenv("NLQ_PREFILL_THREADS", raising=False)
    busy = 5.0 * (os.cpu_count() or 1)
    monkeypatch.setattr(os, "getloadavg", lambda: (busy, busy, busy))  # a busy machine does not change it
    assert _prompt_threads() == (os.cpu_count() or 1)
    monkeypatch.setenv("NLQ_PREFILL_THREADS", "1")
    assert _prompt_threads() == 1
    monkeypatch.setenv("NLQ_PREFILL_THREADS", "auto")  # transformers' choice: none while busy
    assert _prompt_threads() is None
