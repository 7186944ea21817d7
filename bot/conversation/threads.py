"""Which threads were started for the bot: the rule (pure) and the thread registry, kept in the state store.

A thread was started for the bot if its root mentions the bot, or if one of the bot's answers in the
thread answers the root itself (the `reply_to` of its metadata marks is the root's ts). The second half
keeps a conversation the bot's after its root is deleted: Slack then shows the root as a tombstone
("This message was deleted.", no mention), while the bot's answer to it and its marks stay. A thread
started by people talking among themselves, where someone later asked the bot, has no answer to its root.

The registry answers `None` for a thread it does not know (e.g. one from before the bot knew it): the
caller asks Slack once and records the answer; concurrent questions about one thread in this process wait
for that one answer.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from bot.conversation.history import ts_key
from bot.slack.marks import read_marks
from bot.slack.markup import mentions
from bot.state import keys
from bot.state.store import Store

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


def unanswered_before(messages: Iterable[Mapping[str, Any]], ts: str, *,
                      trigger_of: Callable[[Mapping[str, Any]], str | None], started_for_bot: bool, now: float,
                      within: float) -> str | None:
    """The ts of a message of the thread posted before `ts`, at most `within` seconds before `now`, that the bot
    answers (`trigger_of` says how it would be routed; a follow-up only in a thread started for the bot) and has
    not answered (no mark of the bot names it); None if there is none.

    With several processes, that message's event may still be on its way to another process (Slack gives each
    event to one connection): the answer to `ts` waits for it to be journaled, so that the thread's answers
    come in the order of its messages. Past `within` it is taken to be one the bot leaves unanswered.
    """
    messages = list(messages)
    answered = {str(marks.get("reply_to")) for marks in map(read_marks, messages) if marks is not None}
    before = ts_key(ts)
    for message in messages:
        earlier = message.get("ts")
        if not isinstance(earlier, str) or ts_key(earlier) >= before or earlier in answered:
            continue
        if now - float(earlier) > within:
            continue
        trigger = trigger_of(message)
        if trigger is not None and (trigger != "follow_up" or started_for_bot):
            return earlier
    return None


class ThreadRegistry:
    """Whether a thread was started for the bot (`started_for_bot`, or it is a DM thread)."""

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
