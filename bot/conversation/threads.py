"""Which threads were started for the bot: the thread registry (thread-safe, per process).

Keyed by workspace (`team_id`) first, so that moving it to shared storage is a change of this class, not
of its callers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable


class ThreadRegistry:
    """Whether a thread was started for the bot (its root mentions the bot, or it is a DM thread).

    `None` means unknown (e.g. after a restart): the caller asks Slack once and records the answer.
    """

    def __init__(self, capacity: int = 50000) -> None:
        self._known: OrderedDict[tuple[str, str, str], bool] = OrderedDict()
        self._capacity = capacity
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str, str], threading.Lock] = {}

    def get(self, team_id: str, channel: str, thread_ts: str) -> bool | None:
        with self._lock:
            return self._known.get((team_id, channel, thread_ts))

    def set(self, team_id: str, channel: str, thread_ts: str, started_for_bot: bool) -> None:
        key = (team_id, channel, thread_ts)
        with self._lock:
            self._known[key] = started_for_bot
            self._known.move_to_end(key)
            while len(self._known) > self._capacity:
                self._known.popitem(last=False)

    def resolve(self, team_id: str, channel: str, thread_ts: str, ask: Callable[[], bool]) -> bool:
        """The recorded answer, or `ask()` once per thread even when several messages race for it."""
        key = (team_id, channel, thread_ts)
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
