"""Which threads were started for the bot: the thread registry, kept in the state store.

`None` means unknown (e.g. a thread from before the bot knew it): the caller asks Slack once and records the
answer; concurrent questions about one thread in this process wait for that one answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from bot.state import keys
from bot.state.store import Store


class ThreadRegistry:
    """Whether a thread was started for the bot (its root mentions the bot, or it is a DM thread)."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._pending: dict[str, threading.Lock] = {}

    def get(self, team_id: str, channel: str, thread_ts: str) -> bool | None:
        value = self._store.get(keys.thread(team_id, channel, thread_ts))
        return None if value is None else value == "1"

    def set(self, team_id: str, channel: str, thread_ts: str, started_for_bot: bool) -> None:
        self._store.put(keys.thread(team_id, channel, thread_ts), "1" if started_for_bot else "0", keys.THREAD_TTL)

    def resolve(self, team_id: str, channel: str, thread_ts: str, ask: Callable[[], bool]) -> bool:
        """The recorded answer, or `ask()` once per thread even when several messages race for it."""
        key = keys.thread(team_id, channel, thread_ts)
        with self._lock:
            gate = self._pending.setdefault(key, threading.Lock())
        with gate:
            known = self.get(team_id, channel, thread_ts)
            if known is None:
                known = ask()
                self.set(team_id, channel, thread_ts, known)
        with self._lock:
            self._pending.pop(key, None)
        return known
