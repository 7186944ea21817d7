"""Bedrock guardrails: `guardrailConfig` on every call, and an intervention ends the reply with its note."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pytest

from bot.model.generation import STOP_NOTES
from tests.conftest import AWS_ENV, bot_env
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import Answer, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")
GUARDED = {"BEDROCK_GUARDRAIL_ID": "arn:aws:bedrock:us-east-1:123456789012:guardrail/gr1abc",
           "BEDROCK_GUARDRAIL_VERSION": "4"}


def answer_line(caplog: pytest.LogCaptureFixture, ts: str) -> dict[str, Any] | None:
    """The fields of the per-answer log line of the answer to `ts` (the text line says the same, as JSON)."""
    for record in caplog.records:
        fields = getattr(record, "fields", None)
        if getattr(record, "event", "") == "answer" and isinstance(fields, dict) and fields["ts"] == ts:
            assert json.loads(record.getMessage().removeprefix("answer ")) == fields
            return fields
    return None


@pytest.fixture(scope="module")
def guarded(start_bot: Callable[..., Any]) -> Any:
    """The module's bot (closed by the last test, which runs a process instead; closing twice is harmless)."""
    return start_bot(BEDROCK_MAX_TOKENS="5", **GUARDED)


def test_every_call_carries_the_guardrail_continuations_too(guarded: Any, slack: FakeSlack,
                                                            bedrock: FakeBedrock) -> None:
    bedrock.add_guardrail(GUARDED["BEDROCK_GUARDRAIL_ID"], "4")
    bedrock.set_fallback(lambda request: Answer("A longer answer that needs several calls to finish.", token_chars=3))
    ts = slack.user_says("C1", "U1", "<@UBOT> tell me")
    final_state(slack, "C1", ts)
    configs = [c.body.get("guardrailConfig") for c in bedrock.calls]
    assert len(configs) > 2
    assert configs == [{"guardrailIdentifier": GUARDED["BEDROCK_GUARDRAIL_ID"], "guardrailVersion": "4",
                        "streamProcessingMode": "sync"}] * len(configs)


def test_an_intervention_ends_the_reply_with_the_note_and_is_logged(guarded: Any, slack: FakeSlack,
                                                                    bedrock: FakeBedrock,
                                                                    caplog: pytest.LogCaptureFixture) -> None:
    bedrock.enqueue(Stream(["Here is what", " I can"], stop_reason="guardrail_intervened"))
    with caplog.at_level(logging.INFO, logger="bot.responder"):
        ts = slack.user_says("C1", "U1", "<@UBOT> something a guardrail stops")
        reply = final_state(slack, "C1", ts)[-1]["text"]
        slack.wait_for(lambda s: answer_line(caplog, ts))
    assert reply.startswith("Here is what I can")
    assert STOP_NOTES["guardrail_intervened"] in reply
    assert len(bedrock.calls) == 1  # no continuation after an intervention
    fields = answer_line(caplog, ts)
    assert fields is not None and fields["guardrail_intervened"] is True
    assert fields["stop_reason"] == "guardrail_intervened" and fields["outcome"] == "complete_with_note"


def test_an_unknown_guardrail_gets_a_note_naming_the_settings(guarded: Any, slack: FakeSlack,
                                                              bedrock: FakeBedrock) -> None:
    """Bedrock refuses a guardrail that does not exist (a ValidationException): the reply names the two
    settings to check, not a generic "see the log", and the bot goes on serving."""
    bedrock.add_guardrail("arn:aws:bedrock:us-east-1:123456789012:guardrail/another", "1")  # ours is unknown now
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    reply = final_state(slack, "C1", ts)[-1]["text"]
    assert "BEDROCK_GUARDRAIL_ID" in reply and "BEDROCK_GUARDRAIL_VERSION" in reply
    assert len(bedrock.calls) == 1  # not retried: retrying cannot help
    bedrock.add_guardrail(GUARDED["BEDROCK_GUARDRAIL_ID"], "4")
    bedrock.enqueue(Stream(["Back."]))
    assert final_state(slack, "C1", slack.user_says("C1", "U1", "<@UBOT> again"))[-1]["text"] == "Back."


def test_async_mode_is_passed_on(guarded: Any, spawn: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    guarded.close(grace=1.0)  # only the process below is connected from now on
    slack.wait_for(lambda s: s.open_connections == 0, timeout=5)
    spawn({**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
           "BEDROCK_GUARDRAIL_STREAM_MODE": "async", **GUARDED})
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    bedrock.set_fallback(lambda request: Stream(["fine"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> quick")
    final_state(slack, "C1", ts)
    assert {c.body["guardrailConfig"]["streamProcessingMode"] for c in bedrock.calls} == {"async"}
