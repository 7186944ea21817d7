"""Was a thread started for the bot (bot.conversation.threads), table-driven over real message shapes."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.threads import settled, started_for_bot
from bot.slack.marks import answer_metadata

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
