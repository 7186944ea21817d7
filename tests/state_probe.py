"""Measure what a journal write costs (not a test; prints figures).

    python -m tests.state_probe [--dir DIR] [-n 500]

For SQLite with `synchronous=FULL` (what the bot uses: one fsync per write) and `NORMAL` (for comparison:
in WAL mode it syncs only at checkpoints, so a power cut may lose the last writes, `kill -9` does not), and for
the memory store: the median and 95th percentile time of `add_job` (two claims and the job) and of
`update_job` (one more part of the answer), each over N calls. The SQLite file goes into a temporary
directory under DIR, the working directory by default, so that the figures are those of the disk the bot
runs on (a tmpfs /tmp would hide the fsync).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable

from bot.state.memory import MemoryStore
from bot.state.sqlite import SqliteStore
from bot.state.store import JobRecord, Store


def timed(n: int, call: Callable[[int], object]) -> list[float]:
    """Milliseconds of each of `call(0)` … `call(n - 1)`."""
    times = []
    for i in range(n):
        start = time.perf_counter()
        call(i)
        times.append((time.perf_counter() - start) * 1000)
    return times


def measure(store: Store, n: int) -> dict[str, list[float]]:
    def add(i: int) -> None:
        ts = f"1700000000.{i:06d}"
        record = JobRecord(id=f"T1-C1-{ts}", team="T1", channel="C1", thread_ts=ts, ts=ts, user="U1",
                           trigger="mention", channel_type="channel", created=time.time())
        accepted = store.add_job(record, [f"T1:event:Ev{i}", f"T1:message:C1:{ts}"], 86400.0)
        assert accepted.added

    def update(i: int) -> None:
        ts = f"1700000000.{i:06d}"
        assert store.update_job(f"T1-C1-{ts}", parts=(f"1700000001.{i:06d}",)) is not None

    return {"add_job": timed(n, add), "update_job": timed(n, update)}


def summary(times: list[float]) -> str:
    p95 = statistics.quantiles(times, n=20)[-1]
    return f"median {statistics.median(times):7.3f} ms   p95 {p95:7.3f} ms"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", default=os.getcwd(), help="where the SQLite files go (default: here)")
    parser.add_argument("-n", type=int, default=500, help="calls of each kind (default 500)")
    args = parser.parse_args()
    print(f"{args.n} calls each; SQLite files under {os.path.abspath(args.dir)}")
    with tempfile.TemporaryDirectory(dir=args.dir, prefix="state-probe-") as directory:
        backends: list[tuple[str, Callable[[], Store]]] = [
            ("sqlite FULL", lambda: SqliteStore(os.path.join(directory, "full.db"), synchronous="FULL")),
            ("sqlite NORMAL", lambda: SqliteStore(os.path.join(directory, "normal.db"), synchronous="NORMAL")),
            ("memory", MemoryStore),
        ]
        for name, make in backends:
            store = make()
            try:
                figures = measure(store, args.n)
            finally:
                store.close()
            for call, times in figures.items():
                print(f"{name:14} {call:11} {summary(times)}")


if __name__ == "__main__":
    main()
