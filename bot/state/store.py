"""The state store: what the bot must remember across events, restarts and processes.

One interface, one module per backend (`memory.py`, `sqlite.py`, later `redis.py`), one contract test suite
that every backend passes (`tests/unit/state/test_contract.py`). Nothing stored holds message text: a job
records ids, timestamps and counters; history is always re-read from Slack.

What lives here:

* **claims** — "set once, with an expiry": event ids and (channel, message ts) already accepted, so that each
  message is answered exactly once, whichever copy of it arrives, and after a restart too;
* **the journal** — one `JobRecord` per accepted message until its answer is complete: written *before* the
  event is acknowledged, read at startup to resume what a crash or restart interrupted;
* **leases** — which process runs which job, until when: a process renews the leases of its jobs; a job whose
  lease expired belongs to nobody and may be taken over;
* **small values with an expiry** (`get`/`put`) — the thread registry, the model capability cache, "this
  person was already told once".

Keys are chosen by the callers (`bot.state.keys`), always starting with the workspace id; a backend may add its
own prefix. Every claim and value has an expiry, so the store stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

PENDING = "pending"  # accepted, not started (or released by a process that stopped)
RUNNING = "running"  # a process is answering it (see `owner` and `lease_until`)


@dataclass(frozen=True)
class JobRecord:
    """One accepted message and how far its answer got. Ids and counters only, never text."""

    id: str  # the answer id, unique in the store (it includes the workspace)
    team: str
    channel: str
    thread_ts: str  # the thread the answer goes into
    ts: str  # the message being answered
    user: str
    trigger: str  # "mention" | "dm" | "follow_up"
    channel_type: str  # "channel" | "group" | "im" | "mpim"
    user_team: str = ""
    in_thread: bool = False  # the message is a reply inside an existing thread
    qualify: bool = False  # a follow-up: answer only if the thread was started for the bot
    ext_shared: bool = False  # the channel is shared with another organisation
    created: float = 0.0  # wall-clock seconds when it was accepted
    seq: int = 0  # arrival order, assigned by the store when the job is added
    parts: tuple[str, ...] = ()  # ts of the answer's messages in Slack, in order (parts[0] is the placeholder)
    state: str = PENDING
    attempts: int = 0  # how often a process started answering it
    owner: str = ""  # the process holding the lease ("" = nobody)
    lease_until: float = 0.0  # wall-clock seconds

    def with_changes(self, **changes: object) -> JobRecord:
        return replace(self, **changes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class Accepted:
    """What `Store.add_job` decided: `added`, or the first claim that already existed (or the job's id, if a job
    with that id is stored already)."""

    added: bool
    taken: str | None = None
    job: JobRecord | None = None  # the stored record (with its `seq`) when added


@dataclass
class StoreInfo:
    """How a backend behaves, for the composition root and the logs."""

    name: str  # "memory" | "sqlite" | "redis"
    durable: bool  # survives the process (False for memory://)
    shared: bool  # several processes may use it at once (Redis); False = this process owns it alone
    location: str = ""  # a file path or host, never a password
    extra: dict[str, str] = field(default_factory=dict)


class StoreError(Exception):
    """The store cannot be reached or refused an operation (the caller decides: fail the event, retry)."""


class Store(Protocol):
    """The state store. Thread-safe. Times are wall-clock seconds (`time.time()`), injected for tests.

    A claim, value or lease set at `now` with `ttl` is live while the time is before `now + ttl`. A process
    *holds* a job while it is the job's `owner`: an expired lease that nobody took over is still held."""

    info: StoreInfo

    # -- claims ------------------------------------------------------------------------------------------
    def claim(self, key: str, ttl: float) -> bool:
        """Set `key` if it is not set (or expired); True if this call set it."""
        ...

    def unclaim(self, key: str) -> None:
        """Forget a claim (a message that turned out not to be for the bot)."""
        ...

    # -- small values --------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        ...

    def put(self, key: str, value: str, ttl: float) -> None:
        ...

    def bump(self, key: str, ttl: float) -> int:
        """Add one to the counter at `key` and return it; a counter that did not exist (or expired) starts at
        one and expires `ttl` seconds later (a fixed window: the per-person question rate)."""
        ...

    # -- the journal ------------------------------------------------------------------------------------
    def add_job(self, job: JobRecord, claims: Sequence[str], ttl: float) -> Accepted:
        """Atomically: if none of `claims` is set, set them all (expiring after `ttl`) and store `job` with the
        next arrival number; else change nothing and name the first claim that was already set. A job whose id
        is stored already is not replaced: nothing changes and `taken` is its id."""
        ...

    def get_job(self, job_id: str) -> JobRecord | None:
        ...

    def update_job(self, job_id: str, *, owner: str | None = None, **changes: object) -> JobRecord | None:
        """Change fields of a stored job and return it (None if it no longer exists). With `owner`, only if that
        process still holds the job's lease (None is returned otherwise: the job was taken over). `id` and `seq`
        cannot change; an unknown field or a value of the wrong type is a ValueError and changes nothing."""
        ...

    def finish_job(self, job_id: str) -> None:
        """The answer is complete (or was given up): remove the job. Its claims stay until they expire."""
        ...

    def jobs(self) -> list[JobRecord]:
        """Every stored job, in arrival order."""
        ...

    def thread_head(self, team: str, channel: str, thread_ts: str) -> str | None:
        """The id of the stored job of that thread that answers the earliest message (by Slack ts, then by arrival):
        the one to answer next there. None if the thread has no job."""
        ...

    # -- leases ---------------------------------------------------------------------------------------------
    def acquire(self, job_id: str, owner: str, lease: float, *, force: bool = False) -> JobRecord | None:
        """Take the job for `owner` until now + `lease` if nobody holds it, `owner` already does, its lease expired,
        or `force` (a process that owns the store alone adopting a dead predecessor's jobs). Sets `state` to
        running and counts an attempt when the owner changes. Returns the job, or None if not taken."""
        ...

    def renew(self, owner: str, job_ids: Sequence[str], lease: float) -> list[str]:
        """Extend the leases `owner` still holds; return the ids it no longer holds (taken over, or finished)."""
        ...

    def release(self, job_id: str, owner: str) -> None:
        """Give a job back (state pending, no owner) so that another process, or the next start, resumes it.
        Only its holder can: for any other `owner` nothing changes."""
        ...

    # -- lifecycle -----------------------------------------------------------------------------------------
    def ping(self) -> None:
        """Raise StoreError if the store cannot be used now."""
        ...

    def close(self) -> None:
        ...
