"""Slack thread → Bedrock messages, table-driven: roles, merging, speakers, markup, marks, trimming."""

from __future__ import annotations

import itertools
from typing import Any

import pytest

from bot.conversation.content import slack_to_model
from bot.conversation.history import (
    estimate_tokens,
    message_tokens,
    speakers,
    thread_turns,
    to_bedrock,
    trim_to_budget,
    visible_answer_text,
)
from bot.render.layout import MARKER, PLACEHOLDER, format_note
from tests.files_support import picture

BOT, BOT_ID = "UBOT", "BBOT"


def user(ts: str, text: str, who: str = "U1", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": who, "text": text, "ts": ts, **extra}


def bot(ts: str, text: str, *, answer: str | None = None, reply_to: str = "", part: int = 0,
        md: str | None = None, state: str = "final") -> dict[str, Any]:
    message: dict[str, Any] = {"type": "message", "user": BOT, "bot_id": BOT_ID, "text": text, "ts": ts}
    if answer:
        payload: dict[str, Any] = {"v": 1, "answer": answer, "reply_to": reply_to, "part": part, "state": state}
        if md is not None:
            payload["md"] = md
        message["metadata"] = {"event_type": "bedrock_bot_answer", "event_payload": payload}
    return message


# Slack's shape of a deleted thread root that still has replies (conversations.replies)
TOMBSTONE = {"type": "message", "subtype": "tombstone", "text": "This message was deleted.", "user": "USLACKBOT",
             "hidden": True, "ts": "1.0", "thread_ts": "1.0", "reply_count": 2, "is_locked": False}


def convert(messages: list[dict[str, Any]], upto: str, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    turns = thread_turns(messages, bot_user_id=BOT, bot_id=BOT_ID, upto_ts=upto, skip_answers=skip)
    return to_bedrock(turns, prefix_speakers=len(speakers(turns)) > 1)


def texts(messages: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(m["role"], m["content"][0]["text"]) for m in messages]


MARKUP = [
    ("bot-mention-removed", "<@UBOT> how do I rotate keys?", "how do I rotate keys?"),
    ("bot-mention-with-label", "<@UBOT|bot> hi", "hi"),
    ("other-mention-kept", "ask <@U2|bob> please", "ask <@U2> please"),
    ("channel-with-name", "see <#C1|general>", "see #general"),
    ("channel-without-name", "see <#C1>", "see #C1"),
    ("link-with-label", "read <https://x.io/a|the docs>", "read the docs (https://x.io/a)"),
    ("link-without-label", "read <https://x.io/a>", "read https://x.io/a"),
    ("mailto", "mail <mailto:a@b.c|a@b.c>", "mail a@b.c"),
    ("entities", "a &lt;b&gt; &amp;&amp; c", "a <b> && c"),
    ("usergroup", "hey <!subteam^S1|@ops>", "hey @ops"),
    ("special", "<!here> look", "@here look"),
    ("japanese", "<@UBOT> 鍵の&amp;ローテーション", "鍵の&ローテーション"),
    ("bot-mention-mid-sentence", "ask <@UBOT> please", "ask please"),
    ("bot-mention-at-a-line-start", "context\n<@UBOT> question", "context\nquestion"),
    ("code-indentation-kept", "<@UBOT> why?\n```\nif x:\n    y()\n```", "why?\n```\nif x:\n    y()\n```"),
    ("spaces-inside-a-line-tidied", "what is  &lt;IAM&gt;   here", "what is <IAM> here"),
    ("spaces-in-code-kept", "run `a  =  1` and\n```\nx  = 1  # aligned\n```",
     "run `a  =  1` and\n```\nx  = 1  # aligned\n```"),
    ("indentation-kept", "steps:\n    - one\n\tcode", "steps:\n    - one\n\tcode"),
]


@pytest.mark.parametrize(("raw", "expected"), [m[1:] for m in MARKUP], ids=[m[0] for m in MARKUP])
def test_markup(raw: str, expected: str) -> None:
    assert slack_to_model(raw, bot_user_id=BOT) == expected


CASES: list[tuple[str, list[dict[str, Any]], str, tuple[str, ...], list[tuple[str, str]]]] = [
    ("single-question", [user("1.0", "<@UBOT> hi")], "1.0", (), [("user", "hi")]),
    ("answer-from-marks", [
        user("1.0", "<@UBOT> q1"),
        bot("2.0", "*bold* shown" + "\n\n" + format_note("a note"), answer="A1", reply_to="1.0", md="**bold** shown"),
        user("3.0", "q2"),
    ], "3.0", (), [("user", "q1"), ("assistant", "**bold** shown"), ("user", "q2")]),
    ("split-answer-joined-in-part-order", [
        user("1.0", "q1"),
        bot("2.0", "first", answer="A1", reply_to="1.0", part=0, md="first half "),
        user("3.0", "q2"),  # written while the answer was still streaming
        bot("4.0", "second", answer="A1", reply_to="1.0", part=1, md="second half"),
    ], "3.0", (), [("user", "q1"), ("assistant", "first half second half"), ("user", "q2")]),
    ("placeholder-and-current-answer-skipped", [
        user("1.0", "q1"),
        bot("2.0", PLACEHOLDER, answer="A0", reply_to="0.5", state="thinking", md=""),
        bot("2.5", "streaming…" + MARKER, answer="A1", reply_to="1.0", state="streaming", md="streaming"),
    ], "1.0", ("A1",), [("user", "q1")]),
    ("answers-to-later-messages-excluded", [
        user("1.0", "q1"),
        user("3.0", "q2"),
        bot("4.0", "a2", answer="A2", reply_to="3.0", md="a2"),
    ], "1.0", (), [("user", "q1")]),
    ("later-user-messages-excluded", [user("1.0", "q1"), user("2.0", "q2")], "1.0", (), [("user", "q1")]),
    ("consecutive-user-turns-merged", [user("1.0", "a"), user("2.0", "b")], "2.0", (), [("user", "a\n\nb")]),
    ("consecutive-assistant-turns-merged", [
        user("1.0", "q"),
        bot("2.0", "x", answer="A1", reply_to="1.0", md="one"),
        bot("3.0", "y", answer="A2", reply_to="1.0", md="two"),
        user("4.0", "q2"),
    ], "4.0", (), [("user", "q"), ("assistant", "one\n\ntwo"), ("user", "q2")]),
    ("multi-user-prefixes", [
        user("1.0", "<@UBOT> q", who="U1"), user("2.0", "me too", who="U2"),
    ], "2.0", (), [("user", "<@U1>: q\n\n<@U2>: me too")]),
    ("unmarked-bot-message-uses-visible-text", [
        user("1.0", "q"), bot("2.0", "old answer\n\n" + format_note("cut")), user("3.0", "q2"),
    ], "3.0", (), [("user", "q"), ("assistant", "old answer"), ("user", "q2")]),
    ("unmarked-bot-message-markup-read-like-peoples", [
        user("1.0", "q"), bot("2.0", "Read <https://x.io/rotate|the runbook> &amp; ask <@U2>"), user("3.0", "q2"),
    ], "3.0", (), [("user", "q"), ("assistant", "Read the runbook (https://x.io/rotate) & ask <@U2>"),
                   ("user", "q2")]),
    ("marks-without-md-use-visible-text", [
        user("1.0", "q"), bot("2.0", "shown &amp; text" + MARKER, answer="A1", reply_to="1.0"), user("3.0", "q2"),
    ], "3.0", (), [("user", "q"), ("assistant", "shown & text"), ("user", "q2")]),
    ("leading-assistant-dropped", [
        bot("1.0", "hello", answer="A0", reply_to="0.1", md="hello"), user("2.0", "q"),
    ], "2.0", (), [("user", "q")]),
    ("system-messages-skipped", [
        user("1.0", "q"), user("1.5", "joined", subtype="channel_join"), user("2.0", "more"),
    ], "2.0", (), [("user", "q\n\nmore")]),
    ("other-bot-is-a-user", [
        user("1.0", "<@UBOT> q", who="U1"),
        {"type": "message", "bot_id": "BOTHER", "user": "UOTHER", "text": "beep", "ts": "2.0",
         "subtype": "bot_message"},
        user("3.0", "and?"),
    ], "3.0", (), [("user", "<@U1>: q\n\n<@UOTHER>: beep\n\n<@U1>: and?")]),
    ("file-only-message", [user("1.0", "", files=[{"name": "report.pdf", "mimetype": "application/pdf"}],
                                subtype="file_share")], "1.0", (),
     [("user", "[attached file: report.pdf (application/pdf)]")]),
    ("empty-text-dropped", [user("1.0", "q"), user("2.0", "<@UBOT>")], "2.0", (), [("user", "q")]),
    ("deleted-user-still-a-user", [user("1.0", "q", who="UGONE")], "1.0", (), [("user", "q")]),
    ("deleted-root-keeps-its-place-and-the-answer-to-it", [
        TOMBSTONE,
        bot("2.0", "Use IAM.", answer="A1", reply_to="1.0", md="Use *IAM*."),
        user("3.0", "how often?"),
    ], "3.0", (), [("user", "[This message was deleted.]"), ("assistant", "Use *IAM*."), ("user", "how often?")]),
    ("deleted-root-has-no-speaker-among-several", [
        TOMBSTONE, user("2.0", "what was that?", who="U2"), user("3.0", "<@UBOT> no idea", who="U3"),
    ], "3.0", (), [("user", "[This message was deleted.]\n\n<@U2>: what was that?\n\n<@U3>: no idea")]),
    ("deleted-root-then-an-empty-mention", [TOMBSTONE, user("2.0", "<@UBOT>")], "2.0", (),
     [("user", "[This message was deleted.]")]),
]


@pytest.mark.parametrize(("messages", "upto", "skip", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_thread_conversion(messages: list[dict[str, Any]], upto: str, skip: tuple[str, ...],
                           expected: list[tuple[str, str]]) -> None:
    result = convert(messages, upto, skip)
    assert texts(result) == expected
    assert not result or result[0]["role"] == "user"
    assert all(a["role"] != b["role"] for a, b in itertools.pairwise(result))
    assert all(m["content"][0]["text"].strip() for m in result)


VISIBLE = [
    ("marker-stripped", "answer" + MARKER, "answer"),
    ("note-stripped", "answer\n\n" + format_note("Bedrock <busy>"), "answer"),
    ("placeholder-is-nothing", PLACEHOLDER, ""),
    # the bot's older replies without marks: Slack markup read as in people's messages
    ("link-with-label", "See <https://docs.aws.amazon.com/iam/|the IAM guide>.", "See the IAM guide "
     "(https://docs.aws.amazon.com/iam/)."),
    ("bare-link", "<https://x.io/a>", "https://x.io/a"),
    ("entities", "use `a &amp;&amp; b` and &lt;tag&gt;", "use `a && b` and <tag>"),
    ("mentions-and-channels", "ask <@U2> in <#C1|general>", "ask <@U2> in #general"),
    ("escaped-broadcast-stays-text", "not &lt;!here&gt;", "not <!here>"),
    ("code-indentation-kept", "```\ndef f():\n    return 1\n```" + MARKER, "```\ndef f():\n    return 1\n```"),
]


@pytest.mark.parametrize(("raw", "expected"), [v[1:] for v in VISIBLE], ids=[v[0] for v in VISIBLE])
def test_visible_answer_text(raw: str, expected: str) -> None:
    assert visible_answer_text(raw, bot_user_id=BOT) == expected


def msg(role: str, text: str) -> dict[str, Any]:
    return {"role": role, "content": [{"text": text}]}


def test_trim_keeps_first_and_last_and_alternation() -> None:
    messages = [msg("user", "topic " * 40)] + [msg(r, "x" * 400) for r in ["assistant", "user"] * 5]
    trimmed, dropped = trim_to_budget(messages, budget=estimate_tokens("topic " * 40) + 350)
    assert dropped > 0
    assert trimmed[0] == messages[0] and trimmed[-1] == messages[-1]
    assert [m["role"] for m in trimmed] == ["user", "assistant", "user"][: len(trimmed)] or len(trimmed) % 2 == 1
    assert all(a["role"] != b["role"] for a, b in itertools.pairwise(trimmed))


def test_trim_within_budget_changes_nothing() -> None:
    messages = [msg("user", "a"), msg("assistant", "b"), msg("user", "c")]
    assert trim_to_budget(messages, 1000) == (messages, 0)


def test_token_estimate_counts_cjk_heavier() -> None:
    assert estimate_tokens("あ" * 100) > estimate_tokens("a" * 100) * 3


def test_a_forwarded_text_counts_toward_the_budget() -> None:
    forwarded = {"is_share": True, "is_msg_unfurl": True, "author_name": "Linda C", "text": "pricing " * 1000}
    thread = [user("1.0", "<@UBOT> topic"), bot("2.0", "ok", answer="A1", reply_to="1.0", md="ok"),
              user("3.0", "look at this", attachments=[forwarded]),
              bot("4.0", "seen", answer="A3", reply_to="3.0", md="seen"), user("5.0", "so?")]
    messages = convert(thread, "5.0")
    assert "pricing pricing" in messages[2]["content"][0]["text"]
    trimmed, dropped = trim_to_budget(messages, budget=1000)  # the forward alone is about 2,000 tokens
    assert dropped == 2 and texts(trimmed) == [("user", "topic"), ("assistant", "seen"), ("user", "so?")]


def test_files_stay_with_their_turn_and_are_only_named_without_a_plan() -> None:
    shot = {"id": "F1", "name": "shot.png", "mimetype": "image/png"}
    forwarded = {"is_share": True, "author_name": "Bob", "text": "see this", "files": [
        {"id": "F2", "name": "plan.pdf", "mimetype": "application/pdf"}]}
    thread = [user("1.0", "", files=[shot], subtype="file_share", user_team="T2"),
              user("2.0", "and this", attachments=[forwarded])]
    turns = thread_turns(thread, bot_user_id=BOT, bot_id=BOT_ID, upto_ts="2.0")
    assert [(t.text, [f["id"] for f in t.files], [f["id"] for f in t.forwarded], t.team) for t in turns] == [
        ("", ["F1"], [], "T2"), ("and this\n\n[forwarded message from Bob]\nsee this", [], ["F2"], "")]
    assert texts(to_bedrock(turns, prefix_speakers=False)) == [(
        "user", "[attached file: shot.png (image/png)]\n\nand this\n\n[forwarded message from Bob]\nsee this\n"
                "[attached file: plan.pdf (application/pdf)]")]


class Planned:
    def __init__(self, blocks: list[dict[str, Any]], lines: list[str]) -> None:
        self.blocks, self.lines = blocks, lines


def test_a_plan_puts_each_turns_blocks_before_its_text_and_counts_them() -> None:
    image = {"image": {"format": "png", "source": {"bytes": picture(750, 100)}}}
    thread = [user("1.0", "look", files=[{"id": "F1"}], who="U1"), user("2.0", "and?", who="U2"),
              bot("3.0", "a cat", answer="A1", reply_to="2.0", md="a cat"), user("4.0", "sure?", who="U1")]
    turns = thread_turns(thread, bot_user_id=BOT, bot_id=BOT_ID, upto_ts="4.0")
    messages = to_bedrock(turns, prefix_speakers=True, files={turns[0].anchor: Planned([image], ["[image 1]"])})
    assert messages[0]["content"] == [image, {"text": "<@U1>: look\n[image 1]\n\n<@U2>: and?"}]
    assert [m["content"] for m in messages[1:]] == [[{"text": "a cat"}], [{"text": "<@U1>: sure?"}]]
    assert message_tokens(messages[0]) == 100 + estimate_tokens("<@U1>: look\n[image 1]\n\n<@U2>: and?")
