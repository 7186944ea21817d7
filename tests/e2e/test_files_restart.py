"""An answer about a file, interrupted by `kill -9`, is resumed by the next process with the same blocks: they are
rebuilt from Slack (the journal holds ids only, never file bytes)."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.conftest import AWS_ENV, bot_env, fresh_state_url
from tests.e2e.helpers import bot_replies, final_state
from tests.fakes.bedrock import Answer, FakeBedrock, Request, Stream
from tests.fakes.slack import FakeSlack
from tests.files_support import pdf, picture

pytestmark = pytest.mark.usefixtures("fresh")
FULL = " ".join(f"point{i}" for i in range(40)) + "."


def tokens(text: str, size: int = 6) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_a_resumed_answer_rebuilds_its_image_and_document_from_slack(spawn: Any, slack: FakeSlack,
                                                                     bedrock: FakeBedrock) -> None:
    held = threading.Event()
    calls: list[Request] = []

    def model(request: Request) -> Any:
        calls.append(request)
        if len(calls) == 1:
            return Stream(tokens(FULL), gate=held, gate_after=10)  # shows some text, then hangs
        return Answer(FULL, token_chars=6)

    bedrock.set_fallback(model)
    env = {**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
           "STATE_URL": fresh_state_url(), "UPDATE_INTERVAL_SECONDS": "0.1"}
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    chart = slack.upload_file("U1", "chart.png", picture(3000, 2000), channel="C1")
    notes = slack.upload_file("U1", "notes.pdf", pdf(3), channel="C1")
    ts = slack.user_says("C1", "U1", "<@UBOT> explain these", files=[chart, notes])
    slack.wait_for(lambda s: any("point5" in m["text"] for m in bot_replies(s, "C1", ts)), timeout=20)
    proc.kill()
    proc.wait(10)
    held.set()
    slack.wait_for(lambda s: s.open_connections == 0, timeout=10)

    spawn(env)  # the same journal
    replies = final_state(slack, "C1", ts, timeout=30)
    assert "".join(m["text"] for m in replies) == FULL
    assert len(calls) >= 2 and bedrock.rejections == []
    first, resumed = calls[0].messages[0]["content"], calls[-1].messages[0]["content"]
    assert [next(iter(b)) for b in first][:2] == ["image", "document"]
    assert resumed[:2] == first[:2]  # the same bytes and the same document name, rebuilt from Slack
    assert calls[-1].messages[-1]["role"] == "assistant"  # a continuation of what was shown, not a new answer
    done = slack.wait_for(lambda s: [d.file_id for d in s.downloads].count(chart["id"]) >= 2 and s.downloads)
    assert [d.file_id for d in done].count(chart["id"]) == 2  # once by each process
