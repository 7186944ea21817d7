"""What the state tests share: a clock moved by hand, jobs to store, thread races, child Python processes."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import fields
from pathlib import Path
from typing import TypeVar

from bot.state.store import JobRecord

ROOT = Path(__file__).resolve().parents[3]
T = TypeVar("T")


class Clock:
    """Wall-clock seconds that only move when a test says so."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def job(n: int, **fields: object) -> JobRecord:
    """Job number `n` of one channel: the answer to the message with ts `n`."""
    ts = f"1700000000.{n:06d}"
    record = JobRecord(id=f"T1-C1-{ts}", team="T1", channel="C1", thread_ts=ts, ts=ts, user="U1",
                       trigger="mention", channel_type="channel", created=1_700_000_000.0 + n)
    return record.with_changes(**fields)


def assert_typed(record: JobRecord) -> None:
    """Every field of `record` has its declared type (1 == True and 5 == 5.0, so equality alone would not say)."""
    kinds = {"str": str, "bool": bool, "int": int, "float": float, "tuple[str, ...]": tuple}
    for f in fields(JobRecord):
        value = getattr(record, f.name)
        assert type(value) is kinds[str(f.type)], f"{f.name} = {value!r}"
    assert all(type(part) is str for part in record.parts), record.parts


def race(n: int, rounds: int, call: Callable[[int, int], T]) -> list[list[T | None]]:
    """`rounds` races of n threads: in each, `call(round, 0)` … `call(round, n - 1)` start at the same moment.
    The results, per round in thread order (a call may return None, as acquire does)."""
    barrier = threading.Barrier(n)
    results: list[list[T | None]] = [[None] * n for _ in range(rounds)]
    errors: list[BaseException] = []

    def run(i: int) -> None:
        for r in range(rounds):
            barrier.wait()
            try:
                results[r][i] = call(r, i)
            except BaseException as e:  # noqa: BLE001 -- handed to the test below
                errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads every few bytecodes, so that an unlocked step would interleave
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors
    assert not any(t.is_alive() for t in threads), "a racing call never returned"
    return results


def python(code: str) -> subprocess.Popen[str]:
    """A child `python -c code` that can import the project, with pipes for stdout and stderr."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-c", code], env=env, text=True, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
