"""What real Slack does wrong, end to end: outages, lost responses, unknown refusals, metadata refused, a 429
in one channel. The final text lands exactly once whenever Slack can still take it; otherwise the answer is
given up as `undelivered` (never mistaken for a deleted reply)."""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

import pytest

from tests.e2e.helpers import bot_replies, final_state, marks
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")

CHAT = ("chat.postMessage", "chat.update", "chat.delete")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    # retries back off 0.01 s in tests (conftest), so an outage of a second is many failed calls
    return start_bot(SLACK_RETRY_SECONDS="3", SLACK_TIMEOUT_SECONDS="0.5")


@pytest.fixture(autouse=True)
def idle_after(bot: Any, slack: FakeSlack) -> Any:
    """Each test ends with the bot idle, so that no answer of one test writes during the next."""
    yield
    slack.reset_faults()
    slack.wait_for(lambda s: bot.writer.pending() == 0 and bot.service.pool.counts() == (0, 0), timeout=15)


def answer_line(caplog: pytest.LogCaptureFixture, ts: str) -> dict[str, Any] | None:
    """The bot's one structured log line about the answer to message `ts` (None until it is logged)."""
    lines = [json.loads(r.getMessage().split(" ", 1)[1]) for r in caplog.records
             if r.name == "bot.responder" and r.getMessage().startswith("answer {")]
    return next((line for line in lines if line["ts"] == ts), None)


def test_an_outage_shorter_than_the_retry_time_ends_with_the_exact_answer(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.responder")
    streaming = threading.Event()
    bedrock.enqueue(Stream(["Before the outage, ", "during it, ", "and after."], gate=streaming, gate_after=1))
    ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
    slack.wait_for(lambda s: any("Before the outage" in m["text"] for m in bot_replies(s, "C1", ts)))
    slack.outage(1.5, CHAT)  # every chat.* write fails with 503 (more than eight attempts)
    streaming.set()
    replies = final_state(slack, "C1", ts, timeout=10)
    assert [m["text"] for m in replies] == ["Before the outage, during it, and after."]
    failed = [c for c in slack.calls if c.method in CHAT and c.status == 503]
    assert len(failed) >= 8
    assert slack.wait_for(lambda s: answer_line(caplog, ts))["outcome"] == "complete"


def test_edits_failing_past_the_retry_time_post_the_final_text_anew(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.responder")
    streaming = threading.Event()
    bedrock.enqueue(Stream(["Partial ", "then complete."], gate=streaming, gate_after=1))
    ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
    slack.wait_for(lambda s: any("Partial" in m["text"] for m in bot_replies(s, "C1", ts)))
    slack.outage(30.0, ("chat.update",))  # edits keep failing; posts work
    streaming.set()
    slack.wait_for(lambda s: any(m["text"] == "Partial then complete." for m in bot_replies(s, "C1", ts)),
                   timeout=15)
    replies = bot_replies(slack, "C1", ts)
    assert replies[-1]["text"] == "Partial then complete." and marks(replies[-1])["state"] == "final"
    assert len(replies) == 2  # the stale message stays; the answer is whole in the new one
    assert slack.wait_for(lambda s: answer_line(caplog, ts))["outcome"] == "complete"


def test_slack_failing_everything_past_the_retry_time_is_undelivered_not_deleted(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.responder")
    streaming = threading.Event()
    bedrock.enqueue(Stream(["Partial ", "then complete."], gate=streaming, gate_after=1))
    ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
    slack.wait_for(lambda s: any("Partial" in m["text"] for m in bot_replies(s, "C1", ts)))
    slack.outage(30.0, CHAT)
    streaming.set()
    line = slack.wait_for(lambda s: answer_line(caplog, ts), timeout=15)
    assert line["outcome"] == "undelivered" and line["error"] == "http_503"
    assert bot.writer.pending() == 0  # given up: nothing is retried for ever


def test_an_unknown_refusal_of_an_edit_posts_the_final_text_anew_once(bot: Any, slack: FakeSlack,
                                                                      bedrock: FakeBedrock) -> None:
    streaming = threading.Event()
    bedrock.enqueue(Stream(["Partial ", "then complete."], gate=streaming, gate_after=1))
    ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
    slack.wait_for(lambda s: any("Partial" in m["text"] for m in bot_replies(s, "C1", ts)))
    slack.fail_next("chat.update", 1, error="some_new_error")
    streaming.set()
    slack.wait_for(lambda s: any(m["text"] == "Partial then complete." for m in bot_replies(s, "C1", ts)),
                   timeout=10)
    assert len(bot_replies(slack, "C1", ts)) == 2
    assert len([c for c in slack.calls_for("chat.update") if c.error == "some_new_error"]) == 1


@pytest.mark.parametrize("lost", [{"reset_connection": True}, {"delay": 1.5}], ids=["reset", "timeout"])
def test_a_placeholder_whose_response_is_lost_is_found_not_posted_twice(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, lost: dict[str, Any]) -> None:
    slack.fail_next("chat.postMessage", 1, after_processing=True, **lost)  # Slack posted it; the bot can't tell
    bedrock.enqueue(Stream(["The ", "answer."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    replies = final_state(slack, "C1", ts)
    slack.wait_for(lambda s: bot.writer.pending() == 0)
    assert [m["text"] for m in replies] == ["The answer."]
    assert len(bot_replies(slack, "C1", ts)) == 1  # no orphaned second placeholder
    assert any(c.method == "conversations.replies" for c in slack.calls)  # it looked before posting again


def test_an_edit_whose_response_is_lost_is_simply_redone(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.fail_next("chat.update", 1, after_processing=True, delay=1.0)
    bedrock.enqueue(Stream(["Edited ", "answer."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    assert [m["text"] for m in final_state(slack, "C1", ts)] == ["Edited answer."]
    assert len(bot_replies(slack, "C1", ts)) == 1


def test_a_continuation_post_whose_response_is_lost_is_not_posted_twice(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="bot.slack.writer")
    long_text = "\n\n".join(f"Paragraph {i}: " + "word " * 120 for i in range(12))  # about 7,500 characters
    first_part_shown = threading.Event()
    bedrock.enqueue(Stream([long_text[i:i + 200] for i in range(0, len(long_text), 200)], gate=first_part_shown,
                           gate_after=5))  # 1,000 characters, then wait: the second message comes later
    ts = slack.user_says("C1", "U1", "<@UBOT> a long one")
    slack.wait_for(lambda s: any("Paragraph 0" in m["text"] for m in bot_replies(s, "C1", ts)))
    slack.fail_next("chat.postMessage", 1, after_processing=True, reset_connection=True)  # the second message
    first_part_shown.set()
    replies = final_state(slack, "C1", ts, timeout=15)
    slack.wait_for(lambda s: any("part 1 had landed although its post failed" in r.getMessage()
                                 for r in caplog.records))  # it looked for the lost post and adopted it
    assert len(replies) >= 2
    parts = [marks(m)["part"] for m in bot_replies(slack, "C1", ts)]
    assert parts == sorted(set(parts))  # each part exactly once
    assert "".join(marks(m)["md"] for m in replies) == long_text


def test_metadata_refused_as_too_large_still_delivers_the_answer(bot: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    slack.metadata_limit = 200  # the marks fit, the marks plus the Markdown do not
    bedrock.enqueue(Stream(["A fairly long answer that makes the metadata too large for this workspace. " * 3]))
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"].startswith("A fairly long answer")
    assert "md" not in marks(replies[0]) and marks(replies[0])["state"] == "final"
    assert any(c.error == "metadata_too_large" for c in slack.calls_for("chat.update"))


def test_a_429_in_one_channel_pauses_posts_there_only(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.fail_next("chat.postMessage", 1, status=429, retry_after=3, channel="C1")
    bedrock.set_fallback(lambda request: Stream(["ok"]))
    in_c1 = slack.user_says("C1", "U1", "<@UBOT> one")
    slack.wait_for(lambda s: s.rate_limited_calls)
    in_c2 = slack.user_says("C2", "U1", "<@UBOT> two")
    assert [m["text"] for m in final_state(slack, "C2", in_c2)] == ["ok"]  # not held by C1's pause
    assert not bot_replies(slack, "C1", in_c1)  # C1 waits for its Retry-After...
    assert [m["text"] for m in final_state(slack, "C1", in_c1, timeout=10)] == ["ok"]  # ...then goes on
    assert not slack.violations  # nothing was sent inside the window
