"""A message the bot should answer: what routing decided (`handlers.routing`), or what the journal kept of it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Request:
    """A message the bot should answer (if it has not already)."""

    team_id: str
    channel: str
    channel_type: str
    user: str
    user_team: str
    ts: str
    thread_ts: str  # the root of the thread the answer goes into
    trigger: str  # "mention" | "dm" | "follow_up"
    text: str
    in_thread: bool  # the message is a reply inside an existing thread
    needs_qualification: bool = False  # a follow-up: answer only if the thread was started for the bot
    ext_shared: bool = False
    files: tuple[dict[str, Any], ...] = ()
    attachments: tuple[dict[str, Any], ...] = ()
    blocks: tuple[dict[str, Any], ...] = ()

    @classmethod
    def from_record(cls, record: Any) -> Request:
        """The routing facts of a job read back from the journal (`bot.state.store.JobRecord`): no text, files or
        attachments — the message is read again from Slack."""
        return cls(team_id=record.team, channel=record.channel, channel_type=record.channel_type, user=record.user,
                   user_team=record.user_team, ts=record.ts, thread_ts=record.thread_ts, trigger=record.trigger,
                   text="", in_thread=record.in_thread, needs_qualification=record.qualify,
                   ext_shared=record.ext_shared)
