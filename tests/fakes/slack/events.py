"""The Events API: which events Slack sends the app when something happens in the workspace.

A message posted in a conversation the bot is a member of becomes a ``message`` event — the bot's own
posts included, as on Slack; an edit becomes ``message`` / ``message_changed`` and a deletion
``message`` / ``message_deleted`` (both ``hidden``, without metadata). A user's message that mentions the
bot outside a DM also becomes an ``app_mention``, before or after the ``message`` event, or instead of
it, as a test chooses (Slack does not promise an order). Conversations the bot is not in produce nothing.

``Events`` only decides what to send; ``SocketModeServer.push_locked`` wraps each event in an envelope
and delivers it. Every method here expects the fake's one lock (``Workspace.lock``) to be held and
leaves the caller to ``pump`` the Socket Mode server afterwards.
"""

from __future__ import annotations

from typing import Literal

from .socket_mode import SocketModeServer
from .workspace import BOT_USER_ID, Json, Workspace, channel_type, is_reply, public

MentionOrder = Literal["mention_first", "message_first", "mention_only", "message_only"]
MENTION_ORDERS: tuple[MentionOrder, ...] = ("mention_first", "message_first", "mention_only", "message_only")


def bot_receives(channel: Json) -> bool:
    """The app hears about a conversation's messages only while its bot is a member."""
    return BOT_USER_ID in channel["members"]


class Events:
    """Turns changes of the workspace into events and hands them to Socket Mode."""

    def __init__(self, workspace: Workspace, socket_mode: SocketModeServer) -> None:
        self._workspace = workspace
        self._socket_mode = socket_mode

    def user_posted_locked(self, channel_id: str, message: Json, mention_order: MentionOrder) -> None:
        """A user's new message: ``message`` and, if it mentions the bot, ``app_mention``."""
        channel = self._workspace.channels[channel_id]
        if not bot_receives(channel):
            return
        events: list[Json] = []
        if mention_order != "mention_only":
            event = public(message)
            event.update(channel=channel_id, event_ts=message["ts"], channel_type=channel_type(channel))
            events.append(event)
        if f"<@{BOT_USER_ID}>" in message["text"] and not channel["is_im"] and mention_order != "message_only":
            mention = {
                "type": "app_mention",
                **{k: v for k, v in public(message).items() if k not in ("type", "subtype", "upload")},
            }
            mention.update(channel=channel_id, event_ts=message["ts"])
            if mention_order in ("mention_first", "mention_only"):
                events.insert(0, mention)
            else:
                events.append(mention)
        for event in events:
            self._socket_mode.push_locked(event)

    def message_posted_locked(self, channel_id: str, message: Json) -> None:
        """A new message from a bot (this one or another app's): a ``message`` event without metadata."""
        channel = self._workspace.channels[channel_id]
        if not bot_receives(channel):
            return
        event = public(message, with_metadata=False)
        event.update(channel=channel_id, event_ts=message["ts"], channel_type=channel_type(channel))
        self._socket_mode.push_locked(event)

    def message_changed_locked(self, channel_id: str, message: Json, previous: Json, event_ts: str) -> None:
        """An edited message: ``message_changed`` with the message after and before; and, if the edited text
        mentions the bot, ``app_mention`` again (same ts, with ``edited``, a new event id), as Slack does."""
        channel = self._workspace.channels[channel_id]
        if not bot_receives(channel):
            return
        if f"<@{BOT_USER_ID}>" in message.get("text", "") and not channel["is_im"] and not message.get("bot_id"):
            mention = {"type": "app_mention",
                       **{k: v for k, v in public(message).items() if k not in ("type", "subtype", "upload")}}
            mention.update(channel=channel_id, event_ts=event_ts)
            self._socket_mode.push_locked(mention)
        self._socket_mode.push_locked(
            {
                "type": "message",
                "subtype": "message_changed",
                "hidden": True,
                "message": public(message, with_metadata=False),
                "previous_message": public(previous, with_metadata=False),
                "channel": channel_id,
                "ts": event_ts,
                "event_ts": event_ts,
                "channel_type": channel_type(channel),
            }
        )

    def message_deleted_locked(self, channel_id: str, old: Json) -> None:
        """A deleted message: ``message_deleted`` (with ``thread_ts`` for a reply), at a new event ts."""
        channel = self._workspace.channels[channel_id]
        if not bot_receives(channel):
            return
        event_ts = self._workspace.next_ts()
        event: Json = {
            "type": "message",
            "subtype": "message_deleted",
            "hidden": True,
            "deleted_ts": old["ts"],
            "previous_message": public(old, with_metadata=False),
            "channel": channel_id,
            "ts": event_ts,
            "event_ts": event_ts,
            "channel_type": channel_type(channel),
        }
        if is_reply(old):
            event["thread_ts"] = old["thread_ts"]
        self._socket_mode.push_locked(event)
