"""Which events are answered (handlers.routing.route), table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from handlers.routing import Ignore, Request, route

BOT = "UBOT"


def ev(**fields: Any) -> dict[str, Any]:
    base = {"type": "message", "channel": "C1", "channel_type": "channel", "user": "U1", "ts": "10.000001",
            "text": "hello"}
    base.update(fields)
    return {k: v for k, v in base.items() if v is not None}


CASES = [
    ("app-mention-top-level", ev(type="app_mention", text="<@UBOT> hi"), "mention", "10.000001"),
    ("app-mention-in-thread", ev(type="app_mention", text="<@UBOT> hi", thread_ts="5.000001"), "mention",
     "5.000001"),
    ("message-copy-of-mention", ev(text="<@UBOT> hi"), "mention", "10.000001"),
    ("mention-with-label", ev(text="<@UBOT|bot> hi"), "mention", "10.000001"),
    ("dm-top-level", ev(channel="D1", channel_type="im"), "dm", "10.000001"),
    ("dm-in-thread", ev(channel="D1", channel_type="im", thread_ts="5.000001"), "dm", "5.000001"),
    ("file-share-is-a-message", ev(channel="D1", channel_type="im", subtype="file_share"), "dm", "10.000001"),
    ("thread-broadcast", ev(text="<@UBOT> x", subtype="thread_broadcast", thread_ts="5.1"), "mention", "5.1"),
    ("follow-up-needs-qualification", ev(thread_ts="5.000001"), "follow_up", "5.000001"),
    ("group-dm-mention", ev(channel="G1", channel_type="mpim", text="<@UBOT> q"), "mention", "10.000001"),
]


@pytest.mark.parametrize(("event", "trigger", "thread"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_answered(event: dict[str, Any], trigger: str, thread: str) -> None:
    result = route(event, team_id="T1", bot_user_id=BOT, bot_id="BBOT")
    assert isinstance(result, Request)
    assert result.trigger == trigger
    assert result.thread_ts == thread
    assert result.needs_qualification == (trigger == "follow_up")


IGNORED = [
    ("own-post", ev(user=BOT, bot_id="BBOT")),
    ("other-bot", ev(bot_id="BOTHER", user="UOTHER", text="<@UBOT> loop?")),
    ("other-bot-mention-event", ev(type="app_mention", bot_id="BOTHER", text="<@UBOT> loop?")),
    ("edit", ev(subtype="message_changed", user=None)),
    ("delete", ev(subtype="message_deleted", user=None)),
    ("join", ev(subtype="channel_join", text="<@U1> has joined")),
    ("topic", ev(subtype="channel_topic")),
    ("unknown-subtype", ev(subtype="huddle_thread")),
    ("top-level-chatter", ev(text="lunch?")),
    ("reply-to-someone-else", ev(thread_ts="5.000001", text="<@U2> what do you think?")),
    ("no-user", ev(user=None)),
    ("unknown-type", ev(type="reaction_added")),
    ("malformed-no-ts", ev(ts=None, text="<@UBOT> x")),
]


@pytest.mark.parametrize("event", [c[1] for c in IGNORED], ids=[c[0] for c in IGNORED])
def test_ignored(event: dict[str, Any]) -> None:
    assert isinstance(route(event, team_id="T1", bot_user_id=BOT, bot_id="BBOT"), Ignore)


def test_reply_mentioning_bot_and_someone_else_is_answered() -> None:
    result = route(ev(thread_ts="5.1", text="<@U2> and <@UBOT> look"), team_id="T1", bot_user_id=BOT,
                   bot_id="BBOT")
    assert isinstance(result, Request) and result.trigger == "mention"
