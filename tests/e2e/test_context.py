"""Context budget: long threads are trimmed (oldest first, first message kept) and context errors retried."""

from __future__ import annotations

from typing import Any

import pytest

from bot.responder import TRIMMED_NOTE
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import Error, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(CONTEXT_BUDGET_TOKENS="1000")


def long_thread(slack: FakeSlack) -> str:
    root = slack.add_history("C1", "U1", "<@UBOT> topic: key rotation")
    meta = {"event_type": "bedrock_bot_answer",
            "event_payload": {"v": 1, "answer": "A-root", "reply_to": root, "part": 0, "state": "final",
                              "md": "happy to help"}}
    slack.add_history("C1", "UBOT", "happy to help", thread_ts=root, bot=True, metadata=meta)
    for i in range(30):
        q = slack.add_history("C1", "U1", f"question {i} " + "x" * 300, thread_ts=root)
        meta = {"event_type": "bedrock_bot_answer",
                "event_payload": {"v": 1, "answer": f"A{i}", "reply_to": q, "part": 0, "state": "final",
                                  "md": f"answer {i} " + "y" * 300}}
        slack.add_history("C1", "UBOT", f"answer {i}", thread_ts=root, bot=True, metadata=meta)
    return root


def test_long_thread_is_trimmed_with_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    root = long_thread(slack)
    bedrock.enqueue(Stream(["Done."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> summarise", thread_ts=root)
    replies = final_state(slack, "C1", root, reply_to=ts)
    sent = bedrock.calls[0].messages
    assert sent[0]["content"][0]["text"] == "topic: key rotation"  # the first message is kept
    assert sent[-1]["content"][0]["text"] == "summarise"
    assert "question 0 " not in str(sent) and "question 29" in str(sent)  # oldest dropped first
    assert TRIMMED_NOTE in replies[-1]["text"]


def test_context_error_retries_once_with_a_smaller_history(bot: Any, slack: FakeSlack,
                                                           bedrock: FakeBedrock) -> None:
    root = slack.add_history("C1", "U1", "<@UBOT> start")
    for i in range(3):
        q = slack.add_history("C1", "U1", f"q{i}", thread_ts=root)
        meta = {"event_type": "bedrock_bot_answer",
                "event_payload": {"v": 1, "answer": f"B{i}", "reply_to": q, "part": 0, "state": "final",
                                  "md": f"a{i}"}}
        slack.add_history("C1", "UBOT", f"a{i}", thread_ts=root, bot=True, metadata=meta)
    bedrock.enqueue(Error(400, "ValidationException", "Input is too long for requested model."))
    bedrock.enqueue(Stream(["Fits now."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> go", thread_ts=root)
    replies = final_state(slack, "C1", root, reply_to=ts)
    assert replies[-1]["text"].startswith("Fits now.")
    assert TRIMMED_NOTE in replies[-1]["text"]
    assert len(bedrock.calls) == 2
    assert len(bedrock.calls[1].messages) < len(bedrock.calls[0].messages)
