"""Slack's budgets for one workspace, as token buckets that one process or several share.

Slack's rate limits are per workspace and per method, whatever number of processes calls it. A `Budget` hands
out tokens: `take` one from a bucket (0.0: taken; else the seconds to wait), `give` one back (a turn that made
no call), `pause` a bucket after a 429 until its Retry-After has passed. `LocalBudget` keeps the buckets in
this process; the Redis store's `RedisBudget` keeps them in Redis, so that N processes together stay within
Slack's tiers. The scheduler (`bot.slack.scheduler`) still decides, in this process, which answer goes next; a
shared budget only says whether the workspace has a token for it.

`need` lets a caller take a token only if more than one is there: first and interim edits leave the last
tokens to final texts, across processes too.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol


class Budget(Protocol):
    def take(self, key: str, rate: float, burst: float, need: float = 1.0) -> float:
        """Take one token from bucket `key` (refilled at `rate` a second up to `burst`) if at least `need` are
        there and it is not paused: 0.0. Else the seconds until that could be so (nothing is taken)."""
        ...

    def give(self, key: str, rate: float, burst: float) -> None:
        """Put back a token taken for a call that was not made."""
        ...

    def pause(self, key: str, seconds: float) -> None:
        """A 429: nobody takes from `key` for `seconds`."""
        ...


class LocalBudget:
    """Token buckets in this process. Thread-safe."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, when)
        self._paused: dict[str, float] = {}

    def _tokens(self, key: str, rate: float, burst: float, now: float) -> float:
        tokens, at = self._buckets.get(key, (burst, now))
        return min(burst, tokens + max(0.0, now - at) * rate)

    def take(self, key: str, rate: float, burst: float, need: float = 1.0) -> float:
        with self._lock:
            now = self._clock()
            paused = self._paused.get(key, 0.0) - now
            if paused > 0:
                return paused
            tokens = self._tokens(key, rate, burst, now)
            if tokens >= need:
                self._buckets[key] = (tokens - 1.0, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (need - tokens) / rate if rate > 0 else float("inf")

    def give(self, key: str, rate: float, burst: float) -> None:
        with self._lock:
            now = self._clock()
            self._buckets[key] = (min(burst, self._tokens(key, rate, burst, now) + 1.0), now)

    def pause(self, key: str, seconds: float) -> None:
        with self._lock:
            until = self._clock() + seconds
            self._paused[key] = max(self._paused.get(key, 0.0), until)
