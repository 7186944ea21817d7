"""The Events API: which events Slack sends the app when something happens in the workspace.

A message posted in a conversation the bot is a member of becomes a ``message`` event — the bot's own
posts included, as on Slack; an edit becomes ``message`` / ``message_changed`` and a deletion
``message`` / ``message_deleted`` (both ``hidden``, without metadata) — except for a thread's parent with
replies, which becomes a tombstone announced by ``message_changed``. A user's message that mentions the
bot outside a DM also becomes an ``app_mention``, before or after the ``message`` event, or instead of
it, as a test chooses (Slack does not promise an order). Conversations the bot is not in produce nothing.

In a Slack Connect channel hosted by another organisation, the two copies of a user's message come in
envelopes as Slack sends them (bolt-python's Slack Connect test shapes): the ``app_mention``'s top-level
``team_id`` and its event's ``team`` are the *host's*, with the author's workspace in ``user_team``,
``source_team`` and ``user_profile.team``; the ``message`` copy's ``team_id`` is this workspace's, with
the host in ``context_team_id``. ``authorizations`` always name this workspace.

``Events`` only decides what to send; ``SocketModeServer.push_locked`` wraps each event in an envelope
and delivers it. Every method here expects the fake's one lock (``Workspace.lock``) to be held and
leaves the caller to ``pump`` the Socket Mode server afterwards.
"""

from __future__ import annotations

from typing import Literal

from .socket_mode import SocketModeServer
from .workspace import BOT_USER_ID, TEAM_ID, Json, Workspace, channel_type, is_reply, public

MentionOrder = Literal["mention_first", "message_first", "mention_only", "message_only"]
MENTION_ORDERS: tuple[MentionOrder, ...] = ("mention_first", "message_first", "mention_only", "message_only")


def bot_receives(channel: Json) -> bool:
    """The app hears about a conversation's messages only while its bot is a member."""
    return BOT_USER_ID in channel["members"]


def hosted_elsewhere(channel: Json) -> str | None:
    """The host organisation of a Slack Connect channel that another organisation hosts, else None."""
    host = channel.get("conversation_host_id") or TEAM_ID
    return host if channel["is_ext_shared"] and host != TEAM_ID else None


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
        host = hosted_elsewhere(channel)
        events: list[tuple[Json, Json | None]] = []
        if mention_order != "mention_only":
            event = public(message)
            event.update(channel=channel_id, event_ts=message["ts"], channel_type=channel_type(channel))
            events.append((event, {"team_id": TEAM_ID, "context_team_id": host} if host else None))
        if f"<@{BOT_USER_ID}>" in message["text"] and not channel["is_im"] and mention_order != "message_only":
            mention = {
                "type": "app_mention",
                **{k: v for k, v in public(message).items() if k not in ("type", "subtype", "upload")},
            }
            mention.update(channel=channel_id, event_ts=message["ts"])
            envelope = None
            if host:
                author = message.get("team", TEAM_ID)
                mention.update(team=host, user_team=author, source_team=author, user_profile={"team": author})
                envelope = {"team_id": host, "context_team_id": host}
            if mention_order in ("mention_first", "mention_only"):
                events.insert(0, (mention, envelope))
            else:
                events.append((mention, envelope))
        for event, payload in events:
            self._socket_mode.push_locked(event, payload=payload)

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
        """A deleted message: ``message_deleted`` (with ``thread_ts`` for a reply), at a new event ts.

        A thread parent with replies is not removed but replaced by its tombstone, and Slack says so with
        ``message_changed`` carrying the tombstone (subtype ``tombstone``, "This message was deleted.")."""
        channel = self._workspace.channels[channel_id]
        if not bot_receives(channel):
            return
        event_ts = self._workspace.next_ts()
        tombstone = self._workspace.messages_by_channel[channel_id].get(old["ts"])
        if tombstone is not None and tombstone.get("subtype") == "tombstone":
            self._socket_mode.push_locked(
                {
                    "type": "message",
                    "subtype": "message_changed",
                    "hidden": True,
                    "message": public(tombstone, with_metadata=False),
                    "previous_message": public(old, with_metadata=False),
                    "channel": channel_id,
                    "ts": event_ts,
                    "event_ts": event_ts,
                    "channel_type": channel_type(channel),
                }
            )
            return
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
