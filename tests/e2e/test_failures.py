"""Failures end to end: Bedrock and Slack faults injected through the fakes; nothing lost, nothing stuck."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest

from tests.e2e.helpers import bot_replies, final_state
from tests.fakes.bedrock import Error, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(SLACK_TIMEOUT_SECONDS="0.5", BEDROCK_READ_TIMEOUT_SECONDS="1")


def ask(slack: FakeSlack, text: str = "<@UBOT> question") -> str:
    return slack.user_says("C1", "U1", text)


@pytest.mark.parametrize(("status", "code"), [(429, "ThrottlingException"), (500, "InternalServerException"),
                                              (503, "ServiceUnavailableException")])
def test_refused_before_the_stream_is_retried_and_the_reply_says_it_waits(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, status: int, code: str) -> None:
    bedrock.enqueue(Error(status, code, "Too many requests, please wait before trying again."))
    bedrock.enqueue(Error(status, code, "Too many requests, please wait before trying again."))
    answered = threading.Event()
    bedrock.enqueue(Stream(["Fine ", "now."], gate=answered))
    ts = ask(slack)
    # the placeholder says it is waiting (the test's sleep is instant, so the third call is held instead)
    slack.wait_for(lambda s: any("retrying" in c.params["text"] for c in s.calls_for("chat.update")))
    answered.set()
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"] == "Fine now."
    assert len(bedrock.calls) == 3


def test_throttled_on_every_attempt_ends_with_a_clear_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    for _ in range(4):
        bedrock.enqueue(Error(429, "ThrottlingException", "Too many tokens, please wait before trying again."))
    ts = ask(slack)
    replies = final_state(slack, "C1", ts)
    assert len(bedrock.calls) == 4  # BEDROCK_MAX_ATTEMPTS
    assert "throttling" in replies[0]["text"] and "Thinking" not in replies[0]["text"]


@pytest.mark.parametrize("exception", ["throttlingException", "modelStreamErrorException",
                                       "internalServerException", "serviceUnavailableException"])
def test_stream_broken_mid_way_is_resumed_seamlessly(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                                     exception: str) -> None:
    bedrock.enqueue(Stream(["The answer ", "is forty", "-two"], fail_after=2, exception=exception))
    bedrock.enqueue(Stream(["-two, as ", "always."]))
    ts = ask(slack)
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"] == "The answer is forty-two, as always."
    resume = bedrock.calls[1].messages[-1]
    assert resume == {"role": "assistant", "content": [{"text": "The answer is forty"}]}


def test_stalled_stream_times_out_and_is_resumed(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Slow ", "start"], stall_after=1, stall_seconds=3))
    bedrock.enqueue(Stream(["start, then fine."]))
    ts = ask(slack)
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"] == "Slow start, then fine."


def test_dropped_connection_mid_stream_is_resumed(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Half ", "of it"], close_after=1))
    bedrock.enqueue(Stream([" and the rest."]))
    ts = ask(slack)
    assert final_state(slack, "C1", ts)[0]["text"] == "Half and the rest."


@pytest.mark.parametrize("fault", [{"status": 500}, {"status": 503}, {"reset_connection": True},
                                   {"delay": 1.0}], ids=["500", "503", "reset", "timeout"])
def test_slack_edit_failures_are_retried_and_the_final_text_lands(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, fault: dict[str, Any]) -> None:
    slack.fail_next("chat.update", 2, **fault)
    bedrock.enqueue(Stream(["Complete ", "answer."]))
    ts = ask(slack)
    assert final_state(slack, "C1", ts)[0]["text"] == "Complete answer."


@pytest.mark.parametrize("fault", [{"status": 500}, {"reset_connection": True}], ids=["500", "reset"])
def test_placeholder_post_failures_are_retried(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                               fault: dict[str, Any]) -> None:
    slack.fail_next("chat.postMessage", 1, **fault)
    bedrock.enqueue(Stream(["ok"]))
    ts = ask(slack)
    assert final_state(slack, "C1", ts)[0]["text"] == "ok"


@pytest.mark.parametrize("error", ["not_in_channel", "channel_not_found", "is_archived", "restricted_action"])
def test_placeholder_refused_is_logged_once_with_the_fix(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                                         caplog: pytest.LogCaptureFixture, error: str) -> None:
    caplog.set_level(logging.DEBUG, logger="bot.slack.writer")
    slack.fail_next("chat.postMessage", 2, error=error)
    ask(slack, "<@UBOT> one")
    ask(slack, "<@UBOT> two")
    slack.wait_for(lambda s: len([c for c in s.calls_for("chat.postMessage") if c.error == error]) == 2)
    bedrock.enqueue(Stream(["still alive"]))
    ts = ask(slack, "<@UBOT> three")
    assert final_state(slack, "C1", ts)[0]["text"] == "still alive"
    errors = [r for r in caplog.records if r.levelno == logging.ERROR and error in r.getMessage()]
    assert len(errors) == 1  # once per channel and error, with the fix
    assert "Invite the bot" in errors[0].getMessage() if error == "not_in_channel" else True
    assert len(bedrock.calls) == 1  # nothing was asked of the model for the refused ones


def test_socket_refresh_and_abrupt_drop_reconnect_and_keep_answering(bot: Any, slack: FakeSlack,
                                                                      bedrock: FakeBedrock) -> None:
    slack.send_disconnect("refresh_requested", grace=0.0)
    slack.wait_for(lambda s: s.connections_opened >= 1 and s.open_connections >= 1, timeout=10)
    bedrock.enqueue(Stream(["after refresh"]))
    assert final_state(slack, "C1", ask(slack))[0]["text"] == "after refresh"
    opened = slack.connections_opened
    slack.drop_connections(abrupt=True)
    slack.wait_for(lambda s: s.connections_opened > opened and s.open_connections >= 1, timeout=15)
    bedrock.enqueue(Stream(["after drop"]))
    ts = ask(slack)
    assert final_state(slack, "C1", ts)[0]["text"] == "after drop"
    again = slack.redeliver(next(e for e in slack.envelopes if e["payload"]["event"].get("ts") == ts)["envelope_id"])
    slack.wait_for_ack(again)
    bedrock.enqueue(Stream(["probe"]))
    final_state(slack, "C1", ask(slack, "<@UBOT> probe"))
    assert len(bot_replies(slack, "C1", ts)) == 1  # the redelivered event was not answered again

