"""The job rules every backend applies, so that all backends decide alike (pure: records in, records out).

A backend only stores and keeps its calls atomic; what an update may change, who may take a job, and what
taking, renewing or giving back a job does to its record are decided here.

* A process *holds* a job while it is the job's recorded `owner`. An expired lease that nobody took over is
  still held: the holder was only slow, and no other process has started on the job.
* A job may be *taken* by `owner` if nobody holds it, `owner` already does, its lease expired, or `force`.
  Taking sets `state` to running and the lease to now + `lease`; it counts an attempt only when the owner
  changes (taking a released job counts, re-taking one's own job does not).
* `id` and `seq` never change once a job is stored; every other field may, with a value of its type.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields

from bot.state.store import PENDING, RUNNING, JobRecord

FIXED = frozenset({"id", "seq"})  # set when the job is added, the same until it is finished
_TYPES = {f.name: f.type for f in fields(JobRecord)}  # "str", "bool", "float", "int", "tuple[str, ...]"


def conversation_order(job: JobRecord) -> tuple[int, int, int]:
    """Where a job stands in its thread: the Slack ts of the message it answers (seconds, microseconds), then its
    arrival in the journal."""
    seconds, _, fraction = job.ts.partition(".")
    return int(seconds or 0), int(fraction.ljust(6, "0")[:6] or 0), job.seq


def holds(job: JobRecord, owner: str) -> bool:
    """Whether `owner` is the process recorded as answering `job` (nobody holds a job with no owner)."""
    return bool(owner) and job.owner == owner


def take(job: JobRecord, owner: str, now: float, lease: float, *, force: bool = False) -> JobRecord | None:
    """`job` taken by `owner` until now + `lease`, or None if another process holds an unexpired lease."""
    if not owner:
        raise ValueError("a lease needs an owner")
    if job.owner and job.owner != owner and job.lease_until > now and not force:
        return None
    attempts = job.attempts + (job.owner != owner)
    return job.with_changes(state=RUNNING, owner=owner, lease_until=now + lease, attempts=attempts)


def renewed(job: JobRecord, now: float, lease: float) -> JobRecord:
    return job.with_changes(lease_until=now + lease)


def released(job: JobRecord) -> JobRecord:
    """`job` given back: pending, nobody's, resumable at once by any process."""
    return job.with_changes(state=PENDING, owner="", lease_until=0.0)


def changed(job: JobRecord, changes: Mapping[str, object]) -> JobRecord:
    """`job` with `changes`; ValueError for an unknown field, for `id` or `seq`, or for a value of another type
    (an int is taken for a float field, a list of str for `parts`)."""
    values: dict[str, object] = {}
    for name, value in changes.items():
        kind = _TYPES.get(name)
        if kind is None:
            raise ValueError(f"a job has no field {name!r}")
        if name in FIXED:
            raise ValueError(f"the {name} of a stored job cannot change")
        values[name] = _checked(name, str(kind), value)
    return job.with_changes(**values)


def _checked(name: str, kind: str, value: object) -> object:
    if kind == "bool" and isinstance(value, bool):
        return value
    if kind == "int" and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind == "float" and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind == "str" and isinstance(value, str):
        return value
    if kind.startswith("tuple") and isinstance(value, tuple | list) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise ValueError(f"{name} must be {kind}, not {type(value).__name__}")
