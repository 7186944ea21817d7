"""Which events are answered (handlers.routing.route), table-driven."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.request import Request
from handlers.routing import Ignore, author_team, installing_team, route

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


def test_request_carries_blocks_attachments_and_files_and_skips_malformed_ones() -> None:
    block = {"type": "rich_text", "elements": [{"type": "rich_text_section", "elements": [{"type": "text",
                                                                                          "text": "hi"}]}]}
    share = {"is_share": True, "text": "forwarded"}
    result = route(ev(channel="D1", channel_type="im", blocks=[block, "x"], attachments=[share, 3], files=7),
                   team_id="T1", bot_user_id=BOT, bot_id="BBOT")
    assert isinstance(result, Request)
    assert (result.blocks, result.attachments, result.files) == ((block,), (share,), ())


def test_reply_mentioning_bot_and_someone_else_is_answered() -> None:
    result = route(ev(thread_ts="5.1", text="<@U2> and <@UBOT> look"), team_id="T1", bot_user_id=BOT,
                   bot_id="BBOT")
    assert isinstance(result, Request) and result.trigger == "mention"


# --- Slack Connect: whose workspace is whose ------------------------------------------------------------
# Envelopes as Slack sends them in a shared channel (shapes of bolt-python's tests/scenario_tests and
# test_internals.py): the installing workspace is T03E94MJU (the bot is U04T5KKKLUE); the channel's host
# organisation is T014GJXU940. The two copies of one message carry different top-level `team_id`s.
OURS, THEIRS = "T03E94MJU", "T014GJXU940"
CONNECT_BOT = "U04T5KKKLUE"
AUTHORIZATIONS = [{"enterprise_id": None, "team_id": OURS, "user_id": CONNECT_BOT, "is_bot": True,
                   "is_enterprise_install": False}]


def envelope(event: dict[str, Any], **payload: Any) -> dict[str, Any]:
    return {"api_app_id": "A04TEM7H4S0", "type": "event_callback", "event_id": "Ev04TGK3UT34",
            "authorizations": AUTHORIZATIONS, "is_ext_shared_channel": True, "event": event, **payload}


MEMBER_MENTION = envelope(
    {"type": "app_mention", "user": "U03E94MK0", "team": THEIRS, "user_team": OURS, "source_team": OURS,
     "user_profile": {"team": OURS}, "channel": "C04T3ACM40K", "ts": "1678451405.023359",
     "text": f"<@{CONNECT_BOT}> hey"},
    team_id=THEIRS, enterprise_id="E013Y3SHLAY")
MEMBER_MESSAGE = envelope(
    {"type": "message", "user": "U03E94MK0", "team": OURS, "channel": "C04T3ACM40K", "channel_type": "channel",
     "ts": "1678451405.023359", "text": f"<@{CONNECT_BOT}> hey"},
    team_id=OURS, context_team_id=THEIRS, context_enterprise_id="E013Y3SHLAY")
GUEST_MENTION = envelope(
    {"type": "app_mention", "user": "U0GUEST", "team": THEIRS, "user_team": THEIRS, "source_team": THEIRS,
     "user_profile": {"team": THEIRS}, "channel": "C04T3ACM40K", "ts": "1678451406.000100",
     "text": f"<@{CONNECT_BOT}> hi"},
    team_id=THEIRS, enterprise_id="E013Y3SHLAY")
GUEST_MESSAGE = envelope(
    {"type": "message", "user": "U0GUEST", "team": THEIRS, "user_team": THEIRS, "source_team": THEIRS,
     "channel": "C04T3ACM40K", "channel_type": "channel", "ts": "1678451406.000100",
     "text": f"<@{CONNECT_BOT}> hi"},
    team_id=OURS, context_team_id=THEIRS, context_enterprise_id="E013Y3SHLAY")

TEAMS = [
    # (id, envelope, auth.test's team, installing team, author's team)
    ("member-app-mention-top-level-team-is-theirs", MEMBER_MENTION, OURS, OURS, OURS),
    ("member-message-copy", MEMBER_MESSAGE, OURS, OURS, OURS),
    ("guest-app-mention", GUEST_MENTION, OURS, OURS, THEIRS),
    ("guest-message-copy-top-level-team-is-ours", GUEST_MESSAGE, OURS, OURS, THEIRS),
    ("no-authorizations-envelope-team", {"team_id": "T1", "event": {"user": "U1", "team": "T1"}}, "TAUTH",
     "T1", "T1"),
    ("org-wide-install-has-no-team-in-its-authorization",
     {"team_id": "T1", "authorizations": [{"enterprise_id": "E1", "team_id": None, "is_enterprise_install": True}],
      "event": {"user": "U1", "team": "T1"}}, "TAUTH", "T1", "T1"),
    ("nothing-in-the-envelope-auth-test", {"event": {"user": "U1"}}, "TAUTH", "TAUTH", ""),
    ("user-team-is-an-enterprise-id", {"authorizations": AUTHORIZATIONS,
                                       "event": {"user": "W1", "user_team": "E013Y3SHLAY", "team": THEIRS}},
     OURS, OURS, ""),
    ("profile-team-when-no-user-team", {"event": {"user": "U1", "user_profile": {"team": "T7"}, "team": "T8"}},
     OURS, OURS, "T7"),
]


@pytest.mark.parametrize(("body", "auth_test", "ours", "author"), [t[1:] for t in TEAMS], ids=[t[0] for t in TEAMS])
def test_whose_workspace(body: dict[str, Any], auth_test: str, ours: str, author: str) -> None:
    assert installing_team(body, auth_test) == ours
    assert author_team(body["event"]) == author


@pytest.mark.parametrize(("first", "second"), [(MEMBER_MENTION, MEMBER_MESSAGE), (GUEST_MENTION, GUEST_MESSAGE)],
                         ids=["member", "guest"])
def test_both_copies_of_a_message_get_one_decision(first: dict[str, Any], second: dict[str, Any]) -> None:
    decisions = []
    for body in (first, second):
        result = route(body["event"], team_id=installing_team(body, "TAUTH"), bot_user_id=CONNECT_BOT,
                       bot_id="B04T5KKKLUE", ext_shared=bool(body.get("is_ext_shared_channel")))
        assert isinstance(result, Request)
        decisions.append((result.team_id, result.user_team, result.trigger, result.ts, result.thread_ts))
    assert decisions[0] == decisions[1]
