"""Cancellation is prompt: a deleted reply stops the model at once, even while the model says nothing."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import bot_replies
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(BEDROCK_READ_TIMEOUT_SECONDS="120")  # a model may think for minutes


def test_reply_deleted_while_the_model_is_silent_stops_the_stream(bot: Any, slack: FakeSlack,
                                                                  bedrock: FakeBedrock) -> None:
    """The model thinks for a minute and sends nothing: the bot learns of the deletion from Slack's
    message_deleted event and shuts the silent stream from another thread, instead of waiting for the next
    event or the read timeout."""
    bedrock.enqueue(Stream(["Thinking out loud", " and then"], stall_after=1, stall_seconds=60))
    ts = slack.user_says("C2", "U1", "<@UBOT> a hard one")
    reply = slack.wait_for(lambda s: [m for m in bot_replies(s, "C2", ts) if "Thinking out loud" in m["text"]])[0]
    slack.user_deletes("C2", reply["ts"])
    slack.wait_for(lambda s: bedrock.hangups, timeout=15)  # long before the 60 s of silence end
    assert len(bedrock.calls) == 1  # a deleted answer is not resumed
    slack.wait_for(lambda s: bot.writer.pending() == 0)
    assert not bot_replies(slack, "C2", ts)


def test_reply_deleted_while_streaming_stops_the_stream(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream([f"part{i} " for i in range(300)], delay=0.05))  # 15 s if read to the end
    ts = slack.user_says("C1", "U1", "<@UBOT> a long one")
    reply = slack.wait_for(lambda s: [m for m in bot_replies(s, "C1", ts) if "part0" in m["text"]])[0]
    slack.user_deletes("C1", reply["ts"])
    slack.wait_for(lambda s: bedrock.hangups, timeout=10)
    assert len([d for d in bedrock.delta_log if d[1].startswith("part")]) < 200  # closed early
    assert len(bedrock.calls) == 1
