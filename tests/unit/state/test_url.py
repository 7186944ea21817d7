"""STATE_URL: parse_state_url (pure, for config validation) and open_store (the backend it names)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.state import open_store, parse_state_url
from bot.state.memory import MemoryStore
from bot.state.sqlite import SqliteStore
from bot.state.store import StoreError
from tests.redis_server import RedisServer, free_port


@pytest.mark.parametrize(("url", "expected"), [
    ("", ("sqlite", "bot-state.db")),
    ("  ", ("sqlite", "bot-state.db")),
    ("sqlite:///bot-state.db", ("sqlite", "bot-state.db")),
    ("sqlite:///var/state.db", ("sqlite", "var/state.db")),  # three slashes: relative
    ("sqlite:////var/lib/bot/state.db", ("sqlite", "/var/lib/bot/state.db")),  # four: absolute
    ("SQLite:///state.db", ("sqlite", "state.db")),
    (" memory:// ", ("memory", "")),
    ("redis://localhost:6379/0", ("redis", "localhost:6379/0")),
    ("rediss://bot:s3cret@cache.example.com:6380/2?ssl_cert_reqs=none", ("redis", "cache.example.com:6380/2")),
    ("redis://:s3cret@cache", ("redis", "cache")),
], ids=["unset", "blank", "default", "relative", "absolute", "scheme-case", "memory", "redis", "rediss-password-query",
        "redis-password"])
def test_parse_accepted(url: str, expected: tuple[str, str]) -> None:
    assert parse_state_url(url) == expected


@pytest.mark.parametrize("url", [
    "bot-state.db", "/var/lib/bot/state.db", "sqlite://state.db", "sqlite:///", "sqlite:////var/lib/",
    "sqlite:///state.db?mode=ro", "memory://x", "memory:", "redis://", "redis://user:s3cret@", "postgres://db/x",
    "file:///state.db",
])
def test_parse_refused_names_the_forms(url: str) -> None:
    with pytest.raises(ValueError) as failure:
        parse_state_url(url)
    message = str(failure.value)
    for form in ("sqlite:///relative/path.db", "sqlite:////absolute/path.db", "memory://", "redis://"):
        assert form in message
    assert "s3cret" not in message and "\n" not in message


def test_open_default_is_bot_state_db_in_working_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store("")
    try:
        assert isinstance(store, SqliteStore) and store.info.location == "bot-state.db"
        assert (tmp_path / "bot-state.db").is_file()
    finally:
        store.close()


def test_open_absolute_sqlite(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path}/state.db")  # tmp_path starts with "/": four slashes
    store.close()
    assert (tmp_path / "state.db").is_file()


def test_open_memory_with_clock() -> None:
    now = [100.0]
    store = open_store("memory://", clock=lambda: now[0])
    assert isinstance(store, MemoryStore) and store.claim("k", 1.0)
    now[0] = 101.0
    assert store.claim("k", 1.0)  # the injected clock expired it


def test_open_redis(redis_server: RedisServer) -> None:
    store = open_store(redis_server.url, prefix="test-open:")
    try:
        assert store.info.name == "redis" and store.info.shared and store.claim("k", 5.0)
    finally:
        store.close()


def test_open_unreachable_redis_names_it_without_the_password() -> None:
    port = free_port()  # nothing listens there
    with pytest.raises(StoreError) as caught:
        open_store(f"redis://bot:s3cret@127.0.0.1:{port}/0")
    message = str(caught.value)
    assert message.startswith(f"cannot reach Redis at 127.0.0.1:{port}/0: ") and "s3cret" not in message


def test_open_bad_url_is_value_error() -> None:
    with pytest.raises(ValueError, match="memory://"):
        open_store("mem://")
