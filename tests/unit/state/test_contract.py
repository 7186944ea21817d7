"""The Store contract: every backend passes every test here.

A backend is one entry of BACKENDS: a function from (a temporary directory, a clock) to an open store. The
`make_store` fixture is parametrized over them, so a new backend (Redis) is one more entry. Every expiry is
driven by the injected `Clock`; nothing here sleeps.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.state.memory import MemoryStore
from bot.state.redis import RedisStore
from bot.state.sqlite import SqliteStore
from bot.state.store import PENDING, RUNNING, Accepted, JobRecord, Store, StoreError
from tests.unit.state.support import Clock, assert_typed, job, race

Factory = Callable[[Clock], Store]

def _redis(dir_: Path, clock: Clock, request: pytest.FixtureRequest) -> Store:
    """A RedisStore on the session's real Redis server, under a prefix of its own (tests never share keys)."""
    server = request.getfixturevalue("redis_server")
    return RedisStore(server.url, prefix=f"test-{uuid.uuid4().hex[:8]}:", clock=clock, location="test")


# name -> (open a store in this directory with this clock, expected (durable, shared))
BACKENDS: dict[str, tuple[Callable[[Path, Clock, pytest.FixtureRequest], Store], tuple[bool, bool]]] = {
    "memory": (lambda _dir, clock, _request: MemoryStore(clock=clock), (False, False)),
    "sqlite": (lambda dir_, clock, _request: SqliteStore(str(dir_ / "state.db"), clock=clock), (True, False)),
    "redis": (_redis, (True, True)),
}
TTL = 60.0
LEASE = 30.0
ROUNDS = 200  # races per concurrency test: one race of 8 threads rarely interleaves, hundreds do


@pytest.fixture(params=sorted(BACKENDS))
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Factory]:
    """A factory of stores of one backend, each in a directory of its own; all closed after the test."""
    opened: list[Store] = []

    def factory(clock: Clock) -> Store:
        directory = tmp_path / str(len(opened))
        directory.mkdir()
        opened.append(BACKENDS[request.param][0](directory, clock, request))
        return opened[-1]

    yield factory
    for store in opened:
        store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def store(make_store: Factory, clock: Clock) -> Store:
    return make_store(clock)


def added(store: Store, record: JobRecord, *claims: str, ttl: float = TTL) -> JobRecord:
    accepted = store.add_job(record, claims, ttl)
    assert accepted.added and accepted.job is not None, accepted
    return accepted.job


# -- claims ----------------------------------------------------------------------------------------------------


def test_claim_once(store: Store) -> None:
    assert store.claim("T1:event:Ev1", TTL)
    assert not store.claim("T1:event:Ev1", TTL)
    assert store.claim("T1:event:Ev2", TTL)  # another key is another claim


def test_claim_again_after_expiry(store: Store, clock: Clock) -> None:
    assert store.claim("k", TTL)
    clock.advance(TTL - 0.001)
    assert not store.claim("k", TTL)  # a refused claim does not extend the first one
    clock.advance(0.001)
    assert store.claim("k", TTL)
    clock.advance(TTL - 0.001)
    assert not store.claim("k", TTL)  # the second claim expires after its own ttl


def test_unclaim(store: Store) -> None:
    assert store.claim("k", TTL)
    store.unclaim("k")
    assert store.claim("k", TTL)
    store.unclaim("never-claimed")  # forgetting nothing is not an error


# -- small values ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("puts", "after", "expected"), [
    ([], 0, None),  # never written
    ([("v1", TTL)], 0, "v1"),
    ([("v1", TTL), ("v2", TTL)], 0, "v2"),  # overwrite
    ([("v1", TTL)], TTL - 0.001, "v1"),
    ([("v1", TTL)], TTL, None),  # expired
    ([("v1", TTL), ("v2", 2 * TTL)], TTL, "v2"),  # an overwrite also renews the expiry
    ([("v1", 2 * TTL), ("v2", 1.0)], 1.0, None),  # ... or shortens it
    ([("", TTL)], 0, ""),  # an empty string is a value, not a missing one
], ids=["missing", "put", "overwrite", "before-expiry", "expired", "overwrite-renews", "overwrite-shortens",
        "empty"])
def test_get_put(store: Store, clock: Clock, puts: list[tuple[str, float]], after: float,
                 expected: str | None) -> None:
    for value, ttl in puts:
        store.put("T1:thread:C1:1.0", value, ttl)
    clock.advance(after)
    assert store.get("T1:thread:C1:1.0") == expected


def test_claims_and_values_are_separate(store: Store) -> None:
    assert store.claim("k", TTL)
    assert store.get("k") is None
    store.put("v", "x", TTL)
    assert store.claim("v", TTL)


@pytest.mark.parametrize(("bumps", "expected"), [
    ([0.0], [1]),
    ([0.0, 10.0, 59.9], [1, 2, 3]),  # one window of 60 s
    ([0.0, 60.0], [1, 1]),  # the window ended: a new count
    ([0.0, 30.0, 61.0, 62.0], [1, 2, 1, 2]),  # fixed windows: the second starts at its first bump
])
def test_bump_counts_in_fixed_windows(store: Store, clock: Clock, bumps: list[float], expected: list[int]) -> None:
    start = clock.now
    counts = []
    for at in bumps:
        clock.now = start + at
        counts.append(store.bump("rate:U1", 60.0))
    assert counts == expected
    assert store.bump("rate:U2", 60.0) == 1  # counters are per key
    assert store.get("rate:U1") is None and store.claim("rate:U1", TTL)  # apart from values and claims


# -- the journal -----------------------------------------------------------------------------------------------


def test_add_job_stores_every_field(store: Store) -> None:
    record = job(1, user_team="T2", in_thread=True, qualify=True, ext_shared=True, parts=("1.1", "1.2"),
                 state=RUNNING, attempts=2, owner="p1", lease_until=1_700_000_100.5, trigger="follow_up",
                 channel_type="mpim", thread_ts="1699999999.000100", created=1_700_000_000.25)
    accepted = store.add_job(record, ["T1:event:Ev1"], TTL)
    assert accepted.added and accepted.taken is None and accepted.job is not None
    assert accepted.job == record.with_changes(seq=accepted.job.seq)  # stored as given, numbered by the store
    stored = store.get_job(record.id)
    assert stored == accepted.job and stored is not None
    assert_typed(stored)
    assert store.jobs() == [accepted.job]


@pytest.mark.parametrize(("claimed", "taken"), [
    ([], None),
    (["b"], "b"),
    (["c", "b"], "b"),  # the first taken in the order the caller gave, not the first claimed
    (["c", "a"], "a"),
    (["c"], "c"),
])
def test_add_job_taken_claim_adds_nothing(store: Store, claimed: list[str], taken: str | None) -> None:
    for key in claimed:
        assert store.claim(key, TTL)
    accepted = store.add_job(job(1), ["a", "b", "c"], TTL)
    assert accepted == (Accepted(added=False, taken=taken) if taken else Accepted(added=True, job=accepted.job))
    if taken:
        assert store.get_job(job(1).id) is None and store.jobs() == []
        for key in sorted({"a", "b", "c"} - set(claimed)):
            assert store.claim(key, TTL), f"{key} was set by a refused add_job"


def test_add_job_sets_every_claim_until_ttl(store: Store, clock: Clock) -> None:
    added(store, job(1), "T1:event:Ev1", "T1:message:C1:1.0", ttl=TTL)
    clock.advance(TTL - 0.001)
    assert not store.claim("T1:event:Ev1", TTL)
    assert store.add_job(job(2), ["T1:message:C1:1.0"], TTL) == Accepted(added=False, taken="T1:message:C1:1.0")
    clock.advance(0.001)
    assert store.claim("T1:event:Ev1", TTL) and store.claim("T1:message:C1:1.0", TTL)
    assert store.get_job(job(1).id) is not None  # a job stays until it is finished, whatever its claims do


def test_add_job_after_claim_expired(store: Store, clock: Clock) -> None:
    assert store.claim("a", 5.0)
    clock.advance(5.0)
    assert added(store, job(1), "a").id == job(1).id


def test_add_job_twice_with_one_id_names_the_id(store: Store) -> None:
    first = added(store, job(1), "a")
    assert store.add_job(job(1, user="U2"), ["b"], TTL) == Accepted(added=False, taken=job(1).id)
    assert store.get_job(job(1).id) == first
    assert store.claim("b", TTL)  # the refused call set nothing


def test_seq_increases_in_arrival_order(store: Store) -> None:
    seqs = [added(store, job(n), f"m{n}").seq for n in (5, 3, 9)]
    assert seqs == sorted(seqs) and len(set(seqs)) == 3
    store.finish_job(job(9).id)  # the newest is gone: its number is still not given again
    assert added(store, job(1), "m1").seq > seqs[-1]


def test_jobs_in_arrival_order(store: Store) -> None:
    for n in (4, 2, 7, 1):
        added(store, job(n))
    store.finish_job(job(2).id)
    added(store, job(3))
    stored = store.jobs()
    assert [j.id for j in stored] == [job(n).id for n in (4, 7, 1, 3)]
    assert [j.seq for j in stored] == sorted(j.seq for j in stored)


def test_thread_head_is_the_job_of_the_thread_s_earliest_message(store: Store) -> None:
    """Jobs may reach the journal out of order (two processes, two listener threads): the thread's next answer
    is the one to its earliest message, by Slack ts."""
    assert store.thread_head("T1", "C1", "100.0") is None
    later = added(store, job(3, thread_ts="100.0"), "c3")  # journaled first, but its message is later
    added(store, job(2, thread_ts="200.0"), "c2")  # another thread
    earlier = added(store, job(1, thread_ts="100.0"), "c1")
    added(store, job(4, thread_ts="100.0", channel="C2"), "c4")  # the same ts in another channel
    assert store.thread_head("T1", "C1", "100.0") == earlier.id
    store.finish_job(earlier.id)
    assert store.thread_head("T1", "C1", "100.0") == later.id
    assert store.thread_head("T1", "C2", "100.0") == job(4).id
    assert store.thread_head("T2", "C1", "100.0") is None  # another workspace


def test_get_job_unknown(store: Store) -> None:
    added(store, job(1))
    assert store.get_job("T1-C1-nope") is None
    assert store.get_job(job(1).id.lower()) is None  # ids are compared exactly, case included


@pytest.mark.parametrize("changes", [
    {"parts": ("1.1",)},
    {"parts": ["1.1", "1.2"]},  # a list is stored as a tuple
    {"parts": (), "state": RUNNING},
    {"created": 5, "lease_until": 7.5},  # an int is taken for a float
    {"attempts": 3, "in_thread": True, "qualify": True, "ext_shared": True},
    {"user_team": "T9", "thread_ts": "1.0", "trigger": "dm", "channel_type": "im"},
], ids=["parts", "parts-list", "two-fields", "floats", "int-and-bools", "strings"])
def test_update_job_changes_fields(store: Store, changes: dict[str, object]) -> None:
    before = added(store, job(1))
    after = store.update_job(before.id, **changes)
    expected = before.with_changes(**{k: tuple(v) if isinstance(v, list) else v for k, v in changes.items()})
    assert after == expected
    stored = store.get_job(before.id)
    assert stored == expected and stored is not None
    assert_typed(stored)


@pytest.mark.parametrize("changes", [
    {"id": "T1-C1-other"}, {"seq": 99}, {"text": "no message text is stored"}, {"parts": "1.1"},
    {"attempts": "3"}, {"in_thread": 1}, {"created": "now"}, {"parts": (1.1,)},
], ids=["id", "seq", "unknown", "parts-str", "attempts-str", "bool-int", "float-str", "parts-floats"])
def test_update_job_refuses_bad_changes(store: Store, changes: dict[str, object]) -> None:
    before = added(store, job(1))
    with pytest.raises(ValueError):
        store.update_job(before.id, **changes)
    assert store.get_job(before.id) == before


def test_update_job_unknown_id(store: Store) -> None:
    assert store.update_job("T1-C1-nope", parts=("1.1",)) is None
    assert store.update_job("T1-C1-nope", owner="p1", parts=("1.1",)) is None
    assert store.jobs() == []


def test_update_job_owner_guard(store: Store, clock: Clock) -> None:
    record = added(store, job(1))
    assert store.update_job(record.id, owner="p1", parts=("1.1",)) is None  # nobody holds it yet
    assert store.acquire(record.id, "p1", LEASE) is not None
    held = store.update_job(record.id, owner="p1", parts=("1.1",))
    assert held is not None and held.parts == ("1.1",)
    clock.advance(LEASE)  # expired, but nobody took it over: p1 still holds it
    assert store.update_job(record.id, owner="p1", parts=("1.1", "1.2")) is not None
    assert store.acquire(record.id, "p2", LEASE) is not None  # taken over
    assert store.update_job(record.id, owner="p1", parts=("1.9",)) is None
    current = store.get_job(record.id)
    assert current is not None and current.parts == ("1.1", "1.2") and current.owner == "p2"
    assert store.update_job(record.id, owner="p2") == current  # no changes: "do I still hold it?"
    store.release(record.id, "p2")
    assert store.update_job(record.id, owner="p2", parts=()) is None


def test_finish_job_removes_job_keeps_claims(store: Store) -> None:
    record = added(store, job(1), "T1:event:Ev1", "T1:message:C1:1.0")
    added(store, job(2), "T1:event:Ev2")
    store.finish_job(record.id)
    assert store.get_job(record.id) is None
    assert [j.id for j in store.jobs()] == [job(2).id]
    assert not store.claim("T1:event:Ev1", TTL)
    assert store.add_job(job(1), ["T1:message:C1:1.0"], TTL) == Accepted(added=False, taken="T1:message:C1:1.0")
    store.finish_job(record.id)  # finishing twice is not an error
    assert store.update_job(record.id, parts=("1.1",)) is None and store.acquire(record.id, "p1", LEASE) is None


# -- leases ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("holder", "after", "taker", "force", "owner", "attempts"), [
    ("", 0.0, "p2", False, "p2", 1),  # free
    ("p1", 10.0, "p1", False, "p1", 1),  # its own: lease extended, no new attempt
    ("p1", LEASE - 0.001, "p2", False, None, 1),  # held by another until its lease ends
    ("p1", LEASE, "p2", False, "p2", 2),  # expired
    ("p1", 1.0, "p2", True, "p2", 2),  # forced
], ids=["free", "own", "held", "expired", "forced"])
def test_acquire(store: Store, clock: Clock, holder: str, after: float, taker: str, force: bool,
                 owner: str | None, attempts: int) -> None:
    record = added(store, job(1))
    if holder:
        assert store.acquire(record.id, holder, LEASE) is not None
    before = store.get_job(record.id)
    clock.advance(after)
    taken = store.acquire(record.id, taker, LEASE, force=force)
    if owner is None:
        assert taken is None
        assert store.get_job(record.id) == before
    else:
        assert taken is not None
        assert (taken.owner, taken.state, taken.lease_until, taken.attempts) == (
            owner, RUNNING, clock.now + LEASE, attempts)
        assert store.get_job(record.id) == taken


def test_acquire_unknown_job(store: Store) -> None:
    assert store.acquire("T1-C1-nope", "p1", LEASE) is None
    assert store.acquire("T1-C1-nope", "p1", LEASE, force=True) is None


def test_attempts_count_owner_changes(store: Store, clock: Clock) -> None:
    record = added(store, job(1))
    steps: list[tuple[str, Callable[[], object]]] = [
        ("p1 starts", lambda: store.acquire(record.id, "p1", LEASE)),
        ("p1 again", lambda: store.acquire(record.id, "p1", LEASE)),
        ("p1 renews", lambda: store.renew("p1", [record.id], LEASE)),
        ("p2 after expiry", lambda: (clock.advance(LEASE), store.acquire(record.id, "p2", LEASE))),
        ("p2 again", lambda: store.acquire(record.id, "p2", LEASE)),
        ("p1 forces", lambda: store.acquire(record.id, "p1", LEASE, force=True)),
        ("p1 releases", lambda: store.release(record.id, "p1")),
        ("p1 resumes", lambda: store.acquire(record.id, "p1", LEASE)),
    ]
    counts = []
    for _name, step in steps:
        step()
        current = store.get_job(record.id)
        assert current is not None
        counts.append(current.attempts)
    assert counts == [1, 1, 1, 2, 2, 3, 3, 4]


def test_renew_extends_held_and_returns_lost(store: Store, clock: Clock) -> None:
    kept, taken, finished = (added(store, job(n)) for n in (1, 2, 3))
    for record in (kept, taken, finished):
        assert store.acquire(record.id, "p1", LEASE) is not None
    assert store.acquire(taken.id, "p2", LEASE, force=True) is not None
    store.finish_job(finished.id)
    clock.advance(10.0)
    lost = store.renew("p1", [kept.id, taken.id, finished.id, "T1-C1-nope"], LEASE)
    assert lost == [taken.id, finished.id, "T1-C1-nope"]
    now_kept, now_taken = store.get_job(kept.id), store.get_job(taken.id)
    assert now_kept is not None and now_kept.lease_until == clock.now + LEASE and now_kept.owner == "p1"
    assert now_taken is not None and now_taken.lease_until == clock.now - 10.0 + LEASE  # p2's, untouched
    assert store.renew("p1", [], LEASE) == []


def test_release_makes_pending_and_acquirable(store: Store) -> None:
    record = added(store, job(1))
    assert store.acquire(record.id, "p1", LEASE) is not None
    store.release(record.id, "p2")  # not p2's to give back
    held = store.get_job(record.id)
    assert held is not None and held.owner == "p1" and held.state == RUNNING
    store.release(record.id, "p1")
    released = store.get_job(record.id)
    assert released is not None and (released.state, released.owner, released.lease_until) == (PENDING, "", 0.0)
    taken = store.acquire(record.id, "p2", LEASE)  # at once, without waiting for p1's lease
    assert taken is not None and taken.owner == "p2" and taken.attempts == 2
    store.release("T1-C1-nope", "p1")  # giving back what is gone is not an error


# -- concurrency -----------------------------------------------------------------------------------------------


def test_racing_claims_one_wins(store: Store) -> None:
    for results in race(8, 3 * ROUNDS, lambda r, _i: store.claim(f"k{r}", TTL)):  # the shortest step: more
        assert results.count(True) == 1, results


def test_racing_add_job_one_added(store: Store) -> None:
    rounds = race(8, ROUNDS, lambda r, i: store.add_job(job(r * 8 + i), [f"T1:message:C1:{r}"], TTL))
    for r, results in enumerate(rounds):
        assert [a.added for a in results if a is not None].count(True) == 1, results
        assert all(a is not None and (a.added or a.taken == f"T1:message:C1:{r}") for a in results), results
    assert len(store.jobs()) == ROUNDS


def test_racing_acquire_one_owner(store: Store) -> None:
    ids = [added(store, job(r)).id for r in range(ROUNDS)]
    for r, results in enumerate(race(8, ROUNDS, lambda r, i: store.acquire(ids[r], f"p{i}", LEASE))):
        winners = [j for j in results if j is not None]
        assert len(winners) == 1 and winners[0].attempts == 1, results
        assert store.get_job(ids[r]) == winners[0]


# -- lifecycle -------------------------------------------------------------------------------------------------


def test_info(store: Store, request: pytest.FixtureRequest) -> None:
    backend = request.node.callspec.params["make_store"]
    assert store.info.name == backend
    assert (store.info.durable, store.info.shared) == BACKENDS[backend][1]


def test_closed_store_raises_store_error(store: Store) -> None:
    store.ping()
    store.close()
    store.close()  # a second close does nothing
    for call in (store.ping, lambda: store.claim("k", TTL), lambda: store.get("k"), store.jobs,
                 lambda: store.add_job(job(1), ["k"], TTL)):
        with pytest.raises(StoreError):
            call()
