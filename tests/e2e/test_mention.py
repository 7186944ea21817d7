"""@mention end to end: the real app over Socket Mode against the fake Slack and the fake Bedrock."""

from __future__ import annotations

import itertools
import threading
from typing import Any

import pytest

from tests.conftest import MODEL
from tests.e2e.helpers import call_md, final_state
from tests.fakes.bedrock import Error, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


def test_mention_streams_into_a_threaded_reply(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Rotate ", "keys ", "with ", "**IAM**."], delay=0.05))
    ts = slack.user_says("C1", "U1", "<@UBOT> how do I rotate IAM keys?")
    replies = final_state(slack, "C1", ts)
    assert [m["text"] for m in replies] == ["Rotate keys with *IAM*."]
    assert replies[0]["thread_ts"] == ts
    posts = slack.calls_for("chat.postMessage")
    assert len(posts) == 1 and posts[0].params["thread_ts"] == ts
    request = bedrock.calls[0]
    assert request.model_id == MODEL
    assert request.messages == [{"role": "user", "content": [{"text": "how do I rotate IAM keys?"}]}]
    assert request.inference_config == {"maxTokens": 4096}
    assert "Slack" in request.system[0]["text"]


def updates(slack: FakeSlack, ts: str | None = None) -> list[Any]:
    return [c for c in slack.calls_for("chat.update") if c.ok and (ts is None or c.params.get("ts") == ts)]


def test_placeholder_comes_first_then_throttled_edits(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    deltas = [f"w{i} " for i in range(40)]
    shown = threading.Event()
    bedrock.enqueue(Stream(deltas, delay=0.025, gate=shown, gate_after=1))  # ~1 s of streaming after "w0 "
    ts = slack.user_says("C1", "U1", "<@UBOT> count")
    slack.wait_for(lambda s: updates(s))  # the first delta is shown while the rest is held back
    shown.set()
    replies = final_state(slack, "C1", ts)
    placeholder = slack.calls_for("chat.postMessage")[0]
    assert placeholder.params["thread_ts"] == ts
    assert "Thinking" in placeholder.params["text"]
    assert placeholder.time < bedrock.calls[0].time  # the reply exists before Bedrock is asked
    edits = updates(slack, replies[0]["ts"])
    assert call_md(edits[0]) == "w0 "
    assert edits[0].params["text"].endswith("_… still writing_")
    assert replies[0]["text"] == "".join(deltas).strip()  # the final text, no marker
    streamed = bedrock.delta_log[-1][0] - bedrock.delta_log[1][0]  # as long as it really took on this machine
    assert len(edits) <= streamed / 0.2 + 1 + 2  # interval 0.2 s; +1 for the first text, +2 for the ends
    texts = [call_md(c) for c in edits]
    assert all(b.startswith(a) for a, b in itertools.pairwise(texts))  # never backwards
    assert len(set(c.params["text"] for c in edits)) == len(edits)  # never an edit without change


def test_bedrock_request_carries_model_system_and_inference_config(bot: Any, slack: FakeSlack,
                                                                   bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["ok"]))
    ts = slack.user_says("C1", "U2", "<@UBOT>   what is  &lt;IAM&gt;?")
    final_state(slack, "C1", ts)
    request = bedrock.calls[0]
    assert request.model_id == MODEL
    assert request.body["messages"][0]["content"][0]["text"] == "what is <IAM>?"
    assert request.system[0]["text"].startswith("You are a helpful assistant")
    assert {"cachePoint": {"type": "default"}} in request.system
    assert request.inference_config["maxTokens"] == 4096


@pytest.mark.parametrize(("reason", "fragment"), [
    ("guardrail_intervened", "guardrail"),
    ("content_filtered", "content filter"),
    ("model_context_window_exceeded", "context window"),
    ("malformed_model_output", "malformed output"),
    ("refusal", "unexpected reason (refusal)"),
])
def test_other_stop_reasons_end_with_a_specific_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                                     reason: str, fragment: str) -> None:
    bedrock.enqueue(Stream(["Partial ", "answer"], stop_reason=reason))
    ts = slack.user_says("C1", "U1", "<@UBOT> hm")
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"].startswith("Partial answer\n\n:warning: _")
    assert fragment in replies[0]["text"]


@pytest.mark.parametrize(("status", "code", "message", "fragment"), [
    (403, "AccessDeniedException", "You don't have access to the model with the specified model ID.",
     "enable access to this model"),
    (400, "ValidationException", "The provided model identifier is invalid.", "check BEDROCK_MODEL_ID"),
    (404, "ResourceNotFoundException", "Model not found", "check BEDROCK_MODEL_ID"),
    (403, "ExpiredTokenException", "The security token included in the request is expired", "AWS credentials"),
])
def test_errors_retrying_cannot_fix_tell_the_operator(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                                      status: int, code: str, message: str, fragment: str) -> None:
    bedrock.enqueue(Error(status, code, message))
    ts = slack.user_says("C1", "U1", "<@UBOT> hello")
    replies = final_state(slack, "C1", ts)
    assert fragment in replies[0]["text"]
    assert "Thinking" not in replies[0]["text"]
    assert len(bedrock.calls) == 1  # not retried
    bedrock.enqueue(Stream(["still ", "serving"]))  # the process keeps answering
    ts2 = slack.user_says("C1", "U1", "<@UBOT> again")
    assert final_state(slack, "C1", ts2)[0]["text"] == "still serving"


def test_error_mid_stream_keeps_the_partial_text(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    for _ in range(4):  # first attempt + 3 resumptions, all failing
        bedrock.enqueue(Stream(["Some ", "text ", "more"], fail_after=2, exception="modelStreamErrorException"))
    ts = slack.user_says("C1", "U1", "<@UBOT> fail")
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"].startswith("Some text ")
    assert "internal error" in replies[0]["text"]


def test_long_answer_arrives_whole_over_several_messages(bot: Any, slack: FakeSlack,
                                                         bedrock: FakeBedrock) -> None:
    words = [f"word{i}" for i in range(3000)]
    text = " ".join(words)  # about 23,000 characters
    chunks = [text[i:i + 50] for i in range(0, len(text), 50)]
    bedrock.enqueue(Stream(chunks, delay=0.0))
    ts = slack.user_says("C1", "U1", "<@UBOT> long please")
    replies = final_state(slack, "C1", ts)
    assert len(replies) >= 6
    assert all(len(m["text"]) <= 4000 for m in replies)
    joined = "\n".join(m["text"] for m in replies)  # separate messages: a reader sees a break between them
    assert joined.replace("\n", " ").split() == words  # every word once, in order
    assert not [c for c in slack.calls_for("chat.update") if c.error == "msg_too_long"]


def test_a_thinking_model_shows_only_its_answer(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Claude Sonnet 5 on Bedrock always thinks first; its reasoning deltas are not part of the answer."""
    bedrock.set_default_model(reasoning=True)
    bedrock.enqueue(Stream(["The ", "answer."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> think")
    assert final_state(slack, "C1", ts)[0]["text"] == "The answer."
