"""The bot's state store: `open_store(STATE_URL)` picks the backend; `bot.state.store` is the interface.

Accepted URLs (`parse_state_url` checks them without opening anything, for config validation):

* unset (`""`) — `sqlite:///bot-state.db`, a file in the working directory;
* `sqlite:///relative/path.db`, `sqlite:////absolute/path.db` — that file (its directory must exist);
* `memory://` — this process's memory, lost at exit;
* `redis://[user:password@]host:port/db`, `rediss://…` (TLS) — a Redis (or Valkey, ElastiCache, MemoryDB) that
  several bot processes share; its keys start with `KEY_PREFIX`.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bot.state.memory import MemoryStore
from bot.state.sqlite import SqliteStore
from bot.state.store import Accepted, JobRecord, Store, StoreError, StoreInfo

__all__ = ["Accepted", "JobRecord", "Store", "StoreError", "StoreInfo", "open_store", "parse_state_url"]

DEFAULT_URL = "sqlite:///bot-state.db"
FORMS = "sqlite:///relative/path.db, sqlite:////absolute/path.db, memory://, redis://host:port/db, rediss://…"


def parse_state_url(url: str) -> tuple[str, str]:
    """(kind, location) of a STATE_URL: ("sqlite", path), ("memory", ""), ("redis", host[:port][/db]) with any
    password left out; ValueError naming the accepted forms for anything else (pure)."""
    url = url.strip() or DEFAULT_URL
    scheme, sep, rest = url.partition("://")
    scheme = scheme.lower() if sep else ""
    if scheme == "sqlite":
        path = rest[1:] if rest.startswith("/") else ""
        if path and not path.endswith("/") and not re.search(r"[?#]", path):
            return "sqlite", path
    elif scheme == "memory" and rest == "":
        return "memory", ""
    elif scheme in ("redis", "rediss"):
        netloc, slash, path = rest.partition("/")
        host = netloc.rpartition("@")[2]  # user and password are not a location
        database = re.split(r"[?#]", path, maxsplit=1)[0]  # nor is a query (it may carry a password)
        if host:
            return "redis", host + (slash + database if database else "")
    raise ValueError(f"STATE_URL {_redacted(url)!r} is not one of: {FORMS}")


def open_store(url: str, *, clock: Callable[[], float] = time.time, prefix: str = "slackbot:") -> Store:
    """The store a STATE_URL names, opened (a Redis is pinged: unreachable at startup is a StoreError naming
    it). ValueError for a malformed URL, StoreError if it cannot be opened."""
    kind, location = parse_state_url(url)
    if kind == "sqlite":
        return SqliteStore(location, clock=clock)
    if kind == "memory":
        return MemoryStore(clock=clock)
    from bot.state.redis import RedisStore  # redis-py is only imported when a Redis is configured

    store = RedisStore(url.strip(), prefix=prefix, clock=clock, location=location)
    try:
        store.ping()
    except StoreError as error:
        store.close()
        reason = str(error).rpartition("(")[2].rstrip(")")
        raise StoreError(f"cannot reach Redis at {location}: {reason}") from None
    return store


def _redacted(url: str) -> str:
    """`url` without its user, password or query, fit for an error message."""
    return re.sub(r"\?.*", "?…", re.sub(r"//[^/]*@", "//…@", url))
