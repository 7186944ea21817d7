"""MemoryStore's bounds (the contract itself is in test_contract.py): expiry, capacity, a cap on jobs."""

from __future__ import annotations

import pytest

from bot.state.memory import MemoryStore
from bot.state.store import StoreError
from tests.unit.state.support import Clock, job


def test_capacity_forgets_oldest_first() -> None:
    store = MemoryStore(clock=Clock(), capacity=3)
    for key in "abcd":
        assert store.claim(key, 60.0)
    assert [store.claim(key, 60.0) for key in "bcd"] == [False, False, False]
    assert store.claim("a", 60.0)  # forgotten to make room for d
    for key in "abc":
        store.put(key, key, 60.0)
    store.put("a", "a2", 60.0)  # rewritten: now the youngest
    store.put("d", "d", 60.0)
    assert [store.get(key) for key in "abcd"] == ["a2", None, "c", "d"]


def test_expired_entries_are_dropped_not_just_hidden() -> None:
    clock = Clock()
    store = MemoryStore(clock=clock)
    for n in range(1000):
        assert store.claim(f"short{n}", 1.0)
        store.put(f"short{n}", "x", 1.0)
    assert store.claim("long", 3600.0)  # written before the short ones expire, so it is not at the heap's top
    clock.advance(1.0)
    assert store.claim("next", 60.0)
    store.put("next", "x", 60.0)
    assert (len(store._claims), len(store._values)) == (2, 1)


def test_rewriting_one_key_does_not_grow_the_heap() -> None:
    store = MemoryStore(clock=Clock())
    for n in range(10_000):
        store.put("model:m:prefill", str(n), 3600.0)
    assert len(store._values) == 1
    assert len(store._values._expiries) <= 2 * 1 + 1024 + 1


def test_max_jobs_refuses_rather_than_drops() -> None:
    store = MemoryStore(clock=Clock(), max_jobs=2)
    assert store.add_job(job(1), ["m1"], 60.0).added and store.add_job(job(2), ["m2"], 60.0).added
    with pytest.raises(StoreError, match="2 unfinished jobs"):
        store.add_job(job(3), ["m3"], 60.0)
    assert store.claim("m3", 60.0)  # the refused job claimed nothing
    store.finish_job(job(1).id)
    assert store.add_job(job(3), ["m3b"], 60.0).added
    assert [j.id for j in store.jobs()] == [job(2).id, job(3).id]
