"""Slack's message markup, read (pure): mentions, channels, user groups, links, dates, and its three escapes.

One definition of each pattern for everything that reads Slack text (routing, history). Writing mrkdwn is
`bot.render.mrkdwn`'s business.
"""

from __future__ import annotations

import re

USER_MENTION = re.compile(r"<@([UW][A-Z0-9]+)(?:\|[^>]*)?>")  # <@U…> or <@U…|name>
CHANNEL = re.compile(r"<#([CGD][A-Z0-9]+)(?:\|([^>]*))?>")
SUBTEAM = re.compile(r"<!subteam\^([A-Z0-9]+)(?:\|([^>]*))?>")
SPECIAL = re.compile(r"<!(here|channel|everyone)(?:\|[^>]*)?>")
DATE = re.compile(r"<!date\^[^|>]*\|([^>]*)>")
LINK = re.compile(r"<((?:https?|mailto|tel|ftp):[^|>]*)(?:\|([^>]*))?>")


def mentions(text: str, user_id: str) -> bool:
    """True if the Slack text mentions `user_id`."""
    return any(m == user_id for m in USER_MENTION.findall(text))


def mentions_others(text: str, user_id: str) -> bool:
    """True if the Slack text mentions anyone other than `user_id`."""
    return any(m != user_id for m in USER_MENTION.findall(text))


def unescape(text: str) -> str:
    """Slack's only escapes: `&lt;`, `&gt;`, `&amp;` (in that order, so `&amp;lt;` stays `&lt;`)."""
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")
