"""From a routed Slack message to an answer job: accept → dedupe → journal → pool; and resume at startup.

`accept` runs in the Socket Mode listener *before* the event is acknowledged (`process_before_response`), so
"accepted" means "written to the journal": if the store cannot be written, the event is not acknowledged and
Slack delivers it again. It does nothing slow: no Slack call, no model call. It claims the message (exactly
once, whichever copy of it arrives), applies the access rules that need no Slack call, opens the reply (the
writer posts the placeholder on its own threads) and hands the job to the answer pool. What needs Slack first
(is this thread the bot's? whose user is this?) is decided by the job's worker.

`resume` runs once at startup, before any event is taken: every job the journal still holds (with a shared
store: every job no live process holds) is answered again from where its reply stands in Slack
(`bot.responder`), or closed with a note if it is too old. With a shared store (Redis) a sweeper does the same
every few seconds, so that the jobs of a process that died (its leases expire) or stopped (it released them)
are taken over by the others.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from bot.conversation.access import Access
from bot.conversation.pool import AnswerPool, Job
from bot.responder import Responder
from bot.state import keys
from bot.state.leases import LeaseKeeper
from bot.state.store import JobRecord, Store, StoreError

logger = logging.getLogger(__name__)

BUSY_NOTE = ":hourglass: I'm answering a lot of questions right now. Please try again in a minute."


def job_record(request: Any, now: float, owner: str, lease: float) -> JobRecord:
    """The journal entry of a routed request, held by the process that accepted it: ids and flags only, never
    its text."""
    return JobRecord(id=keys.job_id(request.team_id, request.channel, request.ts), team=request.team_id,
                     channel=request.channel, thread_ts=request.thread_ts, ts=request.ts, user=request.user,
                     trigger=request.trigger, channel_type=request.channel_type, user_team=request.user_team,
                     in_thread=request.in_thread, qualify=request.needs_qualification,
                     ext_shared=request.ext_shared, created=now, owner=owner, lease_until=now + lease, attempts=1)


class Service:
    """Accepts `Request`s (see `handlers.routing`) and makes sure each message is answered exactly once."""

    def __init__(self, *, store: Store, responder: Responder, access: Access, leases: LeaseKeeper, workers: int,
                 max_queued: int) -> None:
        self._store = store
        self._responder = responder
        self._access = access
        self._leases = leases
        self.pool = AnswerPool(responder.answer, workers=workers, max_queued=max_queued)
        self._stop = threading.Event()
        self._sweeper: threading.Thread | None = None

    def accept(self, request: Any, *, event_id: str | None) -> str:
        """Handle one routed request; returns what was decided (for logs and tests). Raises if the journal
        cannot be written (the event is then not acknowledged)."""
        claims = [keys.message(request.team_id, request.channel, request.ts)]
        if event_id:
            claims.insert(0, keys.event(request.team_id, event_id))
        record = job_record(request, time.time(), self._leases.owner, self._leases.lease)
        result = self._store.add_job(record, claims, keys.MESSAGE_TTL)
        if not result.added:
            return "duplicate_event" if event_id and result.taken == claims[0] else "already_answered"
        assert result.job is not None
        job = Job(key=(request.team_id, request.channel, request.thread_ts), record=result.job, request=request)
        self._leases.add(job.record.id, job.lost.set)  # held while it waits for a worker too
        deferred = request.needs_qualification or self._access.needs_lookup(request)
        if not deferred:
            verdict = self._responder.admit(job)
            if verdict is not None:
                return verdict
        job.deferred = deferred
        if request.trigger in ("mention", "dm") and not request.in_thread:
            self._responder.registry.set(request.team_id, request.channel, request.thread_ts, True)
        return self._submit(job)

    def _submit(self, job: Job) -> str:
        claimed = not self.pool.busy(job.key)
        queued = self.pool.claim() if claimed else True
        if not job.deferred and job.handle is None:
            job.queued = queued
            self._responder.open(job)
        if not self.pool.submit(job, claimed=claimed):
            self._responder.reject(job, BUSY_NOTE)
            return "busy"
        return "deferred" if job.deferred else "accepted"

    def resume(self) -> int:
        """Put the jobs the journal holds that no live process holds back into the pool (oldest first): all of
        them for a store this process owns alone; with a shared store, those released or whose lease expired.
        Returns how many were taken."""
        shared = self._store.info.shared
        now = time.time()
        taken = 0
        for record in self._store.jobs():
            if self._leases.holds(record.id):
                continue  # already ours (accepted or resumed by this process)
            if shared and record.owner and record.lease_until > now:
                continue  # a live process is on it
            held = self._store.acquire(record.id, self._leases.owner, self._leases.lease, force=not shared)
            if held is None:
                continue  # another process took it first
            job = Job(key=(held.team, held.channel, held.thread_ts), record=held, resumed=True)
            self._leases.add(held.id, job.lost.set)
            claimed = not self.pool.busy(job.key)
            if claimed:
                self.pool.claim()
            if not self.pool.submit(job, claimed=claimed, force=True):
                logger.error("could not queue job %s for resumption", held.id)
                self._leases.remove(held.id)
                self._store.release(held.id, self._leases.owner)
                continue
            taken += 1
        if taken:
            logger.info("resuming %d answer(s) from the journal", taken)
        return taken

    def start_sweeping(self, interval: float) -> None:
        """With a shared store: take over, every `interval` seconds, what no live process holds any more."""
        if not self._store.info.shared:
            return

        def sweep() -> None:
            failing = False
            while not self._stop.wait(interval):
                try:
                    self.resume()
                    if failing:
                        logger.warning("the state store is reachable again")
                    failing = False
                except StoreError as error:
                    if not failing:
                        logger.error("the state store is unreachable (%s); new events are not acknowledged "
                                     "until it is back, answers in progress go on", error)
                    failing = True
                except Exception:
                    logger.exception("sweeping the journal failed; trying again")

        self._sweeper = threading.Thread(target=sweep, name="journal-sweeper", daemon=True)
        self._sweeper.start()

    def stop_sweeping(self) -> None:
        self._stop.set()
        if self._sweeper is not None:
            self._sweeper.join(timeout=5)
