"""AnswerPool: bounded workers, one answer at a time per conversation in arrival order, a bounded queue."""

from __future__ import annotations

import threading
import time
from typing import Any

from bot.conversation.pool import AnswerPool, Job
from bot.conversation.seen import BoundedSet
from bot.conversation.threads import ThreadRegistry
from bot.state.memory import MemoryStore


class Gate:
    """A job body that blocks until released, recording the order jobs ran in."""

    def __init__(self) -> None:
        self.started: list[Any] = []
        self.release = threading.Event()
        self.cond = threading.Condition()

    def run(self, job: Job) -> None:
        with self.cond:
            self.started.append(job.request)
            self.cond.notify_all()
        self.release.wait(5)

    def wait_started(self, n: int) -> None:
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.started) >= n, timeout=5), self.started


def job(conversation: str, name: str) -> Job:
    return Job(key=("T", "C", conversation), record=None, request=name)


def test_workers_bound_and_queue_limit() -> None:
    gate = Gate()
    pool = AnswerPool(gate.run, workers=2, max_queued=2)
    assert pool.submit(job("a", "a1")) and pool.submit(job("b", "b1"))
    gate.wait_started(2)
    assert pool.claim()  # a third job would wait
    pool.unclaim()
    assert pool.submit(job("c", "c1")) and pool.submit(job("d", "d1"))  # queued
    assert not pool.submit(job("e", "e1"))  # past the queue
    assert pool.submit(job("f", "f1"), force=True)  # a job resumed from the journal is never turned away
    assert gate.started == ["a1", "b1"]
    gate.release.set()
    assert pool.drain(5)
    assert sorted(gate.started) == ["a1", "b1", "c1", "d1", "f1"]


def test_one_answer_at_a_time_per_conversation_in_order() -> None:
    gate = Gate()
    pool = AnswerPool(gate.run, workers=4, max_queued=10)
    pool.submit(job("a", "a1"))
    gate.wait_started(1)
    assert pool.busy(("T", "C", "a"))
    pool.submit(job("a", "a2"))
    pool.submit(job("a", "a3"))
    pool.submit(job("b", "b1"))
    gate.wait_started(2)
    assert gate.started == ["a1", "b1"]  # a2 waits for a1 although workers are free
    gate.release.set()
    assert pool.drain(5)
    assert [s for s in gate.started if s.startswith("a")] == ["a1", "a2", "a3"]


def test_a_failing_job_does_not_kill_the_worker() -> None:
    ran: list[str] = []

    def run(job: Job) -> None:
        ran.append(job.request)
        if job.request == "boom":
            raise RuntimeError("bug")

    pool = AnswerPool(run, workers=1, max_queued=5)
    pool.submit(job("a", "boom"))
    pool.submit(job("b", "fine"))
    assert pool.drain(5)
    assert ran == ["boom", "fine"]


def test_bounded_set_forgets_oldest_and_expired() -> None:
    now = [0.0]
    seen = BoundedSet(capacity=2, ttl=10, clock=lambda: now[0])
    assert seen.add("a") and not seen.add("a")
    seen.add("b")
    seen.add("c")  # capacity: "a" forgotten
    assert seen.add("a")
    now[0] = 100.0
    assert seen.add("c")  # expired


def test_registry_asks_once_per_thread() -> None:
    """Five messages of one unknown thread race: Slack is asked once, the others wait for that answer. The
    question takes a while (as a Slack call does), so without the per-thread gate the asks would overlap."""
    registry = ThreadRegistry(MemoryStore())
    asked: list[int] = []
    answers: list[bool] = []
    barrier = threading.Barrier(5)

    def ask() -> bool:
        asked.append(1)
        time.sleep(0.2)
        return True

    def resolve() -> None:
        barrier.wait()
        answers.append(registry.resolve("T", "C", "1.0", ask))

    threads = [threading.Thread(target=resolve) for _ in range(5)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert asked == [1]
    assert answers == [True] * 5
    assert registry.get("T", "C", "1.0") is True
    assert registry.get("T", "C", "2.0") is None  # another thread is still unknown


def test_registry_lives_in_the_store() -> None:
    """A thread learned by one registry is known to another on the same store (a restart, another process)."""
    store = MemoryStore()
    ThreadRegistry(store).set("T", "C", "1.0", False)
    assert ThreadRegistry(store).get("T", "C", "1.0") is False
    assert ThreadRegistry(MemoryStore()).get("T", "C", "1.0") is None


def test_a_conversation_runs_in_message_order_whatever_the_hand_over_order() -> None:
    """Two listener threads may hand over a thread's messages in either order: the pool runs them by ts."""
    from bot.state.store import JobRecord

    def record(ts: str, seq: int) -> JobRecord:
        return JobRecord(id=f"T-C-{ts}", team="T", channel="C", thread_ts="1.0", ts=ts, user="U",
                         trigger="mention", channel_type="channel", seq=seq)

    gate = Gate()
    pool = AnswerPool(gate.run, workers=2, max_queued=10)
    pool.submit(Job(key=("T", "C", "other"), record=None, request="blocker"))  # keeps one worker busy
    gate.wait_started(1)
    first = Job(key=("T", "C", "1.0"), record=record("1.0", 1), request="first")
    pool.submit(Job(key=("T", "C", "1.0"), record=record("3.0", 2), request="third"))  # queued: nobody free?
    gate.wait_started(2)  # "third" took the free worker at once; the rest must wait for it
    pool.submit(Job(key=("T", "C", "1.0"), record=record("2.0", 4), request="second"))
    pool.submit(first)
    gate.release.set()
    assert pool.drain(5)
    assert gate.started[2:] == ["first", "second"]  # by message ts, not by hand-over order


def test_a_job_whose_turn_has_not_come_is_tried_again_later_and_frees_its_conversation() -> None:
    tries: list[str] = []
    turn = threading.Event()

    def run(job: Job) -> float | None:
        tries.append(job.request)
        if job.request == "waits" and not turn.is_set():
            turn.set()
            return 0.05  # an earlier answer of its thread is being written elsewhere
        return None

    pool = AnswerPool(run, workers=1, max_queued=5)
    pool.submit(job("a", "waits"))
    pool.submit(job("a", "next"))
    deadline = time.monotonic() + 5
    while len(tries) < 3 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool.drain(5)
    assert tries == ["waits", "next", "waits"]  # the conversation was free while it waited
