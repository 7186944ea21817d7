"""Which threads were started for the bot: the rule (pure) and the thread registry (thread-safe, per process).

A thread was started for the bot if its root mentions the bot, or if one of the bot's answers in the
thread answers the root itself (the `reply_to` of its metadata marks is the root's ts). The second half
keeps a conversation the bot's after its root is deleted: Slack then shows the root as a tombstone
("This message was deleted.", no mention), while the bot's answer to it and its marks stay. A thread
started by people talking among themselves, where someone later asked the bot, has no answer to its root.

The registry is keyed by workspace (`team_id`) first, so that moving it to shared storage is a change of
that class, not of its callers.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.slack.marks import read_marks
from bot.slack.markup import mentions

TOMBSTONE = "tombstone"  # the subtype of a deleted thread root that still has replies


def started_for_bot(root: Mapping[str, Any] | None, messages: Iterable[Mapping[str, Any]], *,
                    bot_user_id: str, bot_id: str) -> bool:
    """Was the thread of `root` started for the bot? `messages` are the thread's (root first, as
    conversations.replies returns them, read with `include_all_metadata`)."""
    if not root:
        return False
    if mentions(str(root.get("text") or ""), bot_user_id):
        return True
    root_ts = root.get("ts")
    for message in messages:
        ours = message.get("user") == bot_user_id or (bool(bot_id) and message.get("bot_id") == bot_id)
        marks = read_marks(message) if ours else None
        if marks is not None and marks.get("reply_to") == root_ts:
            return True
    return False


def settled(messages: Sequence[Mapping[str, Any]], *, bot_user_id: str, bot_id: str) -> bool:
    """Do the first messages of a thread (root first) already decide `started_for_bot`?

    An intact root does: the bot answers a root as soon as it is posted, so an answer to it is among the
    first replies. A deleted root (a tombstone) only once an answer to it has been seen; until then the
    caller reads on.
    """
    if not messages:
        return False
    root = messages[0]
    return root.get("subtype") != TOMBSTONE or started_for_bot(root, messages, bot_user_id=bot_user_id,
                                                                 bot_id=bot_id)


class ThreadRegistry:
    """Whether a thread was started for the bot (`started_for_bot`, or it is a DM thread).

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
