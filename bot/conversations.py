"""Per-conversation state: which threads are the bot's, which messages were answered, and the worker pool.

All state is keyed by workspace (`team_id`) first, so that moving it to shared storage later is a change
of these classes, not of their callers. In-memory, bounded, thread-safe.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


class BoundedSet:
    """Remembers up to `capacity` keys for `ttl` seconds (oldest forgotten first). `add` says if it was new."""

    def __init__(self, capacity: int = 20000, ttl: float = 3600.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._items: OrderedDict[Hashable, float] = OrderedDict()
        self._capacity = capacity
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()

    def add(self, key: Hashable) -> bool:
        now = self._clock()
        with self._lock:
            while self._items and (len(self._items) >= self._capacity
                                   or next(iter(self._items.values())) < now - self._ttl):
                self._items.popitem(last=False)
            if key in self._items:
                return False
            self._items[key] = now
            return True


class ThreadRegistry:
    """Whether a thread was started for the bot (its root mentions the bot, or it is a DM thread).

    `None` means unknown (e.g. after a restart): the caller asks Slack once and records the answer.
    """

    def __init__(self, capacity: int = 50000) -> None:
        self._known: OrderedDict[tuple[str, str, str], bool] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, team_id: str, channel: str, thread_ts: str) -> bool | None:
        with self._lock:
            return self._known.get((team_id, channel, thread_ts))

    def set(self, team_id: str, channel: str, thread_ts: str, started_for_bot: bool) -> None:
        key = (team_id, channel, thread_ts)
        with self._lock:
            self._known[key] = started_for_bot
            self._known.move_to_end(key)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)

    def resolve(self, team_id: str, channel: str, thread_ts: str, ask: Callable[[], bool]) -> bool:
        """The recorded answer, or `ask()` once per thread even when several messages race for it."""
        key = (team_id, channel, thread_ts)
        with self._lock:
            gate = self._pending.setdefault(key, threading.Lock())
        with gate:
            known = self.get(team_id, channel, thread_ts)
            if known is None:
                known = ask()
                self.set(team_id, channel, thread_ts, known)
        with self._lock:
            self._pending.pop(key, None)
        return known


@dataclass
class Job:
    """One message to answer. `placeholder_ts` is set once its reply exists in Slack."""

    key: tuple[str, str, str]  # (team_id, channel, thread_ts): one answer at a time per key
    request: Any
    placeholder_ts: str | None = None
    queued: bool = False
    received: float = field(default_factory=time.monotonic)
    placeholder_at: float | None = None


class AnswerPool:
    """`workers` threads answer jobs; one job at a time per conversation, in arrival order per conversation.

    Jobs beyond the free workers wait (at most `max_queued` of them); `submit` returns False past that.
    """

    def __init__(self, run: Callable[[Job], None], *, workers: int, max_queued: int) -> None:
        self._run = run
        self._cond = threading.Condition()
        self._ready: deque[tuple[str, str, str]] = deque()
        self._jobs: dict[tuple[str, str, str], deque[Job]] = {}
        self._active: set[tuple[str, str, str]] = set()  # conversations queued in _ready or running
        self._running = 0
        self._waiting = 0
        self._claims = 0
        self._max_queued = max_queued
        self._closed = False
        self._threads = [threading.Thread(target=self._work, name=f"answer-{i}", daemon=True)
                         for i in range(workers)]
        self._workers = workers
        for thread in self._threads:
            thread.start()

    def busy(self, key: tuple[str, str, str]) -> bool:
        """True if the conversation already has an answer running or waiting."""
        with self._cond:
            return key in self._active

    def claim(self) -> bool:
        """Announce a job about to be submitted (its placeholder is posted in between); return True if it
        will have to wait for a worker. Claims count as taken workers, so concurrent callers agree."""
        with self._cond:
            waits = self._running + len(self._ready) + self._claims >= self._workers
            self._claims += 1
            return waits

    def unclaim(self) -> None:
        with self._cond:
            self._claims -= 1

    def submit(self, job: Job, *, claimed: bool = False) -> bool:
        with self._cond:
            if claimed:
                self._claims -= 1
            if self._closed or (self._waiting >= self._max_queued and (
                job.key in self._active or self._running + len(self._ready) >= self._workers
            )):
                return False
            self._jobs.setdefault(job.key, deque()).append(job)
            self._waiting += 1
            if job.key not in self._active:
                self._active.add(job.key)
                self._ready.append(job.key)
                self._cond.notify()
            return True

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._closed:
                    self._cond.wait()
                if not self._ready:
                    return
                key = self._ready.popleft()
                job = self._jobs[key].popleft()
                self._waiting -= 1
                self._running += 1
            try:
                self._run(job)
            except Exception:
                logger.exception("answering a message failed")
            finally:
                with self._cond:
                    self._running -= 1
                    if self._jobs[key]:
                        self._ready.append(key)
                        self._cond.notify()
                    else:
                        del self._jobs[key]
                        self._active.discard(key)
                    self._cond.notify_all()

    def drain(self, timeout: float) -> bool:
        """Stop taking jobs; wait up to `timeout` for running and queued ones. True if all finished."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._running or self._ready:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True

    def pending_jobs(self) -> list[Job]:
        with self._cond:
            return [job for jobs in self._jobs.values() for job in jobs]
