"""Bad input end to end: each gets a sensible reply or a deliberate silence, and the bot keeps serving."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bot.responder import EMPTY_MENTION_HINT
from tests.e2e.helpers import bot_replies, final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


def sent_text(bedrock: FakeBedrock) -> str:
    return str(bedrock.calls[-1].messages[-1]["content"][0]["text"])


def probe(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["still here"]))
    ts = slack.user_says("C2", "U3", "<@UBOT> probe")
    assert final_state(slack, "C2", ts)[0]["text"] == "still here"


def test_empty_mention_gets_a_hint_and_no_model_call(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    ts = slack.user_says("C1", "U1", "<@UBOT>")
    assert EMPTY_MENTION_HINT.replace("“", "").split(",")[0] in final_state(slack, "C1", ts)[0]["text"]
    assert bedrock.calls == []


@pytest.mark.parametrize(("text", "files", "expected"), [
    ("<@UBOT> " + "very long question " * 2200, None, "very long question " * 10),
    ("<@UBOT> :tada:", None, ":tada:"),
    ("<@UBOT> hi <@U2|bob> <#C1|general> <#C2> <!subteam^S1|@ops> <!here> <!channel> <https://a.io/x|docs> "
     "<https://b.io> <mailto:x@y.z|x@y.z> &amp; &lt;tag&gt;",
     None, "hi <@U2> #general #C2 @ops @here @channel docs (https://a.io/x) https://b.io x@y.z & <tag>"),
    ("<@UBOT> bad \ud800 surrogate \x00\x07 and control", None, "bad \ufffd surrogate and control"),
], ids=["40k-message", "emoji-only", "all-markup", "surrogates-and-control"])
def test_odd_messages_are_answered(bot: Any, slack: FakeSlack, bedrock: FakeBedrock, text: str,
                                   files: list[dict[str, Any]] | None, expected: str) -> None:
    bedrock.enqueue(Stream(["answered"]))
    ts = slack.user_says("C1", "U1", text, files=files)
    assert final_state(slack, "C1", ts)[0]["text"] == "answered"
    assert expected in sent_text(bedrock)


def test_a_file_that_slack_no_longer_has_is_named_with_a_note(bot: Any, slack: FakeSlack,
                                                              bedrock: FakeBedrock) -> None:
    """A file object without download links (the file was deleted since): files.info says so, and the model is
    told. (Files that can be read: tests/e2e/test_files.py, with a file-only message among them.)"""
    bedrock.enqueue(Stream(["answered"]))
    ts = slack.user_says("C1", "U1", "<@UBOT>", files=[{"id": "F1", "name": "diagram.png", "mimetype": "image/png"}])
    assert final_state(slack, "C1", ts)[0]["text"] == "answered\n\n:warning: _Not read: `diagram.png` (Slack no " \
        "longer has this file)._"
    assert sent_text(bedrock) == "[attached file: diagram.png (image/png), not read: Slack no longer has this file]"


def test_attachments_or_blocks_without_text(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["about the alert"]))
    event = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1", "ts": "1800000000.000001",
             "text": "", "attachments": [{"fallback": "Alert: CPU high on web-1"}]}
    slack.push_event(event)
    slack.wait_for(lambda s: bedrock.calls)
    assert "Alert: CPU high on web-1" in sent_text(bedrock)
    blocks_only = {"type": "message", "channel": "D1", "channel_type": "im", "user": "U1",
                   "ts": "1800000000.000002", "text": "", "blocks": [{"type": "divider"}]}
    slack.push_event(blocks_only)
    assert EMPTY_MENTION_HINT[:20] in final_state(slack, "D1", "1800000000.000002")[0]["text"]
    assert len(bedrock.calls) == 1


def test_unknown_and_malformed_events_are_ignored(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.push_event({"type": "reaction_added", "user": "U1", "reaction": "tada"})
    slack.push_event({"type": "message", "subtype": "huddle_thread", "channel": "C1", "ts": "1.1"})
    slack.push_event({"type": "message", "channel": "C1", "user": "U1"})  # no ts
    slack.push_event({"type": "app_mention", "channel": 42, "user": "U1", "ts": "1.2", "text": "<@UBOT> x"})
    slack.push_raw("this is not json")
    slack.push_raw({"type": "events_api"})
    slack.push_raw({"type": "events_api", "envelope_id": "e1", "payload": {"event": "not a dict"}})
    slack.push_raw(json.dumps({"type": "something_new", "envelope_id": "e2"}))
    probe(slack, bedrock)
    assert len(bedrock.calls) == 1


def test_thread_with_deleted_users_and_other_bots(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.add_user("UGONE", name="gone", deleted=True)
    root = slack.add_history("C1", "UGONE", "<@UBOT> question from someone who left")
    slack.post_as_other_bot("C1", "an alert from another bot", thread_ts=root)
    bedrock.enqueue(Stream(["answer"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> can you answer them?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts)
    text = sent_text(bedrock)
    assert "<@UGONE>: question from someone who left" in text and "an alert from another bot" in text
    assert len(bot_replies(slack, "C1", root)) == 1
