"""Real Slack payloads end to end: forwarded messages, other bots' alerts, link previews and Block Kit reach
the model with the message's own text, through the event (top-level) and through conversations.replies."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.content import ATTACHMENTS_CHAR_LIMIT
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


def texts(request: Any) -> list[tuple[str, str]]:
    return [(m["role"], m["content"][0]["text"]) for m in request.messages]


def forward(text: str) -> dict[str, Any]:
    """The attachment Slack adds to a message that forwards another (a shared message)."""
    return {
        "ts": "1776404384.245429", "channel_id": "C08M9HWQWV8", "channel_team": "T0TEAM", "id": 1,
        "is_msg_unfurl": True, "is_share": True, "mrkdwn_in": ["text"],
        "original_url": "https://fake-team.slack.com/archives/C08M9HWQWV8/p1776404384245429",
        "fallback": f"[April 17th, 2026 1:39 PM] linda: {text[:40]}", "text": text,
        "author_id": "U2", "author_name": "Linda C", "author_subname": "Linda C",
        "author_link": "https://fake-team.slack.com/team/U2", "channel_name": "soln-quickbooks",
        "footer": "Posted in #soln-quickbooks",
    }


ALERT = {
    "id": 1, "color": "E01E5A", "pretext": "Monitor *cpu-load* triggered",
    "title": "[Triggered] CPU load is high on web-1", "title_link": "https://app.datadoghq.com/monitors/123",
    "text": "CPU load is *95%* on `web-1` for 5 minutes.",
    "fields": [{"title": "Host", "value": "web-1", "short": True}, {"title": "Priority", "value": "P1", "short": True}],
    "footer": "Datadog Monitors", "ts": 1700000000, "fallback": "Triggered: CPU load is high on web-1",
}
ERROR_BLOCKS = [
    {"type": "header", "block_id": "h", "text": {"type": "plain_text", "text": "ERROR in payment-service"}},
    {"type": "section", "block_id": "s", "text": {"type": "mrkdwn", "text": "*NullPointerException* in `charge()`"},
     "fields": [{"type": "mrkdwn", "text": "*Env:* prod"}]},
    {"type": "divider", "block_id": "d"},
    {"type": "context", "block_id": "c", "elements": [{"type": "mrkdwn", "text": "Sentry · 42 events"}]},
]


def test_a_forwarded_message_is_read_with_the_comment(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["It asks about pricing."]))
    ts = slack.user_says("D1", "U1", "Help with this?",
                         attachments=[forward("<@U3> could you advise on <https://acme.example/p|the new pricing>?")])
    final_state(slack, "D1", ts)
    assert texts(bedrock.calls[0]) == [("user", "Help with this?\n\n"
                                                "[forwarded message from Linda C in #soln-quickbooks]\n"
                                                "<@U3> could you advise on the new pricing (https://acme.example/p)?")]


def test_a_long_forwarded_message_is_cut_with_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["That is long."]))
    body = ("word " * 8000).strip()  # 39,999 characters
    ts = slack.user_says("D1", "U1", "tl;dr?", attachments=[forward(body)])
    final_state(slack, "D1", ts)
    sent = texts(bedrock.calls[0])[0][1]
    header = "[forwarded message from Linda C in #soln-quickbooks]\n"
    kept = body[:ATTACHMENTS_CHAR_LIMIT - len(header)].rstrip()
    assert sent == f"tl;dr?\n\n{header}{kept}\n[attachment cut: {len(body) - len(kept)} characters left out]"


def test_another_bots_alert_is_read_in_the_thread(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    alert = slack.post_as_other_bot("C1", "Triggered: CPU load is high on web-1", attachments=[ALERT])
    bedrock.enqueue(Stream(["The CPU of web-1 is at 95%."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> what does this alert say?", thread_ts=alert)
    final_state(slack, "C1", alert, reply_to=ts)
    assert texts(bedrock.calls[0]) == [("user", "<@UOTHERBOT>: Triggered: CPU load is high on web-1\n\n"
                                                "[attachment]\n"
                                                "Monitor *cpu-load* triggered\n"
                                                "[Triggered] CPU load is high on web-1 "
                                                "(https://app.datadoghq.com/monitors/123)\n"
                                                "CPU load is *95%* on `web-1` for 5 minutes.\n"
                                                "Host: web-1\nPriority: P1\nDatadog Monitors\n\n"
                                                "<@U1>: what does this alert say?")]


def test_blocks_that_say_more_than_the_text_are_read(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    error = slack.post_as_other_bot("C1", "ERROR", blocks=ERROR_BLOCKS)  # in a thread: read from Slack
    bedrock.enqueue(Stream(["A null pointer in charge()."]))
    ts = slack.user_says("C1", "U1", "<@UBOT> what broke?", thread_ts=error)
    final_state(slack, "C1", error, reply_to=ts)
    assert texts(bedrock.calls[0]) == [("user", "<@UOTHERBOT>: ERROR in payment-service\n"
                                                "*NullPointerException* in `charge()`\n*Env:* prod\n"
                                                "Sentry · 42 events\n\n<@U1>: what broke?")]
    bedrock.enqueue(Stream(["Same error."]))  # a top-level message: read from the event itself
    dm = slack.user_says("D1", "U1", "ERROR", blocks=ERROR_BLOCKS)
    final_state(slack, "D1", dm)
    assert texts(bedrock.calls[1]) == [("user", "ERROR in payment-service\n*NullPointerException* in `charge()`\n"
                                                "*Env:* prod\nSentry · 42 events")]


def test_the_bots_older_reply_without_marks_is_read_like_peoples(bot: Any, slack: FakeSlack,
                                                                   bedrock: FakeBedrock) -> None:
    root = slack.add_history("C1", "U1", "<@UBOT> how do I rotate keys?")
    slack.add_history("C1", "UBOT", "See <https://docs.aws.amazon.com/iam/|the IAM guide> &amp; ask <@U2>.",
                      thread_ts=root, bot=True)  # written by an older version, without metadata
    bedrock.enqueue(Stream(["Every 90 days."]))
    ts = slack.user_says("C1", "U1", "how often?", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts)
    assert texts(bedrock.calls[0]) == [
        ("user", "how do I rotate keys?"),
        ("assistant", "See the IAM guide (https://docs.aws.amazon.com/iam/) & ask <@U2>."),
        ("user", "how often?")]
