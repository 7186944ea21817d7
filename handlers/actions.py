"""Clicks on the bot's messages: the feedback buttons under an answer (bot.slack.feedback, bot.surface).

A click is acknowledged first (`ack()`), then read: which answer (the button's value), who (the payload's
`user`, with their workspace), where (the container's channel). Counting and thanking are quick (one store
counter; the ephemeral message goes out on the writer's threads), so nothing keeps Slack waiting.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.slack.feedback import Click, read_click
from bot.surface import Clicker

logger = logging.getLogger(__name__)


def make_feedback_handler(on_click: Callable[[Clicker, Click, str | None], str], *,
                          team_id: str) -> Callable[..., None]:
    """The listener for the feedback buttons' action (ordinary parameters: Bolt injects by name)."""

    def handle_feedback(ack: Callable[[], Any], body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        click = read_click(action)
        user = body.get("user") or {}
        container = body.get("container") or {}
        channel = container.get("channel_id") or (body.get("channel") or {}).get("id")
        if click is None or not isinstance(user.get("id"), str) or not isinstance(channel, str):
            logger.debug("ignored a click that is not feedback on an answer")
            return
        team = (body.get("team") or {}).get("id") or team_id
        clicker = Clicker(team_id=str(team), user=user["id"], user_team=str(user.get("team_id") or team),
                          channel=channel)
        on_click(clicker, click, container.get("thread_ts") or container.get("message_ts"))

    return handle_feedback
