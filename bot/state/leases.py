"""Keeping the leases of the jobs this process runs: renewed every third of the lease, in one thread.

A process that dies stops renewing, so its jobs' leases expire and another process (or the next start) takes
them over. A lease this process finds it no longer holds (another process took the job over after a long
pause here, e.g. a stalled host) is reported through the job's `on_lost` callback: the job must stop writing.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from bot.state.store import Store

logger = logging.getLogger(__name__)


class LeaseKeeper:
    def __init__(self, store: Store, owner: str, lease: float) -> None:
        self._store = store
        self.owner = owner
        self.lease = lease
        self._lock = threading.Lock()
        self._jobs: dict[str, Callable[[], None]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="leases", daemon=True)

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def add(self, job_id: str, on_lost: Callable[[], None]) -> None:
        with self._lock:
            self._jobs[job_id] = on_lost

    def remove(self, job_id: str) -> None:
        with self._lock:
            self._jobs.pop(job_id, None)

    def holds(self, job_id: str) -> bool:
        with self._lock:
            return job_id in self._jobs

    def release_all(self) -> int:
        """Give back every job still held (shutdown: the other processes take them over at once)."""
        with self._lock:
            ids = list(self._jobs)
            self._jobs.clear()
        for job_id in ids:
            try:
                self._store.release(job_id, self.owner)
            except Exception:  # the lease then simply expires
                logger.warning("could not release job %s", job_id, exc_info=True)
        return len(ids)

    def renew_now(self) -> None:
        with self._lock:
            ids = list(self._jobs)
        if not ids:
            return
        lost = self._store.renew(self.owner, ids, self.lease)
        for job_id in lost:
            with self._lock:
                callback = self._jobs.pop(job_id, None)
            if callback is not None:
                logger.warning("job %s was taken over by another process; stopping it here", job_id)
                callback()

    def _run(self) -> None:
        while not self._stop.wait(self.lease / 3):
            try:
                self.renew_now()
            except Exception:  # the store is unreachable for now: try again at the next tick
                logger.warning("renewing job leases failed; retrying", exc_info=True)

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
