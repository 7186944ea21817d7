"""The Messages tab end to end: DM status, thread title, suggested prompts, feedback buttons and clicks."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from tests.e2e.helpers import final_state, marks
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(STREAMING_MODE="auto", ALLOWED_USER_IDS="U1,U2",
                     SUGGESTED_PROMPTS='[{"title": "Rotate keys", "message": "How do I rotate IAM keys?"}]')


def blocks_of(params: dict[str, Any]) -> list[dict[str, Any]]:
    raw = params.get("blocks") or []
    return raw if isinstance(raw, list) else json.loads(raw)


def test_a_dm_shows_a_status_until_the_text_appears_then_one_streamed_message(bot: Any, slack: FakeSlack,
                                                                             bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["Rotate ", "them ", "every 90 days."], delay=0.1))
    ts = slack.user_says("D1", "U1", "How often should I rotate <https://aws.amazon.com|AWS> keys?")
    (message,) = final_state(slack, "D1", ts)
    statuses = [(thread, status, loading) for _t, _c, thread, status, loading in slack.statuses("D1")]
    assert statuses == [(ts, "is thinking…", ["Thinking…", "Reading the conversation…", "Writing the answer…"]),
                        (ts, "", [])]  # set before any message, cleared by Slack when the reply came
    status_at = slack.statuses("D1")[0][0]
    first_message = next(c.time for c in slack.calls if c.method in ("chat.startStream", "chat.postMessage"))
    assert status_at < first_message
    assert not slack.calls_for("chat.postMessage")  # no placeholder message
    start = slack.calls_for("chat.startStream")[0].params
    assert start["markdown_text"]  # the first message starts with text
    assert message["text"] == "Rotate them every 90 days."
    assert slack.titles == [("D1", ts, "How often should I rotate AWS keys?")]


def test_a_refused_status_falls_back_to_a_placeholder(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.fail_next("assistant.threads.setStatus", error="not_allowed")
    bedrock.enqueue(Stream(["Fine."], delay=0.1))
    ts = slack.user_says("D1", "U1", "hello")
    final_state(slack, "D1", ts)
    first = next(c for c in slack.calls if c.method in ("chat.startStream", "chat.postMessage"))
    assert (first.method == "chat.postMessage" and first.params["text"] == "_Thinking…_") or \
        (first.method == "chat.startStream" and not first.params.get("markdown_text"))


def test_opening_the_messages_tab_sets_the_suggested_prompts_once(bot: Any, slack: FakeSlack) -> None:
    slack.user_opens_messages_tab("U1", "D1")
    slack.wait_for(lambda s: s.prompts)
    assert slack.prompts == [("D1", None, [{"title": "Rotate keys", "message": "How do I rotate IAM keys?"}])]
    slack.user_opens_messages_tab("U1", "D1", tab="home")
    slack.user_opens_messages_tab("U1", "D1")  # again within the hour: not set again
    slack.wait_for(lambda s: len([a for a in s.acks]) >= 3)
    assert len(slack.prompts) == 1


def test_edit_route_final_message_carries_the_text_as_sections_and_the_buttons(bot: Any, slack: FakeSlack,
                                                                              bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["**Bold** answer."]))
    slack.fail_next("chat.startStream", error="method_not_supported_for_channel_type", channel="C2")
    ts = slack.user_says("C2", "U1", "<@UBOT> hi")
    (message,) = final_state(slack, "C2", ts)
    assert message["text"] == "*Bold* answer."  # mrkdwn on the edit route, unchanged by the buttons
    blocks = message["blocks"]
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "*Bold* answer."}}
    assert blocks[1]["type"] == "context_actions"
    assert blocks[1]["elements"][0]["positive_button"]["value"] == f"good:T0TEAM-C2-{ts}"


def test_a_click_is_counted_logged_and_thanked(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                               caplog: pytest.LogCaptureFixture) -> None:
    bedrock.enqueue(Stream(["An answer worth a thumb."]))
    ts = slack.user_says("C1", "U2", "<@UBOT> rate me")
    (message,) = final_state(slack, "C1", ts)
    answer = f"T0TEAM-C1-{ts}"
    with caplog.at_level(logging.INFO, logger="bot.surface"):
        envelope = slack.click_feedback("U2", "C1", message["ts"], positive=False)
        slack.wait_for_ack(envelope)
        slack.wait_for(lambda s: s.ephemerals)
    (note,) = slack.ephemerals
    assert (note["user"], note["channel"], note["thread_ts"]) == ("U2", "C1", ts)
    assert note["text"].startswith("Thanks")
    lines = [r for r in caplog.records if r.getMessage().startswith("feedback {")]
    assert len(lines) == 1
    fields = lines[0].fields  # type: ignore[attr-defined]
    assert fields == {"team": "T0TEAM", "channel": "C1", "answer": answer, "user": "U2", "feedback": "negative",
                      "count": 1}
    assert "worth a thumb" not in lines[0].getMessage()
    assert bot.store.get(f"T0TEAM:feedback:{answer}:negative") == "1" or \
        bot.store.bump(f"T0TEAM:feedback:{answer}:negative", 60) == 2


def test_a_click_from_someone_outside_the_allow_list_only_gets_a_note(bot: Any, slack: FakeSlack,
                                                                       bedrock: FakeBedrock,
                                                                       caplog: pytest.LogCaptureFixture) -> None:
    bedrock.enqueue(Stream(["Answer."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> q")
    (message,) = final_state(slack, "C1", ts)
    with caplog.at_level(logging.INFO, logger="bot.surface"):
        slack.click_feedback("U3", "C1", message["ts"])  # U3 is not in ALLOWED_USER_IDS
        slack.wait_for(lambda s: s.ephemerals)
    (note,) = slack.ephemerals
    assert note["user"] == "U3" and "not enabled" in note["text"]
    assert not [r for r in caplog.records if r.getMessage().startswith("feedback {")]
    answer = f"T0TEAM-C1-{ts}"
    assert bot.store.bump(f"T0TEAM:feedback:{answer}:positive", 60) == 1  # nothing was counted before


def test_buttons_never_reach_the_model(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["| a | b |\n|---|---|\n| 1 | 2 |"]))
    root = slack.user_says("C1", "U1", "<@UBOT> a table")
    final_state(slack, "C1", root)
    bedrock.enqueue(Stream(["Sure."]))
    follow = slack.user_says("C1", "U1", "thanks, and?", thread_ts=root)
    (reply,) = final_state(slack, "C1", root, reply_to=follow)
    assert marks(reply)["state"] == "final"
    request = bedrock.calls[-1]
    assert [m["role"] for m in request.messages] == ["user", "assistant", "user"]
    assert [b["text"] for b in request.messages[1]["content"] if "text" in b] == ["| a | b |\n|---|---|\n| 1 | 2 |"]


def test_an_app_without_assistant_write_still_answers(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """An app installed from the old manifest: no assistant:write. Titles are refused, answers go on."""
    slack.bot_scopes = tuple(s for s in slack.bot_scopes if s != "assistant:write")
    bedrock.enqueue(Stream(["Still here."]))
    ts = slack.user_says("D1", "U1", "a new conversation")
    (message,) = final_state(slack, "D1", ts)
    assert message["text"] == "Still here."
    slack.wait_for(lambda s: any(c.error == "missing_scope" for c in s.calls_for("assistant.threads.setTitle")))
    assert slack.titles == []
