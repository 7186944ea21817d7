"""Was a thread started for the bot (bot.conversation.threads), table-driven over real message shapes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.threads import settled, started_for_bot, unanswered_before
from bot.slack.marks import answer_metadata
from handlers import routing

BOT, BOT_ID = "UBOT", "BBOT"
ROOT = "1700000000.000100"


def person(ts: str, text: str, who: str = "U1") -> dict[str, Any]:
    return {"type": "message", "user": who, "text": text, "ts": ts, "thread_ts": ROOT,
            "client_msg_id": f"id-{ts}"}


def answer(ts: str, reply_to: str, *, state: str = "final", who: str = BOT, bot_id: str = BOT_ID) -> dict[str, Any]:
    """One of the bot's messages as conversations.replies returns it with include_all_metadata."""
    return {"type": "message", "user": who, "bot_id": bot_id, "app_id": "A0APP", "text": "an answer", "ts": ts,
            "thread_ts": ROOT, "metadata": answer_metadata(answer_id=f"C1-{reply_to}", reply_to=reply_to, part=0,
                                                           state=state, md="an answer")}


# Slack's shape of a deleted root that still has replies
TOMBSTONE = {"type": "message", "subtype": "tombstone", "text": "This message was deleted.", "user": "USLACKBOT",
             "hidden": True, "ts": ROOT, "thread_ts": ROOT, "reply_count": 3, "reply_users": ["UBOT", "U2"],
             "reply_users_count": 2, "latest_reply": "1700000000.000400", "is_locked": False}
MENTION_ROOT = person(ROOT, "<@UBOT> how do I rotate keys?")
PEOPLE_ROOT = person(ROOT, "lunch plans?")

CASES: list[tuple[str, dict[str, Any] | None, list[dict[str, Any]], bool]] = [
    ("root-mentions-the-bot", MENTION_ROOT, [], True),
    ("root-mentions-the-bot-with-a-label", person(ROOT, "<@UBOT|bot> hi"), [], True),
    ("people-talking-among-themselves", PEOPLE_ROOT, [person("1700000000.000200", "noodles?", "U2")], False),
    ("people-asked-the-bot-later-in-the-thread", PEOPLE_ROOT, [
        person("1700000000.000200", "<@UBOT> any idea?", "U2"), answer("1700000000.000300", "1700000000.000200"),
    ], False),
    ("deleted-root-the-bot-answered", TOMBSTONE, [
        answer("1700000000.000200", ROOT), person("1700000000.000300", "thanks, and how often?"),
    ], True),
    ("deleted-root-answer-far-down-the-thread", TOMBSTONE, [
        *(person(f"1700000000.{i:06d}", f"reply {i}", "U2") for i in range(200, 230)),
        answer("1700000000.000400", ROOT),
    ], True),
    ("deleted-root-only-a-placeholder-so-far", TOMBSTONE, [answer("1700000000.000200", ROOT, state="thinking")],
     True),
    ("deleted-root-the-bot-answered-only-a-reply", TOMBSTONE, [
        person("1700000000.000200", "<@UBOT> any idea?", "U2"), answer("1700000000.000300", "1700000000.000200"),
    ], False),
    ("deleted-root-no-bot-at-all", TOMBSTONE, [person("1700000000.000200", "what was that?", "U2")], False),
    ("deleted-root-another-bots-marks-do-not-count", TOMBSTONE, [
        answer("1700000000.000200", ROOT, who="UOTHERBOT", bot_id="BOTHER"),
    ], False),
    ("deleted-root-our-older-answer-without-marks", TOMBSTONE, [
        {"type": "message", "user": BOT, "bot_id": BOT_ID, "text": "old answer", "ts": "1700000000.000200",
         "thread_ts": ROOT},
    ], False),
    ("no-root", None, [answer("1700000000.000200", ROOT)], False),
]


@pytest.mark.parametrize(("root", "replies", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_started_for_bot(root: dict[str, Any] | None, replies: list[dict[str, Any]], expected: bool) -> None:
    messages = ([root] if root else []) + replies
    assert started_for_bot(root, messages, bot_user_id=BOT, bot_id=BOT_ID) is expected


SETTLED = [
    ("nothing-read-yet", [], False),
    ("an-intact-root-decides-alone", [PEOPLE_ROOT], True),
    ("a-mention-root-decides-alone", [MENTION_ROOT], True),
    ("a-tombstone-needs-an-answer-to-it", [TOMBSTONE, person("1700000000.000200", "hm", "U2")], False),
    ("a-tombstone-and-its-answer", [TOMBSTONE, answer("1700000000.000200", ROOT)], True),
]


@pytest.mark.parametrize(("messages", "expected"), [c[1:] for c in SETTLED], ids=[c[0] for c in SETTLED])
def test_settled(messages: list[dict[str, Any]], expected: bool) -> None:
    assert settled(messages, bot_user_id=BOT, bot_id=BOT_ID) is expected


# ----------------------------------------------------------------------------- earlier messages in flight

LATER = "1700000001.000100"  # the message being answered, one second after the root
OTHER_BOT = {"type": "message", "subtype": "bot_message", "bot_id": "BOTHER", "text": "<@UBOT> ping",
             "ts": "1700000000.500000", "thread_ts": ROOT}

# (messages before the one answered, started for the bot, seconds after the root it is now) -> the one waited for
_IN_FLIGHT: dict[str, tuple[list[dict[str, Any]], bool, float, str | None]] = {
    "an unanswered mention just before": ([person(ROOT, "<@UBOT> first")], True, 1.2, ROOT),
    "its answer is there": ([person(ROOT, "<@UBOT> first"), answer("1700000000.200000", ROOT)], True, 1.2, None),
    "older than the grace: left unanswered": ([person(ROOT, "<@UBOT> first")], True, 6.0, None),
    "a follow-up in the bot's thread": (
        [person(ROOT, "<@UBOT> first"), answer("1700000000.200000", ROOT), person("1700000000.300000", "and?")],
        True, 1.2, "1700000000.300000"),
    "a reply in a thread that is not the bot's": (
        [person(ROOT, "lunch?"), person("1700000000.300000", "sure")], False, 1.2, None),
    "a reply addressed to someone else": (
        [person(ROOT, "<@UBOT> first"), answer("1700000000.200000", ROOT),
         person("1700000000.300000", "<@U2> what do you think?")], True, 1.2, None),
    "another bot's message": ([OTHER_BOT], True, 1.2, None),
    "an edit notice is not a message": (
        [{**person(ROOT, "<@UBOT> first"), "subtype": "message_changed"}], True, 1.2, None),
}


@pytest.mark.parametrize("before, started, after, expected", _IN_FLIGHT.values(), ids=_IN_FLIGHT.keys())
def test_an_earlier_message_still_in_flight_is_waited_for(before: list[dict[str, Any]], started: bool, after: float,
                                                          expected: str | None) -> None:
    def trigger_of(message: Any) -> str | None:  # the real routing rule, for this channel
        return routing.trigger_of(message, channel="C1", channel_type="channel", team_id="T1", bot_user_id=BOT,
                                  bot_id=BOT_ID)

    messages = [*before, person(LATER, "<@UBOT> second"), person("1700000002.000100", "<@UBOT> third")]
    now = 1700000000.0001 + after
    assert unanswered_before(messages, LATER, trigger_of=trigger_of, started_for_bot=started, now=now,
                             within=5.0) == expected
