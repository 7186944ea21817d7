"""Conversations end to end: DMs, follow-ups, thread history, and every message answered exactly once."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.history import MULTI_USER_PROMPT
from tests.e2e.helpers import bot_replies, final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack
from tests.files_support import pdf

pytestmark = pytest.mark.usefixtures("fresh")


def texts(request: Any) -> list[tuple[str, str]]:
    return [(m["role"], m["content"][0]["text"]) for m in request.messages]


def replies_calls(slack: FakeSlack) -> list[Any]:
    return slack.calls_for("conversations.replies")


def answered(slack: FakeSlack) -> int:
    return len(slack.calls_for("chat.postMessage"))


def settle(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Make sure every delivered event was handled: ack all envelopes, then answer one probe message."""
    bedrock.enqueue(Stream(["probe"]))
    ts = slack.user_says("C2", "U3", "<@UBOT> probe")
    final_state(slack, "C2", ts)


def test_top_level_mention_reads_no_history(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["hi"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    final_state(slack, "C1", ts)
    assert replies_calls(slack) == []


def test_mention_inside_a_thread_reads_the_whole_thread(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    root = slack.add_history("C1", "U2", "our keys are 400 days old")
    slack.add_history("C1", "U3", "that is bad &amp; risky", thread_ts=root)
    bedrock.enqueue(Stream(["Rotate them."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> what should we do?", thread_ts=root)
    replies = final_state(slack, "C1", root)
    assert replies[0]["text"] == "Rotate them." and replies[0]["thread_ts"] == root
    assert texts(bedrock.calls[0]) == [("user", "<@U2>: our keys are 400 days old\n\n"
                                                "<@U3>: that is bad & risky\n\n<@U1>: what should we do?")]
    assert MULTI_USER_PROMPT in bedrock.calls[0].system[0]["text"]
    calls = replies_calls(slack)
    assert len(calls) == 1 and calls[0].params["ts"] == root
    assert str(calls[0].params.get("include_all_metadata")).lower() in ("true", "1")
    assert ts != root


def test_dm_starts_a_thread_and_replies_continue_it(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["**Paris** is the capital."]))
    ts = slack.user_says("D1", "U1", "capital of France?")
    first = final_state(slack, "D1", ts)
    assert first[0]["thread_ts"] == ts
    bedrock.enqueue(Stream(["About 2 million."]))
    ts2 = slack.user_says("D1", "U1", "and its population?", thread_ts=ts)
    final_state(slack, "D1", ts, reply_to=ts2)
    assert texts(bedrock.calls[1]) == [("user", "capital of France?"), ("assistant", "**Paris** is the capital."),
                                       ("user", "and its population?")]


def test_follow_up_without_mention_in_the_bots_thread(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Use IAM."]))
    root = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    final_state(slack, "C1", root)
    bedrock.enqueue(Stream(["Every 90 days."]))
    ts2 = slack.user_says("C1", "U1", "how often?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts2)
    assert texts(bedrock.calls[1]) == [("user", "how do I rotate keys?"), ("assistant", "Use IAM."),
                                       ("user", "how often?")]
    calls = replies_calls(slack)
    assert len(calls) == 1  # the history; deciding to answer a known thread cost no call
    assert calls[0].params.get("limit") in (1000, "1000")


def test_reply_addressed_to_someone_else_is_not_answered(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Use IAM."]))
    root = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    final_state(slack, "C1", root)
    slack.user_says("C1", "U1", "<@U2> can you do it today?", thread_ts=root)
    settle(slack, bedrock)
    assert len(bot_replies(slack, "C1", root)) == 1
    assert len(bedrock.calls) == 2  # the first answer and the probe


def test_thread_not_started_for_the_bot_needs_a_new_mention(bot: Any, slack: FakeSlack,
                                                              bedrock: FakeBedrock) -> None:
    root = slack.user_says("C1", "U2", "lunch plans?")
    bedrock.enqueue(Stream(["Try the noodle place."]))
    slack.user_says("C1", "U1", "<@UBOT> any idea?", thread_ts=root)
    final_state(slack, "C1", root)
    slack.user_says("C1", "U3", "sounds good", thread_ts=root)  # people talking among themselves
    settle(slack, bedrock)
    assert len(bot_replies(slack, "C1", root)) == 1
    bedrock.enqueue(Stream(["It opens at noon."]))
    ts = slack.user_says("C1", "U3", "<@UBOT> when does it open?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts)
    assert len(bot_replies(slack, "C1", root)) == 2


def test_a_deleted_root_keeps_the_thread_the_bots(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Use IAM."]))
    root = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    final_state(slack, "C1", root)
    slack.user_deletes("C1", root)
    assert slack.thread("C1", root)[0]["subtype"] == "tombstone"
    for question, answer in [("how often?", "Every 90 days."), ("and the old ones?", "Delete them.")]:
        bedrock.enqueue(Stream([answer]))
        ts = slack.user_says("C1", "U1", question, thread_ts=root)
        assert final_state(slack, "C1", root, reply_to=ts)[0]["text"] == answer
    assert texts(bedrock.calls[-1]) == [
        ("user", "[This message was deleted.]"), ("assistant", "Use IAM."),
        ("user", "how often?"), ("assistant", "Every 90 days."), ("user", "and the old ones?")]


def test_two_quick_messages_are_answered_in_order(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Answer ", "one ", "takes ", "a ", "while."], delay=0.1))
    bedrock.enqueue(Stream(["Answer two."]))
    root = slack.user_says("C1", "U1", "<@UBOT> first question")
    slack.wait_for(lambda s: len(bedrock.calls) == 1)
    ts2 = slack.user_says("C1", "U1", "second question", thread_ts=root)
    second = final_state(slack, "C1", root, reply_to=ts2)
    first = final_state(slack, "C1", root, reply_to=root)
    assert first[0]["text"] == "Answer one takes a while." and second[0]["text"] == "Answer two."
    assert texts(bedrock.calls[1]) == [("user", "first question"), ("assistant", "Answer one takes a while."),
                                       ("user", "second question")]
    assert float(second[0]["ts"]) > float(first[0]["ts"])


def test_a_split_answer_comes_back_as_one_assistant_turn(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    long = "".join(f"Paragraph {i} with `code` and **bold** text.\n\n" for i in range(200))  # ~9,000 chars
    bedrock.enqueue(Stream([long[i:i + 100] for i in range(0, len(long), 100)]))
    root = slack.user_says("C1", "U1", "<@UBOT> write a lot")
    assert len(final_state(slack, "C1", root)) >= 3
    bedrock.enqueue(Stream(["Sure."]))
    ts2 = slack.user_says("C1", "U1", "summarise that", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts2)
    assert texts(bedrock.calls[1])[1] == ("assistant", long.strip())


@pytest.mark.parametrize("order", ["mention_first", "message_first"])
def test_doubled_mention_is_answered_once(bot: Any, slack: FakeSlack, bedrock: FakeBedrock, order: str) -> None:
    bedrock.enqueue(Stream(["once"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> hi", mention_order=order)  # type: ignore[arg-type]
    final_state(slack, "C1", ts)
    settle(slack, bedrock)
    assert len(bot_replies(slack, "C1", ts)) == 1
    assert len(bedrock.calls) == 2  # this answer and the probe


def test_redelivered_envelope_is_answered_once(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["once"]))
    ts = slack.user_says("D1", "U1", "hello")
    final_state(slack, "D1", ts)
    envelope = slack.envelopes[-1]
    redelivered = slack.redeliver(envelope["envelope_id"])
    slack.wait_for_ack(redelivered)
    assert slack.envelope(redelivered)["retry_attempt"] == 1
    settle(slack, bedrock)
    assert len(bot_replies(slack, "D1", ts)) == 1


def test_never_answered(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["answer"]))
    root = slack.user_says("C1", "U1", "<@UBOT> question")
    final_state(slack, "C1", root)
    slack.user_edits("C1", root, "<@UBOT> question, edited")  # an edit of an answered message
    slack.post_as_other_bot("C1", "<@UBOT> bot-to-bot?")  # another bot
    slack.post_as_other_bot("C1", "beep", thread_ts=root)
    slack.user_says("C1", "U2", "<@U2> has joined the channel", subtype="channel_join")
    slack.user_says("C1", "U2", "set the topic", subtype="channel_topic", thread_ts=root)
    slack.user_deletes("C1", root)
    settle(slack, bedrock)
    assert len(bedrock.calls) == 2  # the first answer and the probe
    assert answered(slack) == 2


def test_a_file_share_is_a_normal_message(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["I see a PDF."]))
    report = slack.upload_file("U1", "report.pdf", pdf(1), channel="D1")
    ts = slack.user_says("D1", "U1", "what is this?", files=[report])
    final_state(slack, "D1", ts)
    (message,) = bedrock.calls[0].messages
    assert message["content"][0]["document"]["name"] == "report"
    assert message["content"][1] == {"text": 'what is this?\n[attached file: report.pdf (application/pdf), '
                                             'attached above as the document "report"]'}


def test_a_long_thread_is_read_page_by_page(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.replies_page_cap = 15  # Slack's cap for non-Marketplace apps: many pages
    root = slack.add_history("C1", "U1", "<@UBOT> let's talk")
    for i in range(40):
        slack.add_history("C1", "U1", f"message {i}", thread_ts=root)
    bedrock.enqueue(Stream(["ok"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> what was message 0?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts)
    assert len(replies_calls(slack)) == 3
    sent = texts(bedrock.calls[0])[0][1]
    assert "message 0" in sent and "message 39" in sent and sent.endswith("what was message 0?")
