"""Access and cost control end to end: allow-lists, Slack Connect users, per-user rate, output cap, caching."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.access import EXTERNAL, NOT_ENABLED
from tests.e2e.helpers import bot_replies, final_state
from tests.fakes.bedrock import Answer, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")
NO_CACHE_MODEL = "us.anthropic.claude-no-cache-v1"


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    probers = ",".join(f"UP{i}" for i in range(40))  # probes come from fresh users, clear of the rate limit
    return start_bot(ALLOWED_CHANNEL_IDS="C1,G1,CS,CX", ALLOWED_USER_IDS=f"U1,U2,UEXT,{probers}",
                     USER_RATE_LIMIT_PER_MINUTE="3",
                     MAX_ANSWER_OUTPUT_TOKENS="60", BEDROCK_MAX_TOKENS="50", BEDROCK_MODEL_ID=NO_CACHE_MODEL)


@pytest.fixture(autouse=True)
def models(fresh: None, bedrock: FakeBedrock, slack: FakeSlack) -> None:
    bedrock.add_model(NO_CACHE_MODEL, supports_cache=False)
    slack.add_user("UEXT", name="guest", team_id="TOTHERORG")
    slack.add_channel("CS", "shared", kind="public", members=("U1", "UEXT"), bot_member=True, ext_shared=True)
    # a Slack Connect channel the other organisation hosts: Slack sends the app_mention copy of a message
    # with the host's team_id at the top, the message copy with ours (tests/fakes/slack/events.py)
    slack.add_channel("CX", "their-channel", members=("U1", "UEXT"), ext_shared=True, host_team="TOTHERORG")


def asked(bedrock: FakeBedrock, text: str) -> bool:
    return any(text in str(call.messages) for call in bedrock.calls)


PROBERS = iter(range(39))  # UP39 is the rate-limit test's own user


def probe(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Every earlier event has been handled once an answer to a later one is complete."""
    bedrock.enqueue(Stream(["probe"]))
    final_state(slack, "G1", slack.user_says("G1", f"UP{next(PROBERS)}", "<@UBOT> probe"))


def test_model_without_cache_support_still_answers(  # first in the module: the bot has not learnt yet
bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["cached or not"]))
    ts = slack.user_says("C1", "U2", "<@UBOT> hi")
    assert final_state(slack, "C1", ts)[0]["text"] == "cached or not"
    calls = bedrock.calls
    assert "cachePoint" in str(calls[0].body) and "cachePoint" not in str(calls[-1].body)
    bedrock.enqueue(Stream(["again"]))
    ts2 = slack.user_says("C1", "U2", "<@UBOT> hi again")
    final_state(slack, "C1", ts2)
    assert "cachePoint" not in str(bedrock.calls[-1].body)  # remembered: no second rejected call
    assert len(bedrock.calls) == len(calls) + 1


def test_channel_outside_the_allow_list_is_silent(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    ts = slack.user_says("C2", "U1", "<@UBOT> hello?")
    probe(slack, bedrock)
    assert bot_replies(slack, "C2", ts) == []
    assert not asked(bedrock, "hello?")


def test_user_outside_the_allow_list(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    ts = slack.user_says("C1", "U3", "<@UBOT> may I?")  # in a channel: silent
    first = slack.user_says("D1", "U3", "hello")  # in a DM: one polite refusal per conversation
    second = slack.user_says("D1", "U3", "hello again")
    probe(slack, bedrock)
    assert bot_replies(slack, "C1", ts) == []
    refusals = [c for c in slack.calls_for("chat.postMessage") if c.params.get("text") == NOT_ENABLED]
    # events are handled concurrently (as Slack does not promise their order): the note answers either one
    assert len(refusals) == 1 and refusals[0].params["thread_ts"] in (first, second)
    assert not asked(bedrock, "may I") and not asked(bedrock, "hello")


def test_external_user_is_refused_once(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    ts = slack.user_says("CS", "UEXT", "<@UBOT> I am a guest")
    slack.user_says("CS", "UEXT", "<@UBOT> still me", thread_ts=ts)
    probe(slack, bedrock)
    refusals = [c for c in slack.calls_for("chat.postMessage") if c.params.get("text") == EXTERNAL]
    assert len(refusals) == 1
    assert not asked(bedrock, "guest") and not asked(bedrock, "still me")
    bedrock.enqueue(Stream(["hi member"]))  # a member of the workspace in the same shared channel is served
    member = slack.user_says("CS", "U1", "<@UBOT> I am a member")
    assert final_state(slack, "CS", member)[0]["text"] == "hi member"


ORDERS = ["mention_first", "message_first"]


@pytest.mark.parametrize("order", ORDERS)
def test_our_member_in_a_channel_the_other_organisation_hosts_is_answered_once(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, order: str) -> None:
    bedrock.enqueue(Stream(["hello member"]))
    ts = slack.user_says("CX", "U1", "<@UBOT> I am one of yours", mention_order=order)  # type: ignore[arg-type]
    assert final_state(slack, "CX", ts)[0]["text"] == "hello member"
    probe(slack, bedrock)
    assert [c for c in slack.calls_for("chat.postMessage") if c.params.get("text") == EXTERNAL] == []
    assert len(bot_replies(slack, "CX", ts)) == 1
    assert sum(asked_in(call, "I am one of yours") for call in bedrock.calls) == 1


@pytest.mark.parametrize("order", ORDERS)
def test_their_user_in_a_channel_the_other_organisation_hosts_is_refused_once(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock, order: str) -> None:
    ts = slack.user_says("CX", "UEXT", "<@UBOT> I am a guest here", mention_order=order)  # type: ignore[arg-type]
    probe(slack, bedrock)
    refusals = [c for c in slack.calls_for("chat.postMessage") if c.params.get("text") == EXTERNAL]
    assert len(refusals) == 1 and refusals[0].params["thread_ts"] == ts
    assert not asked(bedrock, "guest here")


def test_the_issues_envelope_a_message_copy_from_their_user(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Issue 17's shape, alone: top-level team_id of the other organisation, the author from it too, our
    workspace only in `authorizations` (the fake's default). Before, the top-level team made them "ours"."""
    event = {"type": "message", "user": "UEXT", "team": "TOTHERORG", "user_team": "TOTHERORG",
             "source_team": "TOTHERORG", "channel": "CX", "channel_type": "channel", "ts": "1678451405.023359",
             "text": "<@UBOT> hey"}
    slack.push_event(event, payload={"team_id": "TOTHERORG", "context_team_id": "TOTHERORG",
                                     "is_ext_shared_channel": True})
    probe(slack, bedrock)
    assert not asked(bedrock, "hey")
    assert [c.params["thread_ts"] for c in slack.calls_for("chat.postMessage")
            if c.params.get("text") == EXTERNAL] == ["1678451405.023359"]


def asked_in(call: Any, text: str) -> bool:
    return text in str(call.messages)


def test_per_user_rate_limit(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Stream(["ok"]))
    # one after the other, as a person types: events of one millisecond are handled in parallel, in any order
    for i in range(3):
        ts = slack.user_says("C1", "UP39", f"<@UBOT> question {i}")
        assert final_state(slack, "C1", ts)[0]["text"] == "ok"
    fourth = slack.user_says("C1", "UP39", "<@UBOT> question 3")
    limited = slack.wait_for(lambda s: bot_replies(s, "C1", fourth))
    assert "3 questions a minute" in limited[0]["text"]
    assert not asked(bedrock, "question 3")


def test_output_cap_across_continuations(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Answer("word " * 500, token_chars=5))
    ts = slack.user_says("C1", "U2", "<@UBOT> talk a lot")
    replies = final_state(slack, "C1", ts)
    sizes = [c.inference_config["maxTokens"] for c in bedrock.calls if "cachePoint" not in str(c.body)]
    assert sizes == [50, 10]  # 60 in all, never more
    assert "output limit per answer (MAX_ANSWER_OUTPUT_TOKENS)" in replies[-1]["text"]
