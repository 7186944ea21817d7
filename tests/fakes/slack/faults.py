"""What can go wrong with a Web API call: Slack's rate limits, and failures a test injects.

``RateLimits`` models Slack's limits as token buckets: one per method for the workspace (a tier is a
rate per minute plus a burst), and, for ``chat.postMessage``, one per channel (about one message a
second). A call over a limit gets HTTP 429 with ``Retry-After``, and that opens a window; calls that
arrive while their window is still open are what Slack would call abuse, and the Web API records them as
violations. The buckets and windows run on a fake clock (wall seconds times ``time_scale``) so tests can
cross a one-minute tier in a fraction of a second.

``Faults`` holds the failures a test scripts: with ``fail_next`` the next calls of a method (optionally in one
channel only) can be slow, answer an error or a bare HTTP status, or have their TCP connection reset — before
or *after* Slack processed them (the response is lost: the client cannot tell whether its call landed); with
``outage`` every call of some methods fails for a while, as during a Slack incident.

Both are used by the Web API server under the lock the whole fake shares (``Workspace.lock``).
"""

from __future__ import annotations

import copy
import math
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

from .workspace import Workspace


class Bucket:
    """A token bucket running on the fake clock."""

    def __init__(self, rate_per_second: float, burst: int) -> None:
        self.rate = rate_per_second
        self.capacity = float(max(1, burst))
        self.tokens = self.capacity
        self.stamp: float | None = None

    def take(self, now: float) -> float:
        """Take a token; return 0.0 if granted, else the fake seconds until one is available."""
        if self.stamp is not None:
            self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate if self.rate > 0 else math.inf


class RateLimits:
    """Per-method and per-channel token buckets, and the Retry-After windows a 429 opens."""

    def __init__(self, workspace: Workspace, *, time_scale: float = 1.0) -> None:
        """``time_scale`` speeds up the fake clock (10.0: ``Retry-After: 1`` closes after 0.1 s)."""
        self._workspace = workspace
        self._lock = workspace.lock
        self.time_scale = time_scale
        self.clear_locked()

    def clear_locked(self) -> None:
        """Remove all limits and open windows."""
        self._method_buckets: dict[str, Bucket] = {}
        self._post_limit: tuple[float, int] | None = None
        self._post_buckets: dict[str, Bucket] = {}
        self._retry_windows: dict[tuple[str, str], float] = {}

    def set_rate_limit(self, method: str, per_minute: float, burst: int) -> None:
        """Rate-limit a method workspace-wide with a token bucket."""
        with self._lock:
            self._method_buckets[method] = Bucket(per_minute / 60.0, burst)

    def set_post_limit(self, per_second: float = 1.0, burst: int = 5) -> None:
        """Rate-limit chat.postMessage per channel with a token bucket."""
        with self._lock:
            self._post_limit = (per_second, burst)
            self._post_buckets = {}

    def clear(self) -> None:
        """Remove all rate limits and open Retry-After windows."""
        with self._lock:
            self.clear_locked()

    def _fake_now(self, wall: float) -> float:
        return wall * self.time_scale

    def _post_channel(self, params: dict[str, Any]) -> str:
        return self._workspace.resolve_channel(params.get("channel")) or str(params.get("channel"))

    def _window_keys(self, method: str, params: dict[str, Any]) -> list[tuple[str, str]]:
        keys = [("method", method)]
        if method == "chat.postMessage":
            keys.append(("post", self._post_channel(params)))
        return keys

    def open_window_locked(self, key: tuple[str, str], now: float, retry_after: int) -> None:
        """Open (or extend) the Retry-After window of ``("method", name)`` or ``("post", channel)``."""
        end = now + retry_after / self.time_scale
        self._retry_windows[key] = max(end, self._retry_windows.get(key, 0.0))

    def in_retry_window_locked(self, method: str, params: dict[str, Any], now: float) -> bool:
        """True if a call made at wall time ``now`` ignores a Retry-After it was given."""
        return any(self._retry_windows.get(key, 0.0) > now for key in self._window_keys(method, params))

    def check_locked(self, method: str, params: dict[str, Any], now: float) -> int | None:
        """Take rate-limit tokens; return a Retry-After in seconds if the call is over a limit."""
        fake_now = self._fake_now(now)
        bucket = self._method_buckets.get(method)
        if bucket is not None:
            wait = bucket.take(fake_now)
            if wait > 0:
                retry_after = 60 if math.isinf(wait) else max(1, math.ceil(wait))
                self.open_window_locked(("method", method), now, retry_after)
                return retry_after
        if method == "chat.postMessage" and self._post_limit is not None:
            channel = self._post_channel(params)
            per_second, burst = self._post_limit
            post_bucket = self._post_buckets.setdefault(channel, Bucket(per_second, burst))
            wait = post_bucket.take(fake_now)
            if wait > 0:
                retry_after = 60 if math.isinf(wait) else max(1, math.ceil(wait))
                self.open_window_locked(("post", channel), now, retry_after)
                return retry_after
        return None


@dataclass
class Fault:
    """A scripted failure for the next call of one method."""

    status: int
    error: str | None
    delay: float
    reset_connection: bool
    retry_after: int | None
    channel: str | None = None  # only calls for this channel (None: any)
    after_processing: bool = False  # the call is processed, then its response is lost (reset, or stalled)


@dataclass
class Outage:
    """Every call of ``methods`` fails with ``status`` until the wall-clock time ``until``."""

    methods: frozenset[str]
    until: float
    status: int
    error: str | None


class Faults:
    """Queues of scripted failures, one per Web API method."""

    def __init__(self, lock: threading.RLock) -> None:
        self._lock = lock
        self.clear_locked()

    def clear_locked(self) -> None:
        """Forget every scripted failure."""
        self._queues: dict[str, deque[Fault]] = {}
        self._outages: list[Outage] = []

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        status: int = 200,
        error: str | None = None,
        delay: float = 0.0,
        reset_connection: bool = False,
        retry_after: int | None = None,
        channel: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Make the next ``n`` calls of ``method`` fail (see ``FakeSlack.fail_next``)."""
        fault = Fault(status, error, delay, reset_connection, retry_after, channel, after_processing)
        with self._lock:
            self._queues.setdefault(method, deque()).extend(copy.copy(fault) for _ in range(n))

    def outage(self, methods: frozenset[str], until: float, status: int, error: str | None) -> None:
        """Fail every call of ``methods`` until the wall-clock time ``until``."""
        with self._lock:
            self._outages.append(Outage(methods, until, status, error))

    def take(self, method: str, channel: str | None = None, now: float = 0.0) -> Fault | None:
        """The failure scripted for this call of ``method`` (in ``channel``), if any: an ongoing outage first,
        then the first queued fault meant for any channel or for this one."""
        with self._lock:
            for outage in self._outages:
                if method in outage.methods and now < outage.until:
                    return Fault(outage.status, outage.error, 0.0, False, None)
            queue = self._queues.get(method)
            if not queue:
                return None
            for index, fault in enumerate(queue):
                if fault.channel is None or fault.channel == channel:
                    del queue[index]
                    return fault
            return None
