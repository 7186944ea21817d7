"""The durable journal, end to end with `python -m bot` processes: a crash (`kill -9`) or a restart loses no
answer and doubles none; what was shown is continued, not written again."""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from tests.conftest import AWS_ENV, bot_env, fresh_state_url, output
from tests.e2e.helpers import bot_replies, final_state, marks
from tests.fakes.bedrock import Answer, FakeBedrock, Request, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")

FULL = {
    "first": " ".join(f"alpha{i}" for i in range(60)) + ".",
    "second": "The second answer, complete.",
    "third": "The third answer, complete too.",
}


def env_for(slack: FakeSlack, bedrock: FakeBedrock, state: str, **extra: str) -> dict[str, str]:
    return {**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url, "STATE_URL": state,
            **extra}


def question_of(request: Request) -> str:
    first = request.messages[0]["content"][0]["text"]
    return next(key for key in FULL if key in first)


def tokens(text: str, size: int = 6) -> list[str]:
    return [text[i:i + size] for i in range(0, len(text), size)]


def test_kill_9_mid_answer_then_a_restart_completes_all_three_exactly_once(spawn: Any, slack: FakeSlack,
                                                                            bedrock: FakeBedrock) -> None:
    """One answer streaming and two queued behind it (one worker); the process is killed with SIGKILL while
    the first shows part of its text. The next process resumes the first from that text (a continuation of the
    model, not a new answer) and answers the other two; every reply ends exact, each question answered once."""
    held = threading.Event()
    first_calls: list[Request] = []

    def model(request: Request) -> Any:
        question = question_of(request)
        if question == "first" and not first_calls:
            first_calls.append(request)
            return Stream(tokens(FULL["first"]), gate=held, gate_after=20)  # shows 20 tokens, then hangs
        return Answer(FULL[question], token_chars=6)

    bedrock.set_fallback(model)
    env = env_for(slack, bedrock, fresh_state_url(), MAX_CONCURRENT_ANSWERS="1", UPDATE_INTERVAL_SECONDS="0.1")
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    asked = {key: slack.user_says("C1", "U1", f"<@UBOT> {key}?") for key in FULL}
    shown = slack.wait_for(lambda s: [m for m in bot_replies(s, "C1", asked["first"]) if "alpha10" in m["text"]],
                           timeout=10)[0]["text"]
    slack.wait_for(lambda s: all(bot_replies(s, "C1", asked[k]) for k in ("second", "third")))  # queued
    proc.kill()  # SIGKILL: nothing runs on the way out
    proc.wait(10)
    held.set()
    slack.wait_for(lambda s: s.open_connections == 0, timeout=10)
    calls_before = len(bedrock.calls)

    spawn(env)  # the same journal
    for key, ts in asked.items():
        replies = final_state(slack, "C1", ts, timeout=30)
        assert "".join(m["text"] for m in replies) == FULL[key], key
        assert len(bot_replies(slack, "C1", ts)) == len(replies), key  # no second placeholder, no repeat
    resumed = [r for r in bedrock.calls[calls_before:] if question_of(r) == "first"]
    assert len(resumed) >= 1
    partial = "".join(b.get("text", "") for m in resumed[-1].messages[1:] if m["role"] == "assistant"
                      for b in m["content"])
    assert partial.strip() and shown.startswith(partial.strip()[:40])  # it continued from what Slack showed
    assert len([r for r in bedrock.calls if question_of(r) == "second"]) == 1  # never asked twice


def test_accepted_before_the_crash_but_never_shown_is_answered_after_the_restart(spawn: Any, slack: FakeSlack,
                                                                                 bedrock: FakeBedrock) -> None:
    """Slack is failing every post when the mention arrives: the event is journaled and acknowledged, but no
    placeholder exists when the process is killed. After the restart (Slack is back) it is answered, once."""
    bedrock.set_fallback(lambda request: Answer("Answered after all.", token_chars=5))
    env = env_for(slack, bedrock, fresh_state_url())
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    slack.outage(120.0, ("chat.postMessage",))
    ts = slack.user_says("C1", "U1", "<@UBOT> are you there?")
    slack.wait_for(lambda s: len(s.acks) >= 2 and s.calls_for("chat.postMessage"))  # acked; posting fails
    proc.kill()
    proc.wait(10)
    slack.reset_faults()
    spawn(env)
    replies = final_state(slack, "C1", ts, timeout=20)
    assert [m["text"] for m in replies] == ["Answered after all."]
    assert len(bot_replies(slack, "C1", ts)) == 1


def test_an_answer_too_old_to_resume_is_closed_with_a_note(spawn: Any, slack: FakeSlack,
                                                           bedrock: FakeBedrock) -> None:
    held = threading.Event()
    bedrock.set_fallback(lambda request: Stream(tokens(FULL["first"]), gate=held, gate_after=10))
    env = env_for(slack, bedrock, fresh_state_url(), RESUME_MAX_AGE_SECONDS="1")
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    ts = slack.user_says("C1", "U1", "<@UBOT> first?")
    slack.wait_for(lambda s: [m for m in bot_replies(s, "C1", ts) if "alpha" in m["text"]], timeout=10)
    proc.kill()
    proc.wait(10)
    held.set()
    time.sleep(1.5)  # older than RESUME_MAX_AGE_SECONDS now
    calls = len(bedrock.calls)
    spawn(env)
    replies = final_state(slack, "C1", ts, timeout=20)
    assert replies[-1]["text"].startswith("alpha0 alpha1")
    assert "down for too long to finish this answer" in replies[-1]["text"]
    assert len(bedrock.calls) == calls  # the model was not asked again


def test_sigterm_pauses_what_cannot_finish_and_the_next_start_completes_it(spawn: Any, slack: FakeSlack,
                                                                           bedrock: FakeBedrock) -> None:
    """A restart (SIGTERM) in the middle of a long answer: the socket closes first, the quick answer finishes
    in the grace period, the long one is shown as far as it got with a note, and the next start continues it
    to the exact end."""
    long_answer = " ".join(f"w{i}" for i in range(400)) + "."

    def model(request: Request) -> Any:
        if "quick" in str(request.messages):
            return Stream(["quick ", "one"], delay=0.2)
        return Answer(long_answer, token_chars=3, delay=0.025)  # about 16 s: does not finish in the grace

    bedrock.set_fallback(model)
    env = env_for(slack, bedrock, fresh_state_url(), SHUTDOWN_GRACE_SECONDS="4")
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    quick = slack.user_says("C1", "U1", "<@UBOT> quick")
    slow = slack.user_says("C2", "U1", "<@UBOT> slow")
    slack.wait_for(lambda s: len(bedrock.delta_log) > 10)
    proc.send_signal(signal.SIGTERM)
    slack.wait_for(lambda s: s.open_connections == 0, timeout=5)  # stops receiving first
    assert proc.wait(30) == 0
    assert final_state(slack, "C1", quick)[0]["text"] == "quick one"
    paused = bot_replies(slack, "C2", slow)[-1]
    assert marks(paused)["state"] == "streaming"  # not final: the journal still holds it
    assert paused["text"].startswith("w0 w1") and "continues when it is back" in paused["text"]
    closing = next(c for c in reversed(slack.calls_for("chat.update")) if c.params.get("channel") == "C2")
    assert slack.disconnection_times[-1] < closing.time  # the socket closed before the answer was paused
    assert "pausing them for the next start" in output(proc)

    spawn(env)
    replies = final_state(slack, "C2", slow, timeout=40)
    assert "".join(m["text"] for m in replies) == long_answer


def test_an_edited_mention_is_not_answered_again_after_a_restart(spawn: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    """Slack sends `app_mention` again when a mention is edited (same ts, an `edited` field, a new event id).
    "Already answered" is in the journal's claims, so not even a restart makes the bot answer it twice."""
    bedrock.set_fallback(lambda request: Stream(["Once."]))
    env = env_for(slack, bedrock, fresh_state_url())
    proc = spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    final_state(slack, "C1", ts)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    spawn(env)
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    envelopes = len(slack.envelopes)
    slack.user_edits("C1", ts, "<@UBOT> hello, with a typo fixed")
    resent = [e for e in slack.envelopes[envelopes:] if e["payload"]["event"]["type"] == "app_mention"]
    assert resent and resent[0]["payload"]["event"]["edited"]  # Slack's re-sent mention
    slack.wait_for_ack(resent[0]["envelope_id"])
    bedrock.enqueue(Stream(["probe"]))
    final_state(slack, "C1", slack.user_says("C1", "U1", "<@UBOT> probe"))  # served after the edit
    assert len(bot_replies(slack, "C1", ts)) == 1
    assert len(bedrock.calls) == 2  # the question and the probe, not the edit
