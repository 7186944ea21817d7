"""Which Slack events the bot answers (pure predicates over event payloads).

The rules, in order (the README repeats them):
1. Never: other event types; message subtypes other than a plain message, `file_share` and
   `thread_broadcast` (edits, deletions, joins, topic changes…); messages from any bot, including this
   one (no bot-to-bot loops); messages without a user.
2. Direct messages: always (a top-level DM starts a conversation in its thread).
3. A message that mentions the bot (`app_mention`, or the `message` copy of the same mention): always,
   in the message's thread.
4. A reply in a channel thread without a mention: only if the thread was started for the bot (its root
   mentions the bot, or the bot answered the root: `bot.conversation.threads.started_for_bot`) — decided
   by the caller, who remembers threads — and not when the reply mentions someone else but not the bot
   (people talking to each other).
5. Anything else (top-level chatter, replies in other threads): no.

Whose workspace is whose (Slack Connect): "our team" is decided once per envelope by `installing_team`
(`authorizations[0].team_id`, as Bolt does: in a shared channel the envelope's top-level `team_id` can be
the other organisation's), and the author's team by `author_team`. Both copies of one message (its
`app_mention` and its `message` event) carry the same authorizations, so they get the same decision.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from bot.conversation.request import Request
from bot.slack.markup import mentions, mentions_others

# Message subtypes the bot answers: a plain message, a file upload, a reply also sent to the channel.
ANSWERED_SUBTYPES = frozenset({None, "file_share", "thread_broadcast"})


@dataclass(frozen=True)
class Ignore:
    reason: str


@dataclass(frozen=True)
class Deleted:
    """One of the bot's own messages was deleted: if an answer is still writing into it, it stops."""

    team_id: str
    channel: str
    ts: str


def installing_team(body: Mapping[str, Any], fallback: str) -> str:
    """The workspace the bot is installed in, for one envelope: `authorizations[0].team_id`, else the
    envelope's `team_id` (an org-wide install has no team in its authorization), else `fallback`
    (auth.test's team)."""
    authorizations = body.get("authorizations")
    if isinstance(authorizations, list) and authorizations and isinstance(authorizations[0], Mapping):
        team = authorizations[0].get("team_id")
        if isinstance(team, str) and team:
            return team
    team = body.get("team_id")
    return team if isinstance(team, str) and team else fallback


def author_team(event: Mapping[str, Any]) -> str:
    """The workspace of the message's author, or "" if the event does not tell (the caller may ask Slack).

    `user_team` first: in a shared channel an `app_mention`'s `team` is the channel's host organisation,
    not the author's. Then `user_profile.team`, then `team`. An enterprise id (`E…`, which `user_team` can
    be for someone from an Enterprise Grid org) names no workspace: unknown.
    """
    profile = event.get("user_profile")
    for team in (event.get("user_team"), profile.get("team") if isinstance(profile, Mapping) else None,
                 event.get("team")):
        if isinstance(team, str) and team:
            return "" if team.startswith("E") else team
    return ""


def route(event: Mapping[str, Any], *, team_id: str, bot_user_id: str, bot_id: str,
          ext_shared: bool = False) -> Request | Deleted | Ignore:
    """Decide what to do with one event (see the module docstring)."""
    kind = event.get("type")
    if kind not in ("app_mention", "message"):
        return Ignore(f"event type {kind}")
    subtype = event.get("subtype")
    if subtype == "message_deleted":
        previous = event.get("previous_message") or {}
        deleted_ts, channel = event.get("deleted_ts") or previous.get("ts"), event.get("channel")
        ours = previous.get("user") == bot_user_id or (bot_id and previous.get("bot_id") == bot_id)
        if ours and isinstance(deleted_ts, str) and isinstance(channel, str):
            return Deleted(team_id=team_id, channel=channel, ts=deleted_ts)
        return Ignore("a deleted message")
    if subtype not in ANSWERED_SUBTYPES:
        return Ignore(f"subtype {subtype}")
    user = event.get("user")
    if event.get("bot_id") or event.get("bot_profile") or user == bot_user_id:
        return Ignore("from a bot")
    if not isinstance(user, str) or not user:
        return Ignore("no user")
    channel = event.get("channel")
    ts = event.get("ts")
    if not isinstance(channel, str) or not isinstance(ts, str):
        return Ignore("malformed event")
    text = str(event.get("text") or "")
    thread_ts = event.get("thread_ts")
    in_thread = isinstance(thread_ts, str) and thread_ts != ts
    root = thread_ts if isinstance(thread_ts, str) and thread_ts else ts
    channel_type = str(event.get("channel_type") or ("im" if channel.startswith("D") else "channel"))

    def dicts(key: str) -> tuple[dict[str, Any], ...]:
        value = event.get(key)
        return tuple(v for v in value if isinstance(v, dict)) if isinstance(value, list) else ()

    def request(trigger: str, *, qualify: bool = False) -> Request:
        return Request(team_id=team_id, channel=channel, channel_type=channel_type, user=user,
                       user_team=author_team(event), ts=ts,
                       thread_ts=root, trigger=trigger, text=text, in_thread=in_thread,
                       needs_qualification=qualify, ext_shared=ext_shared,
                       files=dicts("files"), attachments=dicts("attachments"), blocks=dicts("blocks"))

    if kind == "app_mention":
        return request("mention")
    if channel_type == "im":
        return request("dm")
    if mentions(text, bot_user_id):
        return request("mention")
    if in_thread:
        if mentions_others(text, bot_user_id):
            return Ignore("a reply addressed to someone else")
        return request("follow_up", qualify=True)
    return Ignore("not addressed to the bot")


def trigger_of(message: Mapping[str, Any], *, channel: str, channel_type: str, team_id: str, bot_user_id: str,
               bot_id: str) -> str | None:
    """How a message read back from a thread (`conversations.replies`) would have been routed: its trigger
    ("mention", "dm", "follow_up": the caller knows whether the thread is the bot's), or None."""
    event = {**message, "type": "message", "channel": channel, "channel_type": channel_type}
    decided = route(event, team_id=team_id, bot_user_id=bot_user_id, bot_id=bot_id)
    return decided.trigger if isinstance(decided, Request) else None
