"""Draft tokens for speculative decoding, looked up in the prompt (no draft model).

A translation copies most of its tokens from its prompt: metric and label
names from the catalog slice, whole stretches of query from the retrieved
examples, the failed query on a retry.  So the tokens that followed the last
place where the prompt (or the answer so far) ended the way the answer now ends
are a good guess at what comes next.  The backend evaluates that guess in the
same forward pass as the token it just picked, and keeps the drafted tokens the
model would have chosen anyway, one by one: greedy output is the model's own,
only fewer passes are made (prompt lookup decoding; vLLM calls it the "ngram"
speculator).

    >>> draft([5, 6, 7, 8, 9, 1, 5, 6], max_draft=3)
    [7, 8, 9]
    >>> draft([1, 2, 3], max_draft=3)
    []
"""

from __future__ import annotations

from collections.abc import Sequence

#: the longest ending looked for, in tokens; shorter ones are tried when it is not found
MAX_NGRAM = 3


def draft(context: Sequence[int], max_draft: int, max_ngram: int = MAX_NGRAM) -> list[int]:
    """Up to `max_draft` tokens that followed the latest earlier occurrence of
    `context`'s last n tokens (the longest n up to `max_ngram` that occurs), or []."""
    if max_draft <= 0:
        return []
    tokens = list(context)
    end = len(tokens)
    for n in range(min(max_ngram, end - 1), 0, -1):
        suffix = tokens[end - n:]
        # latest first: the answer so far, then the examples nearest the question
        for start in range(end - n - 1, -1, -1):
            if tokens[start:start + n] == suffix:
                return tokens[start + n:start + n + max_draft]
    return []
