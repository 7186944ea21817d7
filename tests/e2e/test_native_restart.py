"""A streamed answer survives `kill -9`: the next process finds the stream by the ts in its journal (a stream has
no marks until it is stopped), goes on from the text it shows, and the answer ends exact, in one thread."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.conftest import AWS_ENV, bot_env, fresh_state_url
from tests.e2e.helpers import bot_replies, final_state, marks
from tests.fakes.bedrock import FakeBedrock, Request, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")

WORDS = [f"alpha{i} " for i in range(60)]


def test_kill_9_mid_stream_then_a_restart_goes_on_from_what_the_stream_shows(spawn: Any, slack: FakeSlack,
                                                                             bedrock: FakeBedrock) -> None:
    held = threading.Event()
    calls: list[Request] = []

    def model(request: Request) -> Any:
        calls.append(request)
        if len(calls) == 1:
            return Stream(WORDS, gate=held, gate_after=20)  # shows 20 words, then hangs
        shown = "".join(b.get("text", "") for m in request.messages if m["role"] == "assistant"
                        for b in m["content"])
        done = len(shown.split())
        return Stream(WORDS[done:])

    bedrock.set_fallback(model)
    env = {**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
           "STATE_URL": fresh_state_url(), "STREAMING_MODE": "native", "UPDATE_INTERVAL_SECONDS": "0.1"}
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    ts = slack.user_says("C1", "U1", "<@UBOT> count")
    slack.wait_for(lambda s: any("alpha10 " in (m.get("text") or "") for m in bot_replies(s, "C1", ts)), timeout=10)
    proc.kill()  # SIGKILL: the stream is left open, without marks
    proc.wait(10)
    held.set()
    slack.wait_for(lambda s: s.open_connections == 0, timeout=10)
    assert [s.state for s in slack.streams] == ["streaming"]

    spawn(env)  # the same journal
    replies = final_state(slack, "C1", ts, timeout=30)
    assert "".join(marks(m)["md"] for m in replies) == "".join(WORDS)  # continued, nothing repeated or lost
    assert replies[0]["ts"] == slack.streams[0].ts  # the first stream was found and finished, not orphaned
    assert all(s.state in ("stopped", "expired") for s in slack.streams)
    assert len(bot_replies(slack, "C1", ts)) == len(replies)
    assert len(calls) == 2  # resumed as a continuation of the model
