"""The native route end to end: Slack's streams (chat.startStream/appendStream/stopStream), through the fake.

Expected values are written out here, not computed with the bot's own code: the streamed text is the model's
Markdown as it came (no mrkdwn conversion), the marks give it back exactly, and every stream ends stopped (or
finished with chat.update), never left streaming.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.e2e.helpers import bot_replies, final_state, marks
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(STREAMING_MODE="native", BEDROCK_READ_TIMEOUT_SECONDS="120")


def stream_calls(slack: FakeSlack) -> list[tuple[str, dict[str, Any]]]:
    return [(c.method, c.params) for c in slack.calls if c.method.startswith("chat.") and "Stream" in c.method]


def test_a_channel_answer_streams_natively_with_both_recipient_ids(bot: Any, slack: FakeSlack,
                                                                    bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["# Title\n\n", "Some **bold** text", " and a [link](https://example.com)."],
                           delay=0.3))
    ts = slack.user_says("C1", "U2", "<@UBOT> explain")
    (message,) = final_state(slack, "C1", ts)
    expected = "# Title\n\nSome **bold** text and a [link](https://example.com)."
    assert message["text"] == expected  # Slack renders the Markdown itself: sent as the model wrote it
    assert marks(message) == {"v": 1, "answer": f"T0TEAM-C1-{ts}", "reply_to": ts, "part": 0, "state": "final",
                              "route": "native", "parts": 1, "md": expected}
    calls = stream_calls(slack)
    start = calls[0][1]
    assert calls[0][0] == "chat.startStream"
    assert (start["recipient_user_id"], start["recipient_team_id"], start["thread_ts"]) == ("U2", "T0TEAM", ts)
    assert calls[-1][0] == "chat.stopStream"
    assert all(m == "chat.appendStream" for m, _p in calls[1:-1])
    assert not slack.calls_for("chat.update") and not slack.calls_for("chat.postMessage")
    assert [s.state for s in slack.streams] == ["stopped"]


def test_the_final_message_carries_the_feedback_buttons_in_stop_stream(bot: Any, slack: FakeSlack,
                                                                        bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Yes."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> ok?")
    (message,) = final_state(slack, "C1", ts)
    stop = slack.calls_for("chat.stopStream")[-1].params
    blocks = stop["blocks"] if isinstance(stop["blocks"], list) else json.loads(stop["blocks"])
    assert [b["type"] for b in blocks] == ["context_actions"]
    buttons = blocks[0]["elements"][0]
    assert buttons["type"] == "feedback_buttons"
    assert buttons["positive_button"]["value"] == f"good:T0TEAM-C1-{ts}"
    assert buttons["negative_button"]["value"] == f"bad:T0TEAM-C1-{ts}"
    assert message["text"] == "Yes."  # the buttons are not part of the text


def test_a_long_answer_rolls_over_into_new_streams_and_comes_back_exactly(bot: Any, slack: FakeSlack,
                                                                           bedrock: FakeBedrock) -> None:
    paragraph = "A sentence of the manual, long enough to count. " * 20 + "\n\n"  # 982 characters
    code = "```python\n" + "".join(f"value_{i} = {i}\n" for i in range(300)) + "```\n\n"
    answer = paragraph * 10 + code + paragraph * 6  # about 19,600 characters: two messages at 11,000
    bedrock.enqueue(Stream([answer[i:i + 400] for i in range(0, len(answer), 400)], delay=0.01))
    ts = slack.user_says("C1", "U1", "<@UBOT> the manual")
    messages = final_state(slack, "C1", ts, timeout=30)
    assert len(messages) == 2
    assert "".join(marks(m)["md"] for m in messages) == answer  # the model's Markdown, exactly
    assert all(len(m["text"]) <= 11_000 for m in messages)
    # the code block cut between the two messages is closed in the first and reopened in the second
    first, second = messages[0]["text"], messages[1]["text"]
    if first.count("```") % 2 == 0 and first.rstrip().endswith("```"):
        assert second.startswith("```python\n")
    assert [marks(m)["state"] for m in messages] == ["streaming", "final"]
    assert [s.state for s in slack.streams] == ["stopped", "stopped"]


def test_an_expired_stream_is_finished_with_chat_update_and_the_answer_goes_on(bot: Any, slack: FakeSlack,
                                                                                bedrock: FakeBedrock) -> None:
    """Slack ends streams after about five minutes (here 1.5 s): the message keeps its text, gets its marks with
    chat.update, and the rest of the answer streams into a new message; nothing is left streaming."""
    slack.stream_ttl = 1.5
    deltas = [f"word{i} " for i in range(60)]
    bedrock.enqueue(Stream(deltas, delay=0.05))  # 3 s
    ts = slack.user_says("C1", "U1", "<@UBOT> take your time")
    messages = final_state(slack, "C1", ts, timeout=20)
    assert len(messages) >= 2  # each stream lives 1.5 s: at least one expired
    assert "".join(marks(m)["md"] for m in messages) == "".join(deltas)
    # what each shows: nothing lost or repeated (a space left after the last cut stays in the marks only)
    texts = [m["text"] for m in messages]
    assert "".join(texts).rstrip() == "".join(deltas).rstrip(), [t[:12] for t in texts]
    assert any(c.error == "message_not_in_streaming_state" for c in slack.calls_for("chat.appendStream"))
    states = [s.state for s in slack.streams]
    assert states[-1] == "stopped" and set(states[:-1]) <= {"expired", "stopped"} and "expired" in states
    updates = [c for c in slack.calls_for("chat.update") if c.ok]
    expired = [s.ts for s in slack.streams if s.state == "expired"]
    assert sorted(c.params["ts"] for c in updates) == sorted(expired)  # each ended stream finished, once
    for call in updates:
        blocks = call.params["blocks"]
        blocks = blocks if isinstance(blocks, list) else json.loads(blocks)
        message = next(m for m in messages if m["ts"] == call.params["ts"])
        assert blocks[0] == {"type": "markdown", "text": marks(message)["md"]}
        assert marks(message)["state"] == "streaming"
    assert marks(messages[-1])["state"] == "final"


def test_streaming_state_conflict_stops_the_stream_before_finishing_it(bot: Any, slack: FakeSlack,
                                                                        bedrock: FakeBedrock) -> None:
    """An append refused as if the stream had ended while it still streams: chat.update answers
    streaming_state_conflict, so the bot stops the stream instead — never a broken message."""
    bedrock.enqueue(Stream([f"w{i} " for i in range(20)], delay=0.05))
    ts = slack.user_says("C1", "U1", "<@UBOT> go")
    slack.wait_for(lambda s: s.calls_for("chat.startStream"))
    slack.fail_next("chat.appendStream", error="message_not_in_streaming_state")
    messages = final_state(slack, "C1", ts, timeout=20)
    assert any(c.error == "streaming_state_conflict" for c in slack.calls_for("chat.update"))
    assert "".join(marks(m)["md"] for m in messages) == "".join(f"w{i} " for i in range(20))
    assert all(s.state == "stopped" for s in slack.streams)


def test_a_person_stopping_the_stream_cancels_the_model_and_keeps_what_was_shown(bot: Any, slack: FakeSlack,
                                                                                  bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream([f"part{i} " for i in range(300)], delay=0.05))  # 15 s if read to the end
    ts = slack.user_says("C1", "U1", "<@UBOT> a long one")
    slack.wait_for(lambda s: any("part3 " in (m.get("text") or "") for m in bot_replies(s, "C1", ts)))
    stream_ts = slack.streams[0].ts
    slack.user_stops_stream("C1", stream_ts)
    slack.wait_for(lambda s: bedrock.hangups, timeout=10)  # the model is cancelled
    (message,) = final_state(slack, "C1", ts)
    shown = message["text"]
    assert shown.startswith("part0 part1 part2 part3 ") and "⚠️" not in shown  # kept, no error note
    assert marks(message)["md"] == shown and marks(message)["state"] == "final"
    assert len([d for d in bedrock.delta_log if d[1].startswith("part")]) < 200
    assert any(c.error == "stopped_by_user" for c in slack.calls_for("chat.appendStream"))
    assert len(bedrock.calls) == 1  # not resumed


def test_the_stop_event_cancels_a_silent_model_at_once(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """With Slack's stop event the model is cancelled even while it says nothing (no append to be refused)."""
    slack.stream_stop_events = True
    bedrock.enqueue(Stream(["Thinking out loud", " and then"], stall_after=1, stall_seconds=60))
    ts = slack.user_says("C2", "U1", "<@UBOT> a hard one")
    slack.wait_for(lambda s: any("Thinking out loud" in (m.get("text") or "") for m in bot_replies(s, "C2", ts)))
    slack.user_stops_stream("C2", slack.streams[0].ts)
    slack.wait_for(lambda s: bedrock.hangups, timeout=10)  # long before the 60 s of silence end
    (message,) = final_state(slack, "C2", ts)
    assert message["text"] == "Thinking out loud", [(c.method, c.error, c.params) for c in slack.calls[-4:]]


def test_a_stream_resumed_after_a_bedrock_fault_reads_as_one_answer(bot: Any, slack: FakeSlack,
                                                                     bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["The answer ", "is forty", "-two"], fail_after=2, exception="throttlingException"))
    bedrock.enqueue(Stream(["-two, as ", "always."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> the answer?")
    (message,) = final_state(slack, "C1", ts)
    assert message["text"] == "The answer is forty-two, as always."
    assert marks(message)["md"] == "The answer is forty-two, as always."


def test_a_follow_up_reads_the_streamed_answer_back_exactly_without_buttons(bot: Any, slack: FakeSlack,
                                                                             bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Use **IAM** roles."]))
    root = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    final_state(slack, "C1", root)
    bedrock.enqueue(Stream(["Every 90 days."]))
    follow = slack.user_says("C1", "U1", "how often?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=follow)
    request = bedrock.calls[-1]
    assistant = [m for m in request.messages if m["role"] == "assistant"]
    assert [[b["text"] for b in m["content"] if "text" in b] for m in assistant] == [["Use **IAM** roles."]]
