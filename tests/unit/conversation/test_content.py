"""What a message says for the model (bot.conversation.content), table-driven over Slack's own shapes:
forwarded messages, link previews, other bots' alerts, Block Kit and rich text, and the size cap."""

from __future__ import annotations

from typing import Any

import pytest

from bot.conversation.content import message_text, render_attachments, render_blocks

BOT = "UBOT"


def rich(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text", "block_id": "Xy1z", "elements": list(elements)}


def section(*elements: dict[str, Any]) -> dict[str, Any]:
    return {"type": "rich_text_section", "elements": list(elements)}


def text(value: str, **style: bool) -> dict[str, Any]:
    return {"type": "text", "text": value, **({"style": style} if style else {})}


def items(style: str, *entries: str, indent: int = 0, **extra: Any) -> dict[str, Any]:
    return {"type": "rich_text_list", "style": style, "indent": indent, "border": 0, **extra,
            "elements": [section(text(e)) for e in entries]}


# A DM with a short comment and a forwarded message (Slack's shape of a shared message: is_share and
# is_msg_unfurl, the original's text, fallback, author and channel, and its blocks in message_blocks).
FORWARDED = {
    "type": "message", "user": "U1", "ts": "1776700000.000100", "client_msg_id": "9f1c",
    "text": "Help with this?",
    "blocks": [rich(section(text("Help with this?")))],
    "attachments": [{
        "ts": "1776404384.245429", "channel_id": "C08M9HWQWV8", "channel_team": "T03E94MJU",
        "is_msg_unfurl": True, "is_share": True, "id": 1,
        "original_url": "https://acme.slack.com/archives/C08M9HWQWV8/p1776404384245429",
        "fallback": "[April 17th, 2026 1:39 PM] linda: <@U011U1KUVLK> for the QBO, could you advise?",
        "text": "<@U011U1KUVLK> for the QBO, could you advise if we propose the new pricing for "
                "<https://acme.example/agf|AGF US> or need another discussion?",
        "author_id": "U0366MHRX39", "author_name": "Linda C", "author_subname": "Linda C",
        "author_link": "https://acme.slack.com/team/U0366MHRX39",
        "author_icon": "https://avatars.slack-edge.com/2023-01-01/1_48.png",
        "channel_name": "soln-quickbooks", "mrkdwn_in": ["text"], "footer": "Posted in #soln-quickbooks",
        "message_blocks": [{"team": "T03E94MJU", "channel": "C08M9HWQWV8", "ts": "1776404384.245429",
                            "message": {"blocks": [rich(section(
                                {"type": "user", "user_id": "U011U1KUVLK"},
                                text(" for the QBO, could you advise if we propose the new pricing for "),
                                {"type": "link", "url": "https://acme.example/agf", "text": "AGF US"},
                                text(" or need another discussion?")))]}}],
    }],
}
# A link unfurled by Slack under a message that already has text.
LINK_PREVIEW = {
    "type": "message", "user": "U1", "ts": "1700000001.000100",
    "text": "is this merged? <https://github.com/slackapi/bolt-python/pull/871>",
    "attachments": [{
        "from_url": "https://github.com/slackapi/bolt-python/pull/871", "id": 1,
        "original_url": "https://github.com/slackapi/bolt-python/pull/871",
        "service_icon": "https://github.githubassets.com/favicons/favicon.svg", "service_name": "GitHub",
        "title": "Fix #870 Slack Connect team ids by seratch · Pull Request #871 · slackapi/bolt-python",
        "title_link": "https://github.com/slackapi/bolt-python/pull/871",
        "text": "This pull request resolves #870 by using authorizations[0].team_id.",
        "fallback": "GitHub: Fix #870 Slack Connect team ids by seratch · Pull Request #871",
        "thumb_url": "https://opengraph.githubassets.com/1/slackapi/bolt-python/pull/871",
        "thumb_width": 1200, "thumb_height": 600,
    }],
}
# Another app's alert: legacy attachment fields beside a short text.
ALERT = {
    "type": "message", "subtype": "bot_message", "bot_id": "B0ALERTS", "username": "Datadog",
    "ts": "1700000002.000100", "text": "Triggered: CPU load is high on web-1",
    "attachments": [{
        "id": 1, "color": "E01E5A", "pretext": "Monitor *cpu-load* triggered",
        "title": "[Triggered] CPU load is high on web-1", "title_link": "https://app.datadoghq.com/monitors/123",
        "text": "CPU load is *95%* on `web-1` for 5 minutes. &lt;ops&gt; notified.",
        "fields": [{"title": "Host", "value": "web-1", "short": True},
                   {"title": "Priority", "value": "P1", "short": True}],
        "footer": "Datadog Monitors", "ts": 1700000000, "mrkdwn_in": ["text", "pretext"],
        "fallback": "Triggered: CPU load is high on web-1",
    }],
}
# An app's message whose text is a short fallback and whose blocks hold the content.
BLOCK_KIT = {
    "type": "message", "subtype": "bot_message", "bot_id": "B0SENTRY", "ts": "1700000003.000100", "text": "ERROR",
    "blocks": [
        {"type": "header", "block_id": "h", "text": {"type": "plain_text", "text": "ERROR in payment-service",
                                                     "emoji": True}},
        {"type": "section", "block_id": "s1", "text": {
            "type": "mrkdwn",
            "text": "*NullPointerException* in `ChargeHandler.handle`\n<https://logs.example.com/q/1|Open logs>"}},
        {"type": "section", "block_id": "s2", "fields": [{"type": "mrkdwn", "text": "*Env:*\nprod"},
                                                          {"type": "plain_text", "text": "Count: 42"}]},
        {"type": "divider", "block_id": "d"},
        {"type": "context", "block_id": "c", "elements": [
            {"type": "image", "image_url": "https://sentry.example/logo.png", "alt_text": "Sentry"},
            {"type": "mrkdwn", "text": "Sentry · <!date^1700000000^{date_short}|Nov 14, 2023>"}]},
        {"type": "actions", "block_id": "a", "elements": [
            {"type": "button", "action_id": "resolve", "text": {"type": "plain_text", "text": "Resolve"}}]},
    ],
}
# A person's message as Slack's composer sends it: the same content in text (mrkdwn) and in rich text.
COMPOSED = {
    "type": "message", "user": "U1", "ts": "1700000004.000100", "client_msg_id": "c0ffee",
    "text": "<@UBOT> steps for <#C1|general>:\n• install\n• run `make`\n1. *first*\n2. second\n"
            "&gt; keep it quiet <!here>\n```pip install -r requirements.txt```\nsee <https://x.io/d|docs> :tada:",
    "blocks": [rich(
        section({"type": "user", "user_id": "UBOT"}, text(" steps for "), {"type": "channel", "channel_id": "C1"},
                text(":\n")),
        items("bullet", "install", "run make"),
        {"type": "rich_text_list", "style": "ordered", "indent": 0, "elements": [
            section(text("first", bold=True)), section(text("second"))]},
        {"type": "rich_text_quote", "elements": [text("keep it quiet "), {"type": "broadcast", "range": "here"}]},
        {"type": "rich_text_preformatted", "elements": [text("pip install -r requirements.txt")], "border": 0},
        section(text("see "), {"type": "link", "url": "https://x.io/d", "text": "docs"}, text(" "),
                {"type": "emoji", "name": "tada", "unicode": "1f389"}),
    )],
}
# Rich text that says more than its text: nested and ordered lists, a quote, code, links, mentions.
RICH_ONLY = {
    "type": "message", "subtype": "bot_message", "bot_id": "B0RELEASE", "ts": "1700000005.000100",
    "text": "Release v2.4 is out",
    "blocks": [rich(
        section(text("Release "), text("v2.4", bold=True), text(" is out, "),
                {"type": "usergroup", "usergroup_id": "S0OPS"}, text(" please check:\n")),
        items("ordered", "migrate the database"),
        items("bullet", "run ", indent=1),
        items("bullet", "check the logs", indent=2),
        items("ordered", "restart the workers", offset=1),
        {"type": "rich_text_quote", "elements": [text("Breaking: "), text("config moved", italic=True),
                                                 text("\nsee the notes")]},
        {"type": "rich_text_preformatted", "elements": [text("bot migrate \\\n  --all")]},
        section(text("Owner: "), {"type": "user", "user_id": "U2"}, text(" in "),
                {"type": "channel", "channel_id": "C42"}, text(", "), {"type": "broadcast", "range": "channel"},
                text(" "), {"type": "link", "url": "https://rel.example/2.4"}, text(" "),
                text("old way", strike=True), text(" "), text("make up", code=True), text(" "),
                {"type": "emoji", "name": "rocket"}, text(" by "),
                {"type": "date", "timestamp": 1700000000, "format": "{date_short}", "fallback": "Nov 14"}),
    )],
}

CASES: list[tuple[str, dict[str, Any], str]] = [
    ("forwarded-message-beside-a-comment", FORWARDED,
     "Help with this?\n\n"
     "[forwarded message from Linda C in #soln-quickbooks]\n"
     "<@U011U1KUVLK> for the QBO, could you advise if we propose the new pricing for AGF US "
     "(https://acme.example/agf) or need another discussion?"),
    ("link-preview-beside-text", LINK_PREVIEW,
     "is this merged? https://github.com/slackapi/bolt-python/pull/871\n\n"
     "[link preview: GitHub]\n"
     "Fix #870 Slack Connect team ids by seratch · Pull Request #871 · slackapi/bolt-python "
     "(https://github.com/slackapi/bolt-python/pull/871)\n"
     "This pull request resolves #870 by using authorizations[0].team_id."),
    ("another-bots-alert-beside-text", ALERT,
     "Triggered: CPU load is high on web-1\n\n"
     "[attachment]\n"
     "Monitor *cpu-load* triggered\n"
     "[Triggered] CPU load is high on web-1 (https://app.datadoghq.com/monitors/123)\n"
     "CPU load is *95%* on `web-1` for 5 minutes. <ops> notified.\n"
     "Host: web-1\n"
     "Priority: P1\n"
     "Datadog Monitors"),
    ("blocks-say-more-than-the-fallback-text", BLOCK_KIT,
     "ERROR in payment-service\n"
     "*NullPointerException* in `ChargeHandler.handle`\n"
     "Open logs (https://logs.example.com/q/1)\n"
     "*Env:*\nprod\n"
     "Count: 42\n"
     "Sentry · Nov 14, 2023"),
    ("composer-text-and-rich-text-say-the-same-once", COMPOSED,
     "steps for #general:\n• install\n• run `make`\n1. *first*\n2. second\n> keep it quiet @here\n"
     "```pip install -r requirements.txt```\nsee docs (https://x.io/d) :tada:"),
    ("rich-text-lists-quotes-code-links-mentions", RICH_ONLY,
     "Release **v2.4** is out, @S0OPS please check:\n"
     "1. migrate the database\n"
     "  - run\n"
     "    - check the logs\n"
     "2. restart the workers\n"
     "> Breaking: _config moved_\n"
     "> see the notes\n"
     "```\nbot migrate \\\n  --all\n```\n"
     "Owner: <@U2> in #C42, @channel https://rel.example/2.4 ~~old way~~ `make up` :rocket: by Nov 14"),
    ("text-and-blocks-each-say-something", {
        "type": "message", "user": "U1", "ts": "1.1", "text": "Deploy failed (see thread)",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "Step *migrate* exited with 2"}}]},
     "Deploy failed (see thread)\n\nStep *migrate* exited with 2"),
    ("attachment-only-with-a-fallback", {
        "type": "message", "user": "U1", "ts": "1.1", "text": "", "attachments": [{"fallback": "Alert: CPU high"}]},
     "[attachment]\nAlert: CPU high"),
    ("a-linked-message-unfurl-is-not-a-forward", {
        "type": "message", "user": "U1", "ts": "1.1",
        "text": "<https://acme.slack.com/archives/C1/p1700000000000100>",
        "attachments": [{"is_msg_unfurl": True, "author_id": "U2", "text": "the plan is final",
                         "ts": "1700000000.000100", "id": 1,
                         "from_url": "https://acme.slack.com/archives/C1/p1700000000000100"}]},
     "https://acme.slack.com/archives/C1/p1700000000000100\n\n[linked message from <@U2>]\nthe plan is final"),
    ("a-forward-with-only-its-fallback-and-a-file", {
        "type": "message", "user": "U1", "ts": "1.1", "text": "",
        "attachments": [{"is_share": True, "is_msg_unfurl": True, "author_name": "Bob",
                         "fallback": "[May 2nd] bob: see attached", "text": "",
                         "files": [{"id": "F1", "name": "plan.pdf", "mimetype": "application/pdf"}]}]},
     "[forwarded message from Bob]\n[May 2nd] bob: see attached\n[attached file: plan.pdf (application/pdf)]"),
    ("malformed-parts-are-skipped", {
        "type": "message", "user": "U1", "ts": "1.1", "text": "hi", "blocks": "not blocks",
        "attachments": [7, {"fields": [None, {"title": "", "value": ""}]}]},
     "hi"),
]


@pytest.mark.parametrize(("message", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_message_text(message: dict[str, Any], expected: str) -> None:
    assert message_text(message, bot_user_id=BOT) == expected


def test_long_attachments_are_cut_with_a_note() -> None:
    attachments = [{"text": "x" * 20_000}]
    assert render_attachments(attachments, bot_user_id=BOT) == (
        "[attachment]\n" + "x" * 15_987 + "\n[attachment cut: 4013 characters left out]")
    short = [{"text": "y" * 100}, {"is_share": True, "author_name": "A", "text": "z" * 100}]
    assert render_attachments(short, bot_user_id=BOT, limit=150) == (
        "[attachment]\n" + "y" * 100 + "\n\n[forwarded message from A]\n" + "z" * 8
        + "\n[attachment cut: 92 characters left out]")


def test_blocks_without_words_say_nothing() -> None:
    assert render_blocks([{"type": "divider"}, {"type": "image", "image_url": "https://x/y.png", "alt_text": "y"},
                          {"type": "rich_text", "elements": [section({"type": "user", "user_id": BOT})]}],
                         bot_user_id=BOT) == ""
