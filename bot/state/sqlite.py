"""The SQLite store (`STATE_URL=sqlite:///path`): durable, one process per file, standard library only.

Guarantees:

* **durable**: each call is one transaction, committed in WAL mode with `synchronous=FULL` before the call
  returns, so what it wrote survives `kill -9` and a power cut (the price: one fsync per write; a call that
  changes nothing writes nothing);
* **atomic**: one connection behind one lock, so calls from any thread are serialised; `add_job` checks and
  sets the claims, inserts the job and draws its `seq` in a single transaction;
* **one process per file**: an exclusive, non-blocking `flock` on `<path>.lock`, taken before the database is
  opened and held until `close()` (the kernel drops it when the process dies, however it dies); another
  process gets a StoreError that points at `STATE_URL=redis://…`;
* **bounded**: expired claims and values are deleted at open and, in batches of at most `PRUNE_BATCH` rows,
  inside every `PRUNE_EVERY`th write, so no single call pays for a long sweep;
* **versioned**: the schema version is `PRAGMA user_version`; a file written by an older version is migrated
  at open, one written by a newer one is refused;
* every failure (missing directory, unreadable or corrupt file, lock held, closed store) is a StoreError whose
  one-line message names the file.
"""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import fields
from typing import Any

from bot.state import rules
from bot.state.store import Accepted, JobRecord, StoreError, StoreInfo

PRUNE_EVERY = 256  # writes between two prunes
PRUNE_BATCH = 500  # expired rows deleted per table by one prune
SYNCHRONOUS = ("FULL", "NORMAL")  # FULL is the guarantee above; NORMAL exists for the probe's comparison

# MIGRATIONS[n] takes a file from schema version n to n + 1; the last index + 1 is the current version.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE claims (key TEXT PRIMARY KEY, expires REAL NOT NULL) WITHOUT ROWID;
    CREATE INDEX claims_by_expiry ON claims (expires);
    CREATE TABLE kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires REAL NOT NULL) WITHOUT ROWID;
    CREATE INDEX kv_by_expiry ON kv (expires);
    CREATE TABLE jobs (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused, so arrival order holds across finished jobs
        "id" TEXT NOT NULL UNIQUE,
        "team" TEXT NOT NULL,
        "channel" TEXT NOT NULL,
        "thread_ts" TEXT NOT NULL,
        "ts" TEXT NOT NULL,
        "user" TEXT NOT NULL,
        "trigger" TEXT NOT NULL,
        "channel_type" TEXT NOT NULL,
        "user_team" TEXT NOT NULL,
        "in_thread" INTEGER NOT NULL,
        "qualify" INTEGER NOT NULL,
        "ext_shared" INTEGER NOT NULL,
        "created" REAL NOT NULL,
        "parts" TEXT NOT NULL,  -- a JSON array of message ts
        "state" TEXT NOT NULL,
        "attempts" INTEGER NOT NULL,
        "owner" TEXT NOT NULL,
        "lease_until" REAL NOT NULL
    );
    """,
    """
    CREATE INDEX jobs_by_thread ON jobs ("team", "channel", "thread_ts", seq);
    CREATE TABLE counters (key TEXT PRIMARY KEY, n INTEGER NOT NULL, expires REAL NOT NULL) WITHOUT ROWID;
    CREATE INDEX counters_by_expiry ON counters (expires);
    """,
)
SCHEMA_VERSION = len(MIGRATIONS)

_COLUMNS = tuple(f.name for f in fields(JobRecord))  # the jobs table has one column per field
_BOOLS = frozenset(f.name for f in fields(JobRecord) if f.type == "bool")
_WRITTEN = tuple(c for c in _COLUMNS if c != "seq")  # the table draws seq itself
_SELECT = "SELECT " + ", ".join(f'"{c}"' for c in _COLUMNS) + " FROM jobs"
_INSERT = ("INSERT INTO jobs (" + ", ".join(f'"{c}"' for c in _WRITTEN) + ") VALUES ("
           + ", ".join("?" for _ in _WRITTEN) + ")")
_UPDATE = "UPDATE jobs SET " + ", ".join(f'"{c}" = ?' for c in _WRITTEN if c != "id") + ' WHERE "id" = ?'


class SqliteStore:
    """The `Store` in one SQLite file, owned by this process alone (see the module docstring)."""

    def __init__(self, path: str, clock: Callable[[], float] = time.time, *, synchronous: str = "FULL") -> None:
        if synchronous not in SYNCHRONOUS:
            raise ValueError(f"synchronous must be one of {', '.join(SYNCHRONOUS)}")
        self.info = StoreInfo("sqlite", durable=True, shared=False, location=path)
        self._path = path
        self._clock = clock
        self._lock = threading.Lock()
        self._writes = 0
        directory = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(directory):
            raise StoreError(f"state file {path}: directory {directory} does not exist")
        self._lock_fd: int | None = self._take_file_lock()
        try:
            self._conn: sqlite3.Connection | None = self._connect(synchronous)
        except BaseException:
            self._drop_file_lock()
            raise

    # -- claims ------------------------------------------------------------------------------------------
    def claim(self, key: str, ttl: float) -> bool:
        with self._transaction() as db:
            now = self._clock()
            if _live(db, "claims", key, now):
                return False
            db.execute("INSERT OR REPLACE INTO claims (key, expires) VALUES (?, ?)", (key, now + ttl))
            self._wrote(db, now)
            return True

    def unclaim(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM claims WHERE key = ?", (key,))

    # -- small values --------------------------------------------------------------------------------------
    def get(self, key: str) -> str | None:
        with self._transaction() as db:
            row = db.execute("SELECT value FROM kv WHERE key = ? AND expires > ?", (key, self._clock())).fetchone()
            return None if row is None else str(row[0])

    def put(self, key: str, value: str, ttl: float) -> None:
        with self._transaction() as db:
            now = self._clock()
            db.execute("INSERT OR REPLACE INTO kv (key, value, expires) VALUES (?, ?, ?)", (key, value, now + ttl))
            self._wrote(db, now)

    def bump(self, key: str, ttl: float) -> int:
        with self._transaction() as db:
            now = self._clock()
            row = db.execute("SELECT n FROM counters WHERE key = ? AND expires > ?", (key, now)).fetchone()
            if row is None:
                db.execute("INSERT OR REPLACE INTO counters (key, n, expires) VALUES (?, 1, ?)", (key, now + ttl))
                count = 1
            else:
                count = int(row[0]) + 1
                db.execute("UPDATE counters SET n = ? WHERE key = ?", (count, key))
            self._wrote(db, now)
            return count

    # -- the journal ------------------------------------------------------------------------------------
    def add_job(self, job: JobRecord, claims: Sequence[str], ttl: float) -> Accepted:
        with self._transaction() as db:
            now = self._clock()
            for key in claims:
                if _live(db, "claims", key, now):
                    return Accepted(added=False, taken=key)
            if _read_job(db, job.id) is not None:
                return Accepted(added=False, taken=job.id)
            db.executemany("INSERT OR REPLACE INTO claims (key, expires) VALUES (?, ?)",
                           [(key, now + ttl) for key in claims])
            seq = db.execute(_INSERT, _row(job)).lastrowid
            assert seq is not None
            self._wrote(db, now)
            return Accepted(added=True, job=job.with_changes(seq=seq))

    def get_job(self, job_id: str) -> JobRecord | None:
        with self._transaction() as db:
            return _read_job(db, job_id)

    def update_job(self, job_id: str, *, owner: str | None = None, **changes: object) -> JobRecord | None:
        with self._transaction() as db:
            job = _read_job(db, job_id)
            if job is None or (owner is not None and not rules.holds(job, owner)):
                return None
            if changes:
                job = rules.changed(job, changes)
                self._write_job(db, job)
            return job

    def finish_job(self, job_id: str) -> None:
        with self._transaction() as db:
            db.execute('DELETE FROM jobs WHERE "id" = ?', (job_id,))

    def jobs(self) -> list[JobRecord]:
        with self._transaction() as db:
            return [_record(row) for row in db.execute(_SELECT + " ORDER BY seq")]

    def thread_head(self, team: str, channel: str, thread_ts: str) -> str | None:
        with self._transaction() as db:
            mine = [_record(row) for row in db.execute(
                _SELECT + ' WHERE "team" = ? AND "channel" = ? AND "thread_ts" = ?', (team, channel, thread_ts))]
            return min(mine, key=rules.conversation_order).id if mine else None

    # -- leases ---------------------------------------------------------------------------------------------
    def acquire(self, job_id: str, owner: str, lease: float, *, force: bool = False) -> JobRecord | None:
        with self._transaction() as db:
            job = _read_job(db, job_id)
            taken = None if job is None else rules.take(job, owner, self._clock(), lease, force=force)
            if taken is not None:
                self._write_job(db, taken)
            return taken

    def renew(self, owner: str, job_ids: Sequence[str], lease: float) -> list[str]:
        with self._transaction() as db:
            now = self._clock()
            lost = []
            for job_id in job_ids:
                job = _read_job(db, job_id)
                if job is not None and rules.holds(job, owner):
                    self._write_job(db, rules.renewed(job, now, lease))
                else:
                    lost.append(job_id)
            return lost

    def release(self, job_id: str, owner: str) -> None:
        with self._transaction() as db:
            job = _read_job(db, job_id)
            if job is not None and rules.holds(job, owner):
                self._write_job(db, rules.released(job))

    # -- lifecycle -----------------------------------------------------------------------------------------
    def ping(self) -> None:
        with self._transaction() as db:
            db.execute("SELECT 1 FROM jobs LIMIT 1").fetchall()

    def close(self) -> None:
        """Close the database, then let another process have the file. A second call does nothing."""
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            self._drop_file_lock()

    # -- inside ------------------------------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One transaction under the lock: committed when the block ends, rolled back if it raises."""
        with self._lock:
            db = self._conn
            if db is None:
                raise StoreError(f"state file {self._path}: the store is closed")
            try:
                db.execute("BEGIN")
                yield db
                db.execute("COMMIT")
            except sqlite3.Error as e:
                _rollback(db)
                raise StoreError(self._failure(e)) from e
            except BaseException:
                _rollback(db)
                raise

    def _write_job(self, db: sqlite3.Connection, job: JobRecord) -> None:
        row = _row(job)
        db.execute(_UPDATE, (*row[1:], row[0]))
        self._wrote(db, self._clock())

    def _wrote(self, db: sqlite3.Connection, now: float) -> None:
        """Count a write; every PRUNE_EVERYth one also deletes a batch of expired rows in its transaction."""
        self._writes += 1
        if self._writes % PRUNE_EVERY == 0:
            _prune(db, now, PRUNE_BATCH)

    def _failure(self, e: BaseException) -> str:
        cause = " ".join(str(e).split()) or type(e).__name__
        return f"state file {self._path}: {cause}"

    def _take_file_lock(self) -> int:
        lock_path = self._path + ".lock"
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as e:
            raise StoreError(f"state file {self._path}: cannot open its lock file {lock_path}: {e.strerror}") from e
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_pid(fd)
            os.close(fd)
            raise StoreError(f"state file {self._path} is in use by another bot process{holder}; one file serves "
                             "one process, several processes need STATE_URL=redis://…") from None
        except OSError as e:
            os.close(fd)
            raise StoreError(f"state file {self._path}: cannot lock {lock_path}: {e.strerror}") from e
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        return fd

    def _drop_file_lock(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # closing the only descriptor of the lock file releases the flock
            self._lock_fd = None

    def _connect(self, synchronous: str) -> sqlite3.Connection:
        """Open the file, set WAL and `synchronous`, bring the schema to this version, drop expired rows."""
        try:
            db = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False, timeout=5.0)
        except sqlite3.Error as e:
            raise StoreError(self._failure(e)) from e
        try:
            db.row_factory = sqlite3.Row
            journal = str(db.execute("PRAGMA journal_mode = WAL").fetchone()[0])
            db.execute(f"PRAGMA synchronous = {synchronous}")
            level = int(db.execute("PRAGMA synchronous").fetchone()[0])
            _migrate(db, self._path)
            db.execute("BEGIN")
            _prune(db, self._clock(), None)
            db.execute("COMMIT")
        except sqlite3.Error as e:
            db.close()
            raise StoreError(self._failure(e)) from e
        except BaseException:
            db.close()
            raise
        self.info.extra = {"journal_mode": journal, "synchronous": {2: "FULL", 1: "NORMAL"}.get(level, str(level))}
        return db


def _migrate(db: sqlite3.Connection, path: str) -> None:
    version = int(db.execute("PRAGMA user_version").fetchone()[0])
    if version > SCHEMA_VERSION:
        raise StoreError(f"state file {path}: schema version {version} is newer than this bot's "
                         f"({SCHEMA_VERSION}); run a newer bot or use another file")
    for step in range(version, SCHEMA_VERSION):
        db.executescript(f"BEGIN; {MIGRATIONS[step]}; PRAGMA user_version = {step + 1}; COMMIT;")
    found = {str(row[1]) for row in db.execute("PRAGMA table_info(jobs)")}
    if found != set(_COLUMNS):
        raise StoreError(f"state file {path}: the jobs table does not match JobRecord (a field changed "
                         "without a migration)")


def _prune(db: sqlite3.Connection, now: float, batch: int | None) -> None:
    """Delete expired claims and values: at most `batch` rows per table, or all of them."""
    for table in ("claims", "kv", "counters"):
        if batch is None:
            db.execute(f"DELETE FROM {table} WHERE expires <= ?", (now,))
        else:
            db.execute(f"DELETE FROM {table} WHERE key IN "
                       f"(SELECT key FROM {table} WHERE expires <= ? LIMIT ?)", (now, batch))


def _live(db: sqlite3.Connection, table: str, key: str, now: float) -> bool:
    return db.execute(f"SELECT 1 FROM {table} WHERE key = ? AND expires > ?", (key, now)).fetchone() is not None


def _read_job(db: sqlite3.Connection, job_id: str) -> JobRecord | None:
    row = db.execute(_SELECT + ' WHERE "id" = ?', (job_id,)).fetchone()
    return None if row is None else _record(row)


def _row(job: JobRecord) -> tuple[Any, ...]:
    """The values of `_WRITTEN` for `job`, `id` first."""
    return tuple(json.dumps(list(job.parts)) if c == "parts" else getattr(job, c) for c in _WRITTEN)


def _record(row: sqlite3.Row) -> JobRecord:
    values = dict(zip(_COLUMNS, row, strict=True))
    values["parts"] = tuple(json.loads(values["parts"]))
    for name in _BOOLS:
        values[name] = bool(values[name])
    return JobRecord(**values)


def _rollback(db: sqlite3.Connection) -> None:
    if db.in_transaction:
        with suppress(sqlite3.Error):  # the error being raised already says what went wrong
            db.execute("ROLLBACK")


def _read_pid(fd: int) -> str:
    try:
        pid = os.pread(fd, 32, 0).decode().strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
