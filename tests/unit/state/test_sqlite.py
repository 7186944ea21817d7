"""SqliteStore beyond the contract: durability, one process per file, clear errors, schema, pruning."""

from __future__ import annotations

import os
import signal
import sqlite3
from pathlib import Path

import pytest

from bot.state import sqlite as sqlite_module
from bot.state.sqlite import SCHEMA_VERSION, SqliteStore
from bot.state.store import Accepted, StoreError
from tests.unit.state.support import Clock, job, python

OPEN_AND_HOLD = """
import time
from bot.state.sqlite import SqliteStore
from tests.unit.state.support import job
store = SqliteStore({path!r})
store.add_job(job(1, parts=("1.1",)), ["T1:event:Ev1"], 3600.0)
print("ready", flush=True)
time.sleep(60)
"""

TRY_OPEN = """
from bot.state.sqlite import SqliteStore
from bot.state.store import StoreError
try:
    SqliteStore({path!r})
except StoreError as e:
    print(e)
    raise SystemExit(3)
print("opened")
"""


def rows(path: Path, table: str) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def test_survives_close_and_reopen(tmp_path: Path) -> None:
    path, clock = str(tmp_path / "state.db"), Clock()
    store = SqliteStore(path, clock=clock)
    first = store.add_job(job(1, parts=("1.1", "1.2")), ["T1:event:Ev1", "T1:message:C1:1"], 3600.0).job
    store.put("T1:thread:C1:1", "bot", 3600.0)
    assert store.acquire(job(1).id, "p1", 30.0) is not None
    store.close()
    store = SqliteStore(path, clock=clock)
    try:
        stored = store.get_job(job(1).id)
        assert first is not None and stored is not None
        assert stored.parts == ("1.1", "1.2") and stored.owner == "p1" and stored.attempts == 1
        assert not store.claim("T1:message:C1:1", 3600.0)
        assert store.get("T1:thread:C1:1") == "bot"
        second = store.add_job(job(2), [], 3600.0).job
        assert second is not None and second.seq > first.seq
    finally:
        store.close()


def test_second_process_is_refused(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = SqliteStore(path)
    try:
        child = python(TRY_OPEN.format(path=path))
        out, err = child.communicate(timeout=30)
        assert child.returncode == 3, (out, err)
        message = out.strip()
        assert "\n" not in message
        assert path in message and "another bot process" in message and "STATE_URL=redis://" in message
        assert f"pid {os.getpid()}" in message
    finally:
        store.close()
    child = python(TRY_OPEN.format(path=path))  # closed: free again
    assert child.communicate(timeout=30)[0].strip() == "opened"


def test_lock_freed_when_holder_killed(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    holder = python(OPEN_AND_HOLD.format(path=path))
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        with pytest.raises(StoreError, match="another bot process"):
            SqliteStore(path)
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.communicate(timeout=30)
    assert holder.returncode == -signal.SIGKILL
    store = SqliteStore(path)
    try:
        assert [j.id for j in store.jobs()] == [job(1).id]
    finally:
        store.close()


def test_one_open_per_file_within_a_process_too(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    store = SqliteStore(path)
    with pytest.raises(StoreError, match="another bot process"):
        SqliteStore(path)
    store.close()
    SqliteStore(path).close()


def test_job_survives_kill_9_right_after_add_job(tmp_path: Path) -> None:
    path = str(tmp_path / "state.db")
    child = python(f"""
import os, signal
from bot.state.sqlite import SqliteStore
from tests.unit.state.support import job
store = SqliteStore({path!r})
accepted = store.add_job(job(7, parts=("7.1",)), ["T1:event:Ev7"], 3600.0)
os.kill(os.getpid(), signal.SIGKILL)
""")
    out, err = child.communicate(timeout=30)
    assert child.returncode == -signal.SIGKILL, (out, err)
    store = SqliteStore(path)
    try:
        stored = store.get_job(job(7).id)
        assert stored is not None and stored.parts == ("7.1",) and stored.seq == 1
        assert store.add_job(job(8), ["T1:event:Ev7"], 3600.0) == Accepted(added=False, taken="T1:event:Ev7")
    finally:
        store.close()


@pytest.mark.parametrize(("make", "cause"), [
    (lambda p: p.write_bytes(b"this is not a database, it is a note\n" * 200), "file is not a database"),
    (lambda p: p.mkdir(), "unable to open database file"),  # unreadable as a file (a directory in its place)
], ids=["corrupt", "directory"])
def test_unusable_file_names_path_and_cause(tmp_path: Path, make: object, cause: str) -> None:
    path = tmp_path / "state.db"
    make(path)  # type: ignore[operator]
    with pytest.raises(StoreError) as failure:
        SqliteStore(str(path))
    message = str(failure.value)
    assert str(path) in message and cause in message and "\n" not in message
    (path.rmdir() if path.is_dir() else path.unlink())
    SqliteStore(str(path)).close()  # the failed open let go of the lock


def test_missing_directory_is_named(tmp_path: Path) -> None:
    path = tmp_path / "nope" / "state.db"
    with pytest.raises(StoreError, match=f"directory {tmp_path / 'nope'} does not exist"):
        SqliteStore(str(path))
    assert not (tmp_path / "nope").exists()  # nothing created


def test_relative_path_is_in_the_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = SqliteStore("state.db")
    store.close()
    assert (tmp_path / "state.db").is_file() and (tmp_path / "state.db.lock").is_file()
    assert store.info.location == "state.db"


def test_schema_version_wal_and_full_sync(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    store = SqliteStore(str(path))
    assert store.info.extra == {"journal_mode": "wal", "synchronous": "FULL"}
    store.close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {"claims", "kv", "jobs"} <= tables


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match=f"schema version {SCHEMA_VERSION + 1} is newer"):
        SqliteStore(str(path))


def test_expired_rows_pruned_at_open(tmp_path: Path) -> None:
    path, clock = tmp_path / "state.db", Clock()
    store = SqliteStore(str(path), clock=clock)
    for n in range(10):
        store.claim(f"c{n}", 1.0)
        store.put(f"v{n}", "x", 1.0 if n else 3600.0)
    store.close()
    clock.advance(1.0)
    SqliteStore(str(path), clock=clock).close()
    assert (rows(path, "claims"), rows(path, "kv")) == (0, 1)


def test_expired_rows_pruned_in_batches_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sqlite_module, "PRUNE_EVERY", 1)
    monkeypatch.setattr(sqlite_module, "PRUNE_BATCH", 3)
    path, clock = tmp_path / "state.db", Clock()
    store = SqliteStore(str(path), clock=clock)
    try:
        for n in range(10):
            store.claim(f"c{n}", 1.0)
        clock.advance(1.0)
        left = []
        for n in range(4):
            store.put(f"v{n}", "x", 60.0)
            left.append(rows(path, "claims"))
        assert left == [7, 4, 1, 0]
    finally:
        store.close()


def test_changed_record_without_migration_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    SqliteStore(str(path)).close()
    with sqlite3.connect(path) as db:
        db.execute("ALTER TABLE jobs ADD COLUMN text TEXT")
    with pytest.raises(StoreError, match="does not match JobRecord"):
        SqliteStore(str(path))
