"""The answer pool: worker threads that answer jobs, one at a time per conversation, in conversation order.

Within a conversation (a thread) jobs run in the order of the messages they answer (their Slack ts, then their
arrival in the journal), whatever the order in which the listener threads handed them over. A job whose turn
has not come yet because an earlier message of its thread is being answered by another process says so (its
run returns a delay): it goes back into the queue for that long, and the conversation is free meanwhile.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

logger = logging.getLogger(__name__)


@dataclass
class Job:
    """One message to answer, as the pool and the responder see it.

    `record` is its journal entry (ids only); `request` the routed event (None when the job was read back from
    the journal after a restart: its text is then re-read from Slack); `handle` its reply, once opened.
    """

    key: tuple[str, str, str]  # (team_id, channel, thread_ts): one answer at a time per key
    record: Any  # bot.state.store.JobRecord
    request: Any = None
    handle: Any = None  # bot.slack.answer.AnswerHandle
    queued: bool = False  # its placeholder says it waits for a worker
    deferred: bool = False  # Slack must be asked something before it may be answered (no placeholder yet)
    resumed: bool = False  # read back from the journal (at startup, or taken over from another process)
    received: float = field(default_factory=time.monotonic)
    lost: threading.Event = field(default_factory=threading.Event)  # another process took the job over
    queued_for_turn: bool = False  # it waits for an earlier answer of its thread in another process
    thread: list[dict[str, Any]] | None = None  # its thread as read when its turn came (the answer's history)
    thread_pages: int = 0
    submitted: int = field(default_factory=itertools.count().__next__)

    def order(self) -> tuple[tuple[int, int], int, int]:
        """Where the job stands in its conversation: its message's ts, then its arrival in the journal."""
        record = self.record
        if record is None:
            return ((0, 0), 0, self.submitted)
        seconds, _, fraction = str(record.ts).partition(".")
        return ((int(seconds or 0), int(fraction or 0)), int(record.seq), self.submitted)


class AnswerPool:
    """`workers` threads answer jobs; one job at a time per conversation, in arrival order per conversation.

    Jobs beyond the free workers wait (at most `max_queued` of them); `submit` returns False past that.
    """

    def __init__(self, run: Callable[[Job], float | None], *, workers: int, max_queued: int) -> None:
        """`run(job)` answers a job; it returns None when done, or seconds to wait before trying it again."""
        self._run = run
        self._cond = threading.Condition()
        self._ready: list[tuple[str, str, str]] = []
        self._jobs: dict[tuple[str, str, str], list[Job]] = {}
        self._delayed = 0
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

    def submit(self, job: Job, *, claimed: bool = False, force: bool = False) -> bool:
        """Queue `job`; False if the pool is closed or (unless `force`: jobs resumed from the journal) full."""
        with self._cond:
            if claimed:
                self._claims -= 1
            if self._closed or (not force and self._waiting >= self._max_queued and (
                job.key in self._active or self._running + len(self._ready) >= self._workers
            )):
                return False
            self._enqueue(job)
            return True

    def _enqueue(self, job: Job) -> None:
        queue = self._jobs.setdefault(job.key, [])
        queue.insert(bisect.bisect(queue, job.order(), key=Job.order), job)
        self._waiting += 1
        if job.key not in self._active:
            self._active.add(job.key)
            self._ready.append(job.key)
            self._cond.notify()

    def _requeue(self, job: Job) -> None:
        with self._cond:
            self._delayed -= 1
            if not self._closed:
                self._enqueue(job)
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                while not self._ready and not self._closed:
                    self._cond.wait()
                if not self._ready:
                    return
                key = self._ready.pop(0)
                job = self._jobs[key].pop(0)
                self._waiting -= 1
                self._running += 1
            retry: float | None = None
            try:
                retry = self._run(job)
            except Exception:
                logger.exception("answering a message failed")
            finally:
                with self._cond:
                    self._running -= 1
                    if retry is not None:
                        self._delayed += 1
                        timer = threading.Timer(retry, self._requeue, (job,))
                        timer.daemon = True
                        timer.start()
                    if self._jobs[key]:
                        self._ready.append(key)
                        self._cond.notify()
                    else:
                        del self._jobs[key]
                        self._active.discard(key)
                    self._cond.notify_all()

    def counts(self) -> tuple[int, int]:
        """(answers running, answers waiting for a worker)."""
        with self._cond:
            return self._running, self._waiting

    def drain(self, timeout: float) -> bool:
        """Stop taking jobs; wait up to `timeout` for running and queued ones. True if all finished."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            while self._running or self._ready or self._delayed:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return True
