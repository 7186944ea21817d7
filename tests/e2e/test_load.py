"""Many answers at once: the shared scheduler under Slack's limits, the worker pool and its queue."""

from __future__ import annotations

from typing import Any

import pytest

from bot.responder import QUEUED
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(MAX_CONCURRENT_ANSWERS="4", MAX_QUEUED_ANSWERS="3", SLACK_EDITS_PER_MINUTE="120",
                     SLACK_EDIT_BURST="4", SLACK_POSTS_PER_SECOND_PER_CHANNEL="1", SLACK_POST_BURST="5")


def answer_for(request: Any) -> Stream:
    question = request.messages[-1]["content"][0]["text"]
    return Stream([f"{question}: ", *[f"w{i} " for i in range(30)], "end."], delay=0.01)


def expected(question: str) -> str:
    return f"{question}: " + "".join(f"w{i} " for i in range(30)) + "end."


def test_concurrent_answers_under_a_tight_edit_limit(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """4 answers stream at once, 3 wait (queued marker); Slack allows 40 edits a minute (burst 4) and
    says 429 past it; every final text is exact and no call lands inside a Retry-After window."""
    slack.set_rate_limit("chat.update", per_minute=40, burst=4)
    slack.set_rate_limit("conversations.replies", per_minute=30, burst=1)
    bedrock.set_fallback(answer_for)
    asked = {}
    for i in range(7):
        channel = ("C1", "C2", "G1")[i % 3]
        asked[slack.user_says(channel, f"U{1 + i % 3}", f"<@UBOT> q{i}")] = (channel, f"q{i}")
    for ts, (channel, question) in asked.items():
        replies = final_state(slack, channel, ts, timeout=60)
        assert " ".join(m["text"] for m in replies) == expected(question)
    assert slack.violations == []  # nothing sent while a Retry-After window was open
    placeholders = [c.params["text"] for c in slack.calls_for("chat.postMessage")]
    assert placeholders.count(QUEUED) == 3  # the three beyond the pool waited with a queued marker


def test_a_burst_beyond_pool_and_queue_gets_a_busy_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    for channel in ("CB1", "CB2"):  # channels whose post budget no earlier test has used
        slack.add_channel(channel, channel.lower(), kind="public", members=("U1",), bot_member=True)
    bedrock.set_fallback(lambda request: Stream(["slow ", "answer"], delay=1.5))  # none ends during the burst
    asked = [slack.user_says("CB1" if i % 2 else "CB2", "U1", f"<@UBOT> b{i}") for i in range(9)]
    def busy_notes(s: FakeSlack) -> int:
        return len([c for c in s.calls if c.method in ("chat.postMessage", "chat.update")
                    and "try again" in c.params.get("text", "")])

    slack.wait_for(lambda s: busy_notes(s) == 2, timeout=30)
    done = 0
    for i, ts in enumerate(asked):
        channel = "CB1" if i % 2 else "CB2"
        text = final_state(slack, channel, ts, timeout=60)[0]["text"]
        if "try again" not in text:
            assert text == "slow answer"
            done += 1
    assert done == 7  # 4 workers + 3 queued; nothing accepted was dropped
    bedrock.set_fallback(lambda request: Stream(["fine"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> after the burst")
    assert final_state(slack, "C1", ts)[0]["text"] == "fine"


def test_rate_limited_placeholders_and_history_reads_are_not_lost(bot: Any, slack: FakeSlack,
                                                                  bedrock: FakeBedrock) -> None:
    slack.fail_next("chat.postMessage", 1, status=429, retry_after=1)
    slack.fail_next("conversations.replies", 1, status=429, retry_after=1)
    bedrock.set_fallback(lambda request: Stream(["ok"]))
    root = slack.user_says("C1", "U1", "<@UBOT> first")
    assert final_state(slack, "C1", root)[0]["text"] == "ok"
    ts = slack.user_says("C1", "U1", "follow-up", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts)
    assert slack.violations == []
