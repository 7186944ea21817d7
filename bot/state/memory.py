"""The in-process store (`STATE_URL=memory://`): thread-safe, bounded, gone when the process ends.

Guarantees:

* every call is atomic (one lock), `add_job` included;
* every claim and value expires; expired ones are dropped on the next write (a heap of expiries, amortised
  O(log n) per write), so they never pile up;
* at most `capacity` claims and at most `capacity` values are kept: past it the oldest written is forgotten
  first, even before it expires (a forgotten claim can let a duplicate through, so the cap sits far above
  what the bot writes in a day);
* at most `max_jobs` jobs: past it `add_job` raises StoreError instead of dropping an accepted message.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence

from bot.state import rules
from bot.state.store import Accepted, JobRecord, StoreError, StoreInfo

CAPACITY = 100_000
MAX_JOBS = 10_000


class Expiring:
    """Keys with a value and an expiry, oldest written first. Not locked: its owner locks."""

    def __init__(self, capacity: int) -> None:
        self._items: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self._expiries: list[tuple[float, str]] = []  # a heap; an entry is stale once its key is rewritten
        self._capacity = capacity

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: str, now: float) -> str | None:
        item = self._items.get(key)
        return item[0] if item is not None and item[1] > now else None

    def set(self, key: str, value: str, expires: float, now: float) -> None:
        self._items.pop(key, None)  # a rewritten key is as young as its last write
        self._items[key] = (value, expires)
        heapq.heappush(self._expiries, (expires, key))
        self.prune(now)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)

    def delete(self, key: str) -> None:
        self._items.pop(key, None)

    def keep(self, key: str, value: str) -> None:
        """Change a live key's value, keeping its expiry and its place."""
        self._items[key] = (value, self._items[key][1])

    def prune(self, now: float) -> None:
        """Drop what expired by `now`; rebuild the heap when stale entries outnumber live ones."""
        heap = self._expiries
        while heap and heap[0][0] <= now:
            expires, key = heapq.heappop(heap)
            item = self._items.get(key)
            if item is not None and item[1] == expires:
                del self._items[key]
        if len(heap) > 2 * len(self._items) + 1024:
            self._expiries = [(expires, key) for key, (_, expires) in self._items.items()]
            heapq.heapify(self._expiries)


class MemoryStore:
    """The `Store` in this process's memory (see the module docstring for its bounds)."""

    def __init__(self, clock: Callable[[], float] = time.time, *, capacity: int = CAPACITY,
                 max_jobs: int = MAX_JOBS) -> None:
        self.info = StoreInfo("memory", durable=False, shared=False)
        self._clock = clock
        self._lock = threading.Lock()
        self._claims = Expiring(capacity)
        self._values = Expiring(capacity)
        self._counters = Expiring(capacity)
        self._jobs: dict[str, JobRecord] = {}
        self._seq = 0
        self._max_jobs = max_jobs
        self._closed = False

    # -- claims ------------------------------------------------------------------------------------------
    def claim(self, key: str, ttl: float) -> bool:
        with self._lock:
            now = self._now()
            if self._claims.get(key, now) is not None:
                return False
            self._claims.set(key, "", now + ttl, now)
            return True

    def unclaim(self, key: str) -> None:
        with self._lock:
            self._check_open()
            self._claims.delete(key)

    # -- small values --------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        with self._lock:
            return self._values.get(key, self._now())

    def put(self, key: str, value: str, ttl: float) -> None:
        with self._lock:
            now = self._now()
            self._values.set(key, value, now + ttl, now)

    def bump(self, key: str, ttl: float) -> int:
        with self._lock:
            now = self._now()
            current = self._counters.get(key, now)
            if current is None:
                self._counters.set(key, "1", now + ttl, now)
                return 1
            count = int(current) + 1
            self._counters.keep(key, str(count))
            return count

    # -- the journal ------------------------------------------------------------------------------------
    def add_job(self, job: JobRecord, claims: Sequence[str], ttl: float) -> Accepted:
        with self._lock:
            now = self._now()
            for key in claims:
                if self._claims.get(key, now) is not None:
                    return Accepted(added=False, taken=key)
            if job.id in self._jobs:
                return Accepted(added=False, taken=job.id)
            if len(self._jobs) >= self._max_jobs:
                raise StoreError(f"memory store: {len(self._jobs)} unfinished jobs, no room for another")
            for key in claims:
                self._claims.set(key, "", now + ttl, now)
            self._seq += 1
            stored = job.with_changes(seq=self._seq)
            self._jobs[job.id] = stored
            return Accepted(added=True, job=stored)

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._lock:
            self._check_open()
            return self._jobs.get(job_id)

    def update_job(self, job_id: str, *, owner: str | None = None, **changes: object) -> JobRecord | None:
        with self._lock:
            self._check_open()
            job = self._jobs.get(job_id)
            if job is None or (owner is not None and not rules.holds(job, owner)):
                return None
            job = self._jobs[job_id] = rules.changed(job, changes)
            return job

    def finish_job(self, job_id: str) -> None:
        with self._lock:
            self._check_open()
            self._jobs.pop(job_id, None)

    def jobs(self) -> list[JobRecord]:
        with self._lock:
            self._check_open()
            return sorted(self._jobs.values(), key=lambda job: job.seq)

    def thread_head(self, team: str, channel: str, thread_ts: str) -> str | None:
        with self._lock:
            self._check_open()
            mine = [j for j in self._jobs.values()
                    if j.team == team and j.channel == channel and j.thread_ts == thread_ts]
            return min(mine, key=rules.conversation_order).id if mine else None

    # -- leases ---------------------------------------------------------------------------------------------
    def acquire(self, job_id: str, owner: str, lease: float, *, force: bool = False) -> JobRecord | None:
        with self._lock:
            now = self._now()
            job = self._jobs.get(job_id)
            taken = None if job is None else rules.take(job, owner, now, lease, force=force)
            if taken is not None:
                self._jobs[job_id] = taken
            return taken

    def renew(self, owner: str, job_ids: Sequence[str], lease: float) -> list[str]:
        with self._lock:
            now = self._now()
            lost = []
            for job_id in job_ids:
                job = self._jobs.get(job_id)
                if job is not None and rules.holds(job, owner):
                    self._jobs[job_id] = rules.renewed(job, now, lease)
                else:
                    lost.append(job_id)
            return lost

    def release(self, job_id: str, owner: str) -> None:
        with self._lock:
            self._check_open()
            job = self._jobs.get(job_id)
            if job is not None and rules.holds(job, owner):
                self._jobs[job_id] = rules.released(job)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def ping(self) -> None:
        with self._lock:
            self._check_open()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._jobs.clear()
            self._claims = Expiring(0)
            self._values = Expiring(0)
            self._counters = Expiring(0)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("memory store: closed")

    def _now(self) -> float:
        """The time, once the store is known to be open (call with the lock held)."""
        self._check_open()
        return self._clock()
