"""Limits that keep one client or one burst from taking the service down.

* `RateLimiter`: a token bucket per client (address, or Slack team:user).
* `ModelQueue`: the bounded queue in front of the model.  The model runs on one
  worker thread (a CPU model gains nothing from two at once and is not
  thread-safe); at most `size` translations wait or run, the next one is
  refused at once (`QueueFull`, HTTP 503 with Retry-After) rather than piling
  up, and each caller waits at most `timeout_s` (`QueueTimeout`, HTTP 504).
  A timed-out translation still finishes on the worker, so its place in the
  queue is freed only then: the queue always counts real work.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class QueueFull(Exception):
    """Every place in the model queue is taken."""


class QueueTimeout(Exception):
    """The translation did not finish within the per-translation timeout."""


class RateLimiter:
    """`per_minute` requests per client, refilled continuously, bursts up to `per_minute`."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic):
        self.per_minute = per_minute
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def check(self, client: str) -> float:
        """0 when `client` may go ahead (and takes a token), else seconds until it may retry."""
        if self.per_minute <= 0:
            return 0.0
        rate = self.per_minute / 60.0
        now = self._clock()
        with self._lock:
            tokens, last = self._buckets.get(client, (float(self.per_minute), now))
            tokens = min(float(self.per_minute), tokens + (now - last) * rate)
            if tokens >= 1.0:
                self._buckets[client] = (tokens - 1.0, now)
                return 0.0
            self._buckets[client] = (tokens, now)
            if len(self._buckets) > 100_000:  # forget idle clients rather than grow without bound
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 120}
            return (1.0 - tokens) / rate


class ModelQueue:
    """At most `size` jobs queued or running on one worker thread."""

    def __init__(self, size: int, timeout_s: float):
        self.size = size
        self.timeout_s = timeout_s
        self._pending = 0
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="nlq-model")

    @property
    def depth(self) -> int:
        return self._pending

    def _release(self, _future) -> None:
        with self._lock:
            self._pending -= 1

    async def run(self, fn: Callable[[], T]) -> T:
        """Run `fn` on the model thread; `QueueFull` or `QueueTimeout` instead of waiting forever."""
        with self._lock:
            if self._pending >= self.size:
                raise QueueFull()
            self._pending += 1
        context = contextvars.copy_context()  # keeps the request id on log lines from the thread
        future = self._executor.submit(context.run, fn)
        future.add_done_callback(self._release)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout_s)
        except TimeoutError as exc:
            raise QueueTimeout() from exc

    def shutdown(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
