"""The edit interval end to end, with one long enough (30 s) that waiting for a tick would show."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from tests.e2e.helpers import call_md, final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(UPDATE_INTERVAL_SECONDS="30")


def edits(slack: FakeSlack) -> list[Any]:
    return [c for c in slack.calls_for("chat.update") if c.ok]


def test_first_text_at_once_final_text_without_waiting_for_the_tick(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    held = threading.Event()
    bedrock.enqueue(Stream(["first ", "second ", "third"], gate=held, gate_after=1))
    ts = slack.user_says("C1", "U1", "<@UBOT> quick")
    first = slack.wait_for(lambda s: edits(s))[0]
    assert call_md(first) == "first "  # shown although the interval has not started
    held.set()
    replies = final_state(slack, "C1", ts, timeout=10)  # the next tick would be 30 s after the first edit
    assert replies[0]["text"] == "first second third"
    assert [call_md(c) for c in edits(slack)] == ["first ", "first second third"]


def test_interim_edits_wait_for_the_interval(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    deltas = [f"w{i} " for i in range(30)]
    held = threading.Event()
    bedrock.enqueue(Stream(deltas, delay=0.02, gate=held, gate_after=1))
    ts = slack.user_says("C1", "U1", "<@UBOT> count")
    slack.wait_for(lambda s: edits(s))
    held.set()  # 29 more deltas over about 0.6 s
    replies = final_state(slack, "C1", ts, timeout=10)
    assert replies[0]["text"] == "".join(deltas).strip()
    assert len(edits(slack)) == 2  # the first text and the final text; no interim edit within 30 s
