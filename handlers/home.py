"""The app's Messages tab: `app_home_opened` with tab `messages` offers the suggested prompts (bot.surface).

The listener only reads the event; the prompts are set on the writer's threads, so the event is acknowledged at
once. Other tabs (`home`, `about`) are ignored.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from bot.surface import Clicker
from handlers.routing import installing_team

logger = logging.getLogger(__name__)


def make_home_handler(offer: Callable[[Clicker], bool], *, team_id: str) -> Callable[..., None]:
    """The listener for `app_home_opened` (ordinary parameters: Bolt injects by name)."""

    def handle_home(body: dict[str, Any], event: dict[str, Any]) -> None:
        user, channel = event.get("user"), event.get("channel")
        if event.get("tab") != "messages" or not isinstance(user, str) or not isinstance(channel, str):
            return
        team = installing_team(body, team_id)
        user_team = str(event.get("user_team") or team)
        offered = offer(Clicker(team_id=team, user=user, user_team=user_team, channel=channel))
        logger.debug("Messages tab opened by %s in %s: prompts %s", user, channel, "set" if offered else "not set")

    return handle_home
