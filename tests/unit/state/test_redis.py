"""What only the Redis store promises: several processes share it, every key is namespaced and expires."""

from __future__ import annotations

import uuid

import redis

from bot.state.redis import RedisStore
from tests.redis_server import RedisServer
from tests.unit.state.support import Clock, job


def stores(server: RedisServer, clock: Clock, n: int = 2) -> list[RedisStore]:
    prefix = f"test-{uuid.uuid4().hex[:8]}:"
    return [RedisStore(server.url, prefix=prefix, clock=clock, location="test") for _ in range(n)]


def test_two_processes_share_claims_jobs_and_leases(redis_server: RedisServer) -> None:
    clock = Clock()
    a, b = stores(redis_server, clock)
    assert a.claim("T1:event:Ev1", 60) and not b.claim("T1:event:Ev1", 60)
    added = a.add_job(job(1), ["T1:message:C1:1"], 60)
    assert not b.add_job(job(1), ["T1:message:C1:1"], 60).added  # the other copy, in the other process
    assert [j.id for j in b.jobs()] == [job(1).id]
    assert added.job is not None and a.acquire(added.job.id, "process-a", 15) is not None
    assert b.acquire(added.job.id, "process-b", 15) is None  # held by a live process
    clock.advance(16)
    assert b.acquire(added.job.id, "process-b", 15) is not None  # its lease expired: taken over
    assert a.renew("process-a", [added.job.id], 15) == [added.job.id]  # a learns it lost the job
    b.put("T1:thread:C1:1", "1", 60)
    assert a.get("T1:thread:C1:1") == "1"
    for store in (a, b):
        store.close()


def test_every_key_is_namespaced_and_expires(redis_server: RedisServer) -> None:
    clock = Clock()
    (store,) = stores(redis_server, clock, 1)
    store.claim("T1:event:Ev1", 60)
    store.put("T1:thread:C1:1", "1", 60)
    store.bump("T1:rate:U1", 60)
    added = store.add_job(job(1), ["T1:message:C1:1"], 60)
    assert added.job is not None
    store.acquire(added.job.id, "p", 15)
    store.update_job(added.job.id, parts=("1.1",))
    raw = redis.Redis.from_url(redis_server.url)
    try:
        keys = [k.decode() for k in raw.scan_iter("*")]
        mine = [k for k in keys if k.startswith(store._prefix)]
        assert len(mine) >= 7
        assert all(raw.pttl(k) > 0 for k in mine), {k: raw.pttl(k) for k in mine}  # nothing lives for ever
        job_json = raw.hget(f"{store._prefix}job:{added.job.id}", "json")
        assert job_json is not None and b"text" not in job_json  # ids and counters, never message text
    finally:
        raw.close()
        store.close()
