"""History never crosses conversations; cache points are where they save money; logs hold no secrets."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

CACHE = {"cachePoint": {"type": "default"}}
pytestmark = pytest.mark.usefixtures("fresh")


def test_two_concurrent_threads_in_one_channel_stay_apart(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Stream(["answer ", "for ", "you"], delay=0.05))
    a = slack.user_says("C1", "U1", "<@UBOT> alpha secret plan")
    b = slack.user_says("C1", "U2", "<@UBOT> bravo other topic")
    final_state(slack, "C1", a)
    final_state(slack, "C1", b)
    fa = slack.user_says("C1", "U1", "alpha follow-up", thread_ts=a)
    fb = slack.user_says("C1", "U2", "bravo follow-up", thread_ts=b)
    final_state(slack, "C1", a, reply_to=fa)
    final_state(slack, "C1", b, reply_to=fb)
    for call in bedrock.calls:
        sent = str(call.messages)
        assert not ("alpha" in sent and "bravo" in sent)
    follow_ups = [str(c.messages) for c in bedrock.calls if "follow-up" in str(c.messages)]
    assert any("alpha secret plan" in s for s in follow_ups) and any("bravo other topic" in s for s in follow_ups)


def test_a_private_channel_never_leaks_elsewhere(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Stream(["noted"]))
    private = slack.user_says("G1", "U1", "<@UBOT> the merger code name is BLUEBIRD")
    final_state(slack, "G1", private)
    public = slack.user_says("C1", "U1", "<@UBOT> what is the merger code name?")
    final_state(slack, "C1", public)
    follow = slack.user_says("C1", "U1", "are you sure?", thread_ts=public)
    final_state(slack, "C1", public, reply_to=follow)
    assert all("BLUEBIRD" not in str(c.body) for c in bedrock.calls if "merger code name?" in str(c.messages))


def test_cache_points_after_system_prompt_and_stable_history(bot: Any, slack: FakeSlack,
                                                             bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Stream(["An answer."]))
    root = slack.user_says("C1", "U1", "<@UBOT> first")
    final_state(slack, "C1", root)
    follow = slack.user_says("C1", "U1", "second", thread_ts=root)
    final_state(slack, "C1", root, reply_to=follow)
    request = bedrock.calls[-1]
    assert request.system[-1] == CACHE
    assert CACHE in request.messages[-2]["content"]  # after the stable history: the previous answer
    assert CACHE not in request.messages[-1]["content"]  # the new question is not cached
    assert bedrock.usage_totals["cacheWriteInputTokens"] > 0
