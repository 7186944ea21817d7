"""The fake Slack workspace itself: users, conversations and their messages, with no protocol attached.

``Workspace`` is the in-memory model both protocol servers share. It knows what Slack stores — who the
users are, which conversations exist and who is in them, every message with its thread fields
(``thread_ts``, ``reply_count``, ``latest_reply``…), tombstones for deleted thread parents — and hands out
message ``ts`` values that only ever grow. The Web API (``web_api/``) reads and changes it, ``events.py``
turns its changes into events, and ``socket_mode.py`` delivers them.

One lock guards the whole fake: ``Workspace.lock`` (an RLock), with ``Workspace.changed`` (a Condition on
it) notified whenever something a test may be waiting for changes. The other parts of the fake take both
from here, so every piece of state — workspace, calls, envelopes, connections — moves under one lock.
Methods named ``*_locked`` expect the caller to hold it; the others take it themselves.

The ids and tokens of the app under test and of one other app live here too (``BOT_TOKEN``, ``BOT_USER_ID``,
``OTHER_BOT_ID``…), with Slack's message-size limits.
"""

from __future__ import annotations

import copy
import re
import threading
import time
import uuid
from collections.abc import Iterable
from typing import Any, Literal

TEAM_ID = "T0TEAM"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
APP_ID = "A0APP"
BOT_TOKEN = "xoxb-fake-bot-token"
APP_TOKEN = "xapp-fake-app-token"
OTHER_BOT_ID = "BOTHER"
OTHER_BOT_USER_ID = "UOTHERBOT"
OTHER_APP_ID = "A0OTHER"

POST_TEXT_LIMIT = 40_000
UPDATE_TEXT_LIMIT = 4_000
REPLIES_MAX_LIMIT = 1_000

ChannelKind = Literal["public", "private", "im", "mpim"]
Json = dict[str, Any]

_FIRST_TS_MICROS = 1_700_000_000 * 1_000_000
_THREAD_FIELDS = ("thread_ts", "reply_count", "reply_users", "reply_users_count", "latest_reply")


def opt_str(value: Any) -> str | None:
    """A parameter as a string (None stays None), the way Slack reads ids and ts values."""
    if value is None:
        return None
    return value if isinstance(value, str) else str(value)


def is_reply(message: Json) -> bool:
    """True for a message inside a thread that is not the thread's parent."""
    return "thread_ts" in message and message["thread_ts"] != message["ts"]


def public(message: Json, *, with_metadata: bool = True) -> Json:
    """A copy of a stored message as Slack shows it (``metadata`` only when asked for)."""
    out = copy.deepcopy(message)
    if not with_metadata:
        out.pop("metadata", None)
    return out


def channel_type(channel: Json) -> str:
    """The ``channel_type`` of events about a conversation: im, mpim, group or channel."""
    if channel["is_im"]:
        return "im"
    if channel["is_mpim"]:
        return "mpim"
    return "group" if channel["is_group"] else "channel"


def bot_profile(bot_id: str = BOT_ID, app_id: str = APP_ID, name: str = "bot") -> Json:
    """The ``bot_profile`` Slack attaches to a bot's messages."""
    return {
        "id": bot_id,
        "app_id": app_id,
        "name": name,
        "deleted": False,
        "team_id": TEAM_ID,
        "updated": 1_600_000_000,
        "icons": {"image_36": "https://fake.slack.invalid/bot_36.png"},
    }


_MARKUP_RE = re.compile(
    r"<@(?P<user>[UW][A-Z0-9]+)(?:\|[^>]*)?>"
    r"|<#(?P<channel>[CGD][A-Z0-9]+)(?:\|[^>]*)?>"
    r"|<!subteam\^(?P<usergroup>[A-Z0-9]+)(?:\|[^>]*)?>"
    r"|<!(?P<broadcast>here|channel|everyone)(?:\|[^>]*)?>"
    r"|<(?P<url>(?:https?|mailto):[^|>]*)(?:\|(?P<label>[^>]*))?>"
    r"|:(?P<emoji>[a-z0-9_+-]+):"
)


def _unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def rich_text_blocks(text: str) -> list[Json]:
    """A rich_text block like Slack's client generates for a message's text: mentions, channels, user
    groups, broadcasts, links and emoji become their own elements, and text elements hold the characters
    themselves (``&``, not the ``&amp;`` of ``text``). Formatting (bold, lists, code) stays as written."""
    elements: list[Json] = []
    pos = 0
    for match in _MARKUP_RE.finditer(text):
        if match.start() > pos:
            elements.append({"type": "text", "text": _unescape(text[pos : match.start()])})
        kind = match.lastgroup if match.lastgroup != "label" else "url"
        if kind == "user":
            elements.append({"type": "user", "user_id": match.group("user")})
        elif kind == "channel":
            elements.append({"type": "channel", "channel_id": match.group("channel")})
        elif kind == "usergroup":
            elements.append({"type": "usergroup", "usergroup_id": match.group("usergroup")})
        elif kind == "broadcast":
            elements.append({"type": "broadcast", "range": match.group("broadcast")})
        elif kind == "url":
            link: Json = {"type": "link", "url": match.group("url")}
            if match.group("label"):
                link["text"] = _unescape(match.group("label"))
            elements.append(link)
        else:
            elements.append({"type": "emoji", "name": match.group("emoji")})
        pos = match.end()
    if pos < len(text):
        elements.append({"type": "text", "text": _unescape(text[pos:])})
    return [
        {
            "type": "rich_text",
            "block_id": uuid.uuid4().hex[:5],
            "elements": [{"type": "rich_text_section", "elements": elements}],
        }
    ]


class Workspace:
    """Users, conversations and messages of one team, guarded by the lock the whole fake shares."""

    def __init__(self, *, ts_from_clock: bool = True) -> None:
        """Create the default workspace (see ``load_defaults_locked``).

        ``ts_from_clock`` makes message ts values follow the wall clock like Slack's (still strictly
        increasing); False gives deterministic ``1700000000.000001``-style values.
        """
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.ts_from_clock = ts_from_clock
        self._ts_last = _FIRST_TS_MICROS
        self.users: dict[str, Json] = {}
        self.channels: dict[str, Json] = {}
        self.messages_by_channel: dict[str, dict[str, Json]] = {}
        self.metadata_limit: int | None = None
        self.reply_hooks: list[Any] = []  # called with (channel, thread_ts) when the app posts in a thread
        self.load_defaults_locked()

    def load_defaults_locked(self) -> None:
        """Replace everything with three people, two bots, and a few conversations of each kind."""
        self.users = {}
        self.channels = {}
        self.messages_by_channel = {}
        self.metadata_limit = None  # bytes of a message's metadata JSON Slack accepts (None: no limit)
        self.add_user("U1", name="alice")
        self.add_user("U2", name="bob")
        self.add_user("U3", name="carol")
        self.add_user(BOT_USER_ID, name="bot", is_bot=True)
        self.add_user(OTHER_BOT_USER_ID, name="otherbot", is_bot=True)
        self.add_channel("C1", "general", members=("U1", "U2", "U3"))
        self.add_channel("C2", "random", members=("U1", "U2"))
        self.add_channel("G1", "secret", kind="private", members=("U1",))
        self.add_channel("C9", "nobot", members=("U1", "U2"), bot_member=False)
        self.add_channel("D1", "", kind="im", members=("U1",))

    # ------------------------------------------------------------------ users and conversations

    def add_user(
        self,
        id: str,
        name: str | None = None,
        team_id: str = TEAM_ID,
        is_bot: bool = False,
        deleted: bool = False,
        real_name: str | None = None,
    ) -> Json:
        """Add (or replace) a user and return its record."""
        name = name or id.lower()
        user = {
            "id": id,
            "team_id": team_id,
            "name": name,
            "real_name": real_name or name.title(),
            "is_bot": is_bot,
            "deleted": deleted,
        }
        with self.lock:
            self.users[id] = user
        return user

    def add_channel(
        self,
        id: str,
        name: str,
        kind: ChannelKind = "public",
        members: Iterable[str] = (),
        bot_member: bool = True,
        archived: bool = False,
        ext_shared: bool = False,
        host_team: str | None = None,
    ) -> Json:
        """Add (or replace) a conversation and return its record.

        ``ext_shared`` makes it a Slack Connect channel; ``host_team`` is the organisation that hosts it
        (``conversation_host_id``; this workspace unless another one is named)."""
        if kind not in ("public", "private", "im", "mpim"):
            raise ValueError(f"unknown channel kind {kind!r}")
        member_set = set(members)
        if bot_member:
            member_set.add(BOT_USER_ID)
        channel = {
            "id": id,
            "name": name,
            "is_channel": kind == "public",
            "is_group": kind == "private",
            "is_im": kind == "im",
            "is_mpim": kind == "mpim",
            "is_private": kind != "public",
            "is_archived": archived,
            "is_ext_shared": ext_shared,
            "conversation_host_id": host_team or TEAM_ID,
            "members": member_set,
            "created": 1_600_000_000,
        }
        with self.lock:
            self.channels[id] = channel
            self.messages_by_channel.setdefault(id, {})
        return channel

    def set_bot_member(self, channel: str, member: bool = True) -> None:
        """Add the bot to a channel or remove it."""
        with self.lock:
            members = self.channels[channel]["members"]
            if member:
                members.add(BOT_USER_ID)
            else:
                members.discard(BOT_USER_ID)

    def archive_channel(self, channel: str, archived: bool = True) -> None:
        """Archive or unarchive a channel."""
        with self.lock:
            self.channels[channel]["is_archived"] = archived

    def resolve_channel(self, value: Any) -> str | None:
        """Resolve a channel id, ``#name``, name, or user id (the bot's DM with that user)."""
        key = opt_str(value)
        if not key:
            return None
        if key in self.channels:
            return key
        if key in self.users:
            for cid, channel in self.channels.items():
                if channel["is_im"] and channel["members"] == {key, BOT_USER_ID}:
                    return cid
            return None
        name = key.lstrip("#")
        for cid, channel in self.channels.items():
            if channel["name"] == name and not channel["is_im"]:
                return cid
        return None

    @staticmethod
    def visible_to_bot(channel: Json) -> bool:
        """Public conversations are visible to the bot; private ones only when it is a member."""
        return not channel["is_private"] or BOT_USER_ID in channel["members"]

    def visible_channel(self, value: Any) -> str | None:
        """The id of the conversation ``value`` names, if the bot can see it (else Slack says channel_not_found)."""
        channel_id = self.resolve_channel(value)
        if channel_id is None or not self.visible_to_bot(self.channels[channel_id]):
            return None
        return channel_id

    def postable_channel(self, value: Any) -> tuple[str, None] | tuple[None, str]:
        """``(channel id, None)`` where the bot may post, else ``(None, Slack's error code)``.

        Slack hides private conversations the bot is not in (channel_not_found); a public one it has not
        joined is not_in_channel; an archived one is_archived."""
        channel_id = self.resolve_channel(value)
        if channel_id is None:
            return None, "channel_not_found"
        channel = self.channels[channel_id]
        if BOT_USER_ID not in channel["members"]:
            return None, "channel_not_found" if channel["is_private"] else "not_in_channel"
        if channel["is_archived"]:
            return None, "is_archived"
        return channel_id, None

    def live_message(self, channel_id: str, ts: Any) -> Json | None:
        """The message at ``ts`` in the channel, unless there is none or only its tombstone is left."""
        message = self.messages_by_channel[channel_id].get(opt_str(ts) or "")
        if message is None or message.get("subtype") == "tombstone":
            return None
        return message

    def bots_message(self, channel: Any, ts: Any, refusal: str) -> tuple[str, Json] | str:
        """``(channel id, message)`` of one of the bot's own live messages, else Slack's error code: the
        conversation hidden (channel_not_found), no such message (message_not_found), or someone else's
        (``refusal``: cant_update_message, cant_delete_message)."""
        channel_id = self.visible_channel(channel)
        if channel_id is None:
            return "channel_not_found"
        message = self.live_message(channel_id, ts)
        if message is None:
            return "message_not_found"
        if message.get("bot_id") != BOT_ID:
            return refusal
        return channel_id, message

    # ------------------------------------------------------------------ messages

    def next_ts(self) -> str:
        """A new message ts, strictly greater than every earlier one."""
        with self.lock:
            micros = self._ts_last + 1
            if self.ts_from_clock:
                micros = max(micros, int(time.time() * 1_000_000))
            self._ts_last = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def store_message_locked(self, channel_id: str, message: Json, thread_ts: str | None) -> None:
        """Store a new message; attach it to its thread (or leave it orphaned like Slack does)."""
        messages = self.messages_by_channel[channel_id]
        if thread_ts:
            message["thread_ts"] = thread_ts
            parent = messages.get(thread_ts)
            if parent is not None and not is_reply(parent):
                message["parent_user_id"] = parent.get("user")
        messages[message["ts"]] = message
        if thread_ts:
            self._recount_thread_locked(channel_id, thread_ts)

    def app_replied_locked(self, channel_id: str, thread_ts: str | None) -> None:
        """The app posted in a thread (a message or a stream): what that changes elsewhere (a status goes)."""
        if thread_ts:
            for hook in self.reply_hooks:
                hook(channel_id, thread_ts)

    def _recount_thread_locked(self, channel_id: str, parent_ts: str) -> None:
        messages = self.messages_by_channel[channel_id]
        parent = messages.get(parent_ts)
        if parent is None or is_reply(parent):
            return
        replies = [m for m in messages.values() if m.get("thread_ts") == parent_ts and m["ts"] != parent_ts]
        if replies:
            users = list(dict.fromkeys(m.get("user") for m in replies if m.get("user")))
            parent.update(
                thread_ts=parent_ts,
                reply_count=len(replies),
                reply_users=users,
                reply_users_count=len(users),
                latest_reply=replies[-1]["ts"],
            )
        elif parent.get("subtype") == "tombstone":
            del messages[parent_ts]
        else:
            for key in _THREAD_FIELDS:
                parent.pop(key, None)

    def remove_message_locked(self, channel_id: str, ts: str) -> Json:
        """Delete a message; a thread parent with replies becomes a tombstone, like on Slack."""
        messages = self.messages_by_channel[channel_id]
        old = messages[ts]
        if is_reply(old):
            del messages[ts]
            self._recount_thread_locked(channel_id, old["thread_ts"])
        elif old.get("reply_count"):
            messages[ts] = {
                "type": "message",
                "subtype": "tombstone",
                "text": "This message was deleted.",
                "user": "USLACKBOT",
                "hidden": True,
                "ts": ts,
                **{k: old[k] for k in _THREAD_FIELDS if k in old},
                "is_locked": False,
            }
        else:
            del messages[ts]
        return old

    # ------------------------------------------------------------------ what people and other apps do

    def post_user_message_locked(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[Json] | None = None,
        subtype: str | None = None,
        blocks: list[Json] | None = None,
        attachments: list[Json] | None = None,
    ) -> Json:
        """Store a message a user writes in Slack's client and return it (the stored record).

        ``attachments`` are what Slack adds to a forwarded message (the original as an ``is_share``
        attachment)."""
        if channel not in self.channels:
            raise KeyError(channel)  # before a ts is spent on it
        team = self.users.get(user, {}).get("team_id", TEAM_ID)
        message: Json = {
            "client_msg_id": str(uuid.uuid4()),
            "type": "message",
            "text": text,
            "user": user,
            "ts": self.next_ts(),
            "blocks": blocks if blocks is not None else rich_text_blocks(text),
            "team": team,
        }
        if self.channels[channel]["is_ext_shared"]:  # Slack Connect messages say whose the author is
            message.update(user_team=team, source_team=team)
        if attachments:
            message["attachments"] = copy.deepcopy(attachments)
        if files:
            message["files"] = copy.deepcopy(files)
            message["upload"] = False
            message["subtype"] = subtype or "file_share"
        elif subtype:
            message["subtype"] = subtype
        self.store_message_locked(channel, message, thread_ts)
        return message

    def add_history_locked(
        self, channel: str, user: str, text: str, *, thread_ts: str | None, metadata: Json | None, bot: bool
    ) -> Json:
        """Store a message as a user's (or, with ``bot``, as this bot's own) and return it."""
        message: Json = {"type": "message", "text": text, "ts": self.next_ts(),
                         "team": self.users.get(user, {}).get("team_id", TEAM_ID)}
        if bot:
            message.update(user=BOT_USER_ID, bot_id=BOT_ID, app_id=APP_ID)
            if metadata is not None:
                message["metadata"] = copy.deepcopy(metadata)
        else:
            message.update(user=user, client_msg_id=str(uuid.uuid4()), blocks=rich_text_blocks(text))
        self.store_message_locked(channel, message, thread_ts)
        return message

    def edit_user_message_locked(self, channel: str, ts: str, new_text: str) -> tuple[Json, Json, str]:
        """Edit a message as its author; return the message, a copy of it before, and the edit's ts."""
        message = self.messages_by_channel[channel][ts]
        previous = public(message)
        message["text"] = new_text
        if "blocks" in message:
            message["blocks"] = rich_text_blocks(new_text)
        edit_ts = self.next_ts()
        message["edited"] = {"user": message.get("user"), "ts": edit_ts}
        return message, previous, edit_ts

    def post_other_bot_message_locked(
        self,
        channel: str,
        text: str,
        thread_ts: str | None,
        *,
        attachments: list[Json] | None = None,
        blocks: list[Json] | None = None,
    ) -> Json:
        """Store a message from a different app's bot (bot_id BOTHER, user UOTHERBOT) and return it."""
        message: Json = {
            "type": "message",
            "user": OTHER_BOT_USER_ID,
            "bot_id": OTHER_BOT_ID,
            "app_id": OTHER_APP_ID,
            "text": text,
            "ts": self.next_ts(),
            "team": TEAM_ID,
            "bot_profile": bot_profile(OTHER_BOT_ID, OTHER_APP_ID, "otherbot"),
        }
        if attachments:
            message["attachments"] = copy.deepcopy(attachments)
        if blocks:
            message["blocks"] = copy.deepcopy(blocks)
        self.store_message_locked(channel, message, thread_ts)
        return message

    # ------------------------------------------------------------------ views (copies, safe to keep)

    def messages(self, channel: str) -> list[Json]:
        """All messages of a channel (replies included) in ts order."""
        with self.lock:
            return [copy.deepcopy(m) for m in self.messages_by_channel.get(channel, {}).values()]

    def message(self, channel: str, ts: str) -> Json | None:
        """One message, or None."""
        with self.lock:
            found = self.messages_by_channel.get(channel, {}).get(ts)
            return copy.deepcopy(found) if found is not None else None

    def thread(self, channel: str, thread_ts: str) -> list[Json]:
        """The parent (if it exists) followed by its replies in ts order."""
        with self.lock:
            return [
                copy.deepcopy(m)
                for m in self.messages_by_channel.get(channel, {}).values()
                if m["ts"] == thread_ts or m.get("thread_ts") == thread_ts
            ]
