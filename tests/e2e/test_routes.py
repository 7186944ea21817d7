"""STREAMING_MODE=auto end to end: the route each answer takes follows the stream budget."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import final_state, marks
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


def test_auto_takes_the_edit_route_once_the_start_budget_is_spent(start_bot: Any, slack: FakeSlack,
                                                                  bedrock: FakeBedrock) -> None:
    start_bot(STREAMING_MODE="auto", SLACK_STREAMS_PER_MINUTE="1", SLACK_STREAM_BURST="1")
    bedrock.set_fallback(lambda request: Stream(["Short answer."], delay=0.2))
    first = slack.user_says("C1", "U1", "<@UBOT> one")
    second = slack.user_says("C2", "U1", "<@UBOT> two")
    a = final_state(slack, "C1", first)
    b = final_state(slack, "C2", second)
    routes = sorted(marks(m).get("route", "edit") for m in a + b)
    assert routes == ["edit", "native"]  # one start token: one answer streams, the other is edited
    edited = next(m for m in a + b if "route" not in marks(m))
    assert edited["text"] == "Short answer."
