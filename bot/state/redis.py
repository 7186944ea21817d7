"""The Redis store (`STATE_URL=redis://…` or `rediss://…`): one state for several bot processes on several hosts.

Guarantees (redis-py on the wire; nothing hand-written):

* **shared**: every process pointing at the same Redis and `KEY_PREFIX` sees the same claims, values, jobs and
  leases; `info.shared` is True, so a process never adopts another's job before its lease expires;
* **atomic**: a claim is one Lua script (set only if absent or expired); `add_job` is one Lua script (check
  every claim and the id, set the claims, draw the next arrival number, store the job); changes to a job
  (`update_job`, `acquire`, `renew`, `release`) are optimistic transactions (WATCH / MULTI / EXEC, retried when
  another process changed the job meanwhile) that apply the same rules as every backend (`bot.state.rules`);
* **bounded**: every key has an expiry — claims, values and counters their `ttl`, a job and the indexes of
  jobs `JOB_TTL` from its last change;
* **namespaced**: every key starts with `prefix` (`KEY_PREFIX`, default `slackbot:`); the keys the bot chooses
  start with the workspace id (`bot.state.keys`);
* **time**: expiry is decided against the store's clock (`time.time` by default, a test's clock in tests) and
  also given to Redis as a TTL, so that Redis drops what expired by itself;
* a Redis that cannot be reached or refuses a command is a StoreError naming the host (never the password).
"""

from __future__ import annotations

import contextlib
import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, fields
from typing import Any, TypeVar

import redis
from redis.exceptions import RedisError, WatchError

from bot.state import rules
from bot.state.store import Accepted, JobRecord, StoreError, StoreInfo

JOB_TTL = 24 * 3600.0  # a job not changed for a day is dropped (answers older than RESUME_MAX_AGE are closed)
TXN_ATTEMPTS = 50
T = TypeVar("T")

_FIELDS = tuple(f.name for f in fields(JobRecord) if f.name != "seq")

# KEYS: the claims; ARGV: now, expires (both seconds), ttl in ms. A claim's value is its expiry.
_CLAIM = """
for i, key in ipairs(KEYS) do
  local expires = redis.call('GET', key)
  if expires and tonumber(expires) > tonumber(ARGV[1]) then return 0 end
end
for i, key in ipairs(KEYS) do redis.call('SET', key, ARGV[2], 'PX', ARGV[3]) end
return 1
"""

# KEYS: job hash, jobs index, thread index, seq counter, claims...; ARGV: now, claim expiry, claim ttl ms,
# job id, job json, job ttl ms, the job's place in its thread (its message ts in microseconds). Returns
# {0, taken key} or {1, seq}.
_ADD_JOB = """
local now = tonumber(ARGV[1])
for i = 5, #KEYS do
  local expires = redis.call('GET', KEYS[i])
  if expires and tonumber(expires) > now then return {0, KEYS[i]} end
end
if redis.call('EXISTS', KEYS[1]) == 1 then return {0, ARGV[4]} end
for i = 5, #KEYS do redis.call('SET', KEYS[i], ARGV[2], 'PX', ARGV[3]) end
local seq = redis.call('INCR', KEYS[4])
redis.call('HSET', KEYS[1], 'json', ARGV[5], 'seq', seq)
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[2], seq, ARGV[4])
redis.call('ZADD', KEYS[3], ARGV[7], ARGV[4])
for i = 2, 4 do redis.call('PEXPIRE', KEYS[i], ARGV[6]) end
return {1, seq}
"""

# KEYS: the value hash; ARGV: now. A value is a hash {v, e}.
_GET = """
local item = redis.call('HMGET', KEYS[1], 'v', 'e')
if item[1] and tonumber(item[2]) > tonumber(ARGV[1]) then return item[1] end
return false
"""

# KEYS: the counter hash; ARGV: now, expires, ttl ms.
_BUMP = """
local item = redis.call('HMGET', KEYS[1], 'n', 'e')
if item[1] and tonumber(item[2]) > tonumber(ARGV[1]) then
  return redis.call('HINCRBY', KEYS[1], 'n', 1)
end
redis.call('HSET', KEYS[1], 'n', 1, 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


def _ms(seconds: float) -> int:
    return max(1, math.ceil(seconds * 1000))


class RedisStore:
    """The `Store` in Redis, shared by every bot process that uses the same server and prefix."""

    def __init__(self, url: str, *, prefix: str = "slackbot:", clock: Callable[[], float] = time.time,
                 location: str = "", client: redis.Redis | None = None) -> None:
        """`location` is the URL without its password, for messages. `client` lets a test share a connection
        pool; production passes nothing."""
        self.info = StoreInfo("redis", durable=True, shared=True, location=location or "redis")
        self._prefix = prefix
        self._clock = clock
        self._redis: redis.Redis = client or redis.Redis.from_url(
            url, socket_timeout=5.0, socket_connect_timeout=5.0, health_check_interval=15, retry_on_timeout=False)
        self._claim = self._redis.register_script(_CLAIM)
        self._add = self._redis.register_script(_ADD_JOB)
        self._get = self._redis.register_script(_GET)
        self._bump = self._redis.register_script(_BUMP)
        self._closed = False

    @property
    def client(self) -> redis.Redis:
        """The redis-py client (the shared Slack budgets use the same connections)."""
        return self._redis

    # -- keys ---------------------------------------------------------------------------------------------
    def _k(self, kind: str, key: str) -> str:
        return f"{self._prefix}{kind}:{key}"

    def _job_key(self, job_id: str) -> str:
        return self._k("job", job_id)

    def _jobs_key(self) -> str:
        return f"{self._prefix}jobs"

    def _thread_key(self, team: str, channel: str, thread_ts: str) -> str:
        return self._k("jobs-of-thread", f"{team}:{channel}:{thread_ts}")

    def _call(self, what: str, fn: Callable[[], T]) -> T:
        if self._closed:
            raise StoreError(f"redis at {self.info.location}: the store is closed")
        try:
            return fn()
        except RedisError as e:
            raise StoreError(f"redis at {self.info.location}: {what} failed ({type(e).__name__}: {e})") from e

    # -- claims ------------------------------------------------------------------------------------------
    def claim(self, key: str, ttl: float) -> bool:
        now = self._clock()
        return bool(self._call("claim", lambda: self._claim(keys=[self._k("claim", key)],
                                                            args=[repr(now), repr(now + ttl), _ms(ttl)])))

    def unclaim(self, key: str) -> None:
        self._call("unclaim", lambda: self._redis.delete(self._k("claim", key)))

    # -- small values --------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        value = self._call("get", lambda: self._get(keys=[self._k("value", key)], args=[repr(self._clock())]))
        return None if value is None else _text(value)

    def put(self, key: str, value: str, ttl: float) -> None:
        name = self._k("value", key)

        def put() -> None:
            pipe = self._redis.pipeline(transaction=True)
            pipe.hset(name, mapping={"v": value, "e": repr(self._clock() + ttl)})
            pipe.pexpire(name, _ms(ttl))
            pipe.execute()

        self._call("put", put)

    def bump(self, key: str, ttl: float) -> int:
        now = self._clock()
        return int(self._call("bump", lambda: self._bump(keys=[self._k("counter", key)],
                                                         args=[repr(now), repr(now + ttl), _ms(ttl)])))

    # -- the journal ------------------------------------------------------------------------------------
    def add_job(self, job: JobRecord, claims: Sequence[str], ttl: float) -> Accepted:
        now = self._clock()
        keys = [self._job_key(job.id), self._jobs_key(), self._thread_key(job.team, job.channel, job.thread_ts),
                f"{self._prefix}seq", *(self._k("claim", c) for c in claims)]
        result = self._call("add_job", lambda: self._add(
            keys=keys, args=[repr(now), repr(now + ttl), _ms(ttl), job.id, _dump(job), _ms(JOB_TTL),
                             _thread_score(job)]))
        added, detail = int(result[0]), result[1]
        if not added:
            taken = _text(detail)
            prefix = self._k("claim", "")
            return Accepted(added=False, taken=taken.removeprefix(prefix) if taken.startswith(prefix) else taken)
        return Accepted(added=True, job=job.with_changes(seq=int(detail)))

    def get_job(self, job_id: str) -> JobRecord | None:
        return self._call("get_job", lambda: _load(self._redis.hgetall(self._job_key(job_id))))

    def _change(self, job_id: str, what: str, decide: Callable[[JobRecord], JobRecord | None]) -> JobRecord | None:
        """Read the job, let `decide` compute its new record (None: leave it), write it back atomically;
        retried if another process changed the job in between."""
        name = self._job_key(job_id)

        def change() -> JobRecord | None:
            for _ in range(TXN_ATTEMPTS):
                with self._redis.pipeline(transaction=True) as pipe:
                    try:
                        pipe.watch(name)  # type: ignore[no-untyped-call]  # redis-py leaves it untyped
                        job = _load(pipe.hgetall(name))
                        new = None if job is None else decide(job)
                        if new is None or new == job:
                            pipe.unwatch()
                            return new
                        pipe.multi()
                        pipe.hset(name, "json", _dump(new))
                        pipe.pexpire(name, _ms(JOB_TTL))
                        pipe.execute()
                        return new
                    except WatchError:
                        continue
            raise StoreError(f"redis at {self.info.location}: {what} of job {job_id} kept conflicting")

        return self._call(what, change)

    def update_job(self, job_id: str, *, owner: str | None = None, **changes: object) -> JobRecord | None:
        def decide(job: JobRecord) -> JobRecord | None:
            if owner is not None and not rules.holds(job, owner):
                return None
            return rules.changed(job, changes)

        refused: list[JobRecord] = []

        def guarded(job: JobRecord) -> JobRecord | None:
            new = decide(job)
            if new is None:
                refused.append(job)
            return new

        result = self._change(job_id, "update_job", guarded)
        return None if refused else result

    def finish_job(self, job_id: str) -> None:
        def finish() -> None:
            job = _load(self._redis.hgetall(self._job_key(job_id)))
            pipe = self._redis.pipeline(transaction=True)
            pipe.delete(self._job_key(job_id))
            pipe.zrem(self._jobs_key(), job_id)
            if job is not None:
                pipe.zrem(self._thread_key(job.team, job.channel, job.thread_ts), job_id)
            pipe.execute()

        self._call("finish_job", finish)

    def jobs(self) -> list[JobRecord]:
        def read() -> list[JobRecord]:
            ids = [_text(i) for i in self._redis.zrange(self._jobs_key(), 0, -1)]
            pipe = self._redis.pipeline(transaction=False)
            for job_id in ids:
                pipe.hgetall(self._job_key(job_id))
            found: list[JobRecord] = []
            gone: list[str] = []
            for job_id, raw in zip(ids, pipe.execute(), strict=True):
                job = _load(raw)
                if job is None:
                    gone.append(job_id)  # expired: drop it from the index too
                else:
                    found.append(job)
            if gone:
                self._redis.zrem(self._jobs_key(), *gone)
            return sorted(found, key=lambda job: job.seq)

        return self._call("jobs", read)

    def thread_head(self, team: str, channel: str, thread_ts: str) -> str | None:
        name = self._thread_key(team, channel, thread_ts)

        def head() -> str | None:
            while True:
                first = self._redis.zrange(name, 0, 4)  # equal ts (a message and its edit): arrival decides
                if not first:
                    return None
                jobs = [(job_id, _load(self._redis.hgetall(self._job_key(job_id))))
                        for job_id in (_text(i) for i in first)]
                gone = [job_id for job_id, job in jobs if job is None]
                if gone:
                    self._redis.zrem(name, *gone)  # expired jobs: not the head
                    continue
                return min((job for _, job in jobs if job is not None), key=rules.conversation_order).id

        return self._call("thread_head", head)

    # -- leases ---------------------------------------------------------------------------------------------
    def acquire(self, job_id: str, owner: str, lease: float, *, force: bool = False) -> JobRecord | None:
        now = self._clock()
        return self._change(job_id, "acquire", lambda job: rules.take(job, owner, now, lease, force=force))

    def renew(self, owner: str, job_ids: Sequence[str], lease: float) -> list[str]:
        now = self._clock()
        lost = []
        for job_id in job_ids:
            held = self._change(job_id, "renew",
                                lambda job: rules.renewed(job, now, lease) if rules.holds(job, owner) else None)
            if held is None:
                lost.append(job_id)
        return lost

    def release(self, job_id: str, owner: str) -> None:
        self._change(job_id, "release", lambda job: rules.released(job) if rules.holds(job, owner) else None)

    # -- lifecycle -----------------------------------------------------------------------------------------
    def ping(self) -> None:
        self._call("ping", self._redis.ping)

    def close(self) -> None:
        self._closed = True
        with contextlib.suppress(RedisError):
            self._redis.close()


def _thread_score(job: JobRecord) -> str:
    """The job's score in its thread's index: its message's ts in microseconds (an integer below 2**53, so exact
    in Redis's double scores)."""
    seconds, micros, _seq = rules.conversation_order(job)
    return str(seconds * 1_000_000 + micros)


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _dump(job: JobRecord) -> str:
    values = asdict(job)
    values.pop("seq")
    values["parts"] = list(job.parts)
    return json.dumps(values, separators=(",", ":"))


def _load(raw: dict[Any, Any]) -> JobRecord | None:
    if not raw:
        return None
    fields_ = {_text(k): _text(v) for k, v in raw.items()}
    if "json" not in fields_:
        return None
    values = json.loads(fields_["json"])
    values["parts"] = tuple(values.get("parts") or ())
    values["seq"] = int(fields_.get("seq", "0"))
    return JobRecord(**{name: values[name] for name in (*_FIELDS, "seq")})


# KEYS: the bucket hash, its pause key; ARGV: rate, burst, need. Redis's own clock, the same for every process.
# Returns the seconds to wait as a string ("0": a token was taken); Lua numbers would come back truncated.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local paused = redis.call('PTTL', KEYS[2])
if paused > 0 then return tostring(paused / 1000) end
local rate, burst, need = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = '0'
if tokens >= need then tokens = tokens - 1 else wait = tostring((need - tokens) / rate) end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
return wait
"""

# KEYS: the bucket hash; ARGV: rate, burst.
_GIVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local rate, burst = tonumber(ARGV[1]), tonumber(ARGV[2])
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1]) or burst
local at = tonumber(b[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate + 1)
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst / rate * 1000) + 60000)
return 1
"""

# KEYS: the pause key; ARGV: milliseconds. Only ever lengthens a pause.
_PAUSE = """
if redis.call('PTTL', KEYS[1]) < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], '1', 'PX', ARGV[1]) end
return 1
"""


class RedisBudget:
    """`bot.slack.budget.Budget` in Redis: one workspace's Slack budgets shared by every process (one Lua script
    per call, on Redis's clock). `prefix` names the workspace (e.g. `slackbot:T0123:budget:`)."""

    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self._prefix = prefix
        self._take = client.register_script(_TAKE)
        self._give = client.register_script(_GIVE)
        self._pause = client.register_script(_PAUSE)

    def take(self, key: str, rate: float, burst: float, need: float = 1.0) -> float:
        try:
            wait = self._take(keys=[self._prefix + key, self._prefix + key + ":paused"],
                              args=[repr(rate), repr(burst), repr(need)])
        except RedisError:
            return 0.0  # Redis is away: this process's own buckets (the scheduler's) still hold it back
        return float(_text(wait))

    def give(self, key: str, rate: float, burst: float) -> None:
        with contextlib.suppress(RedisError):
            self._give(keys=[self._prefix + key], args=[repr(rate), repr(burst)])

    def pause(self, key: str, seconds: float) -> None:
        with contextlib.suppress(RedisError):
            self._pause(keys=[self._prefix + key + ":paused"], args=[_ms(seconds)])
