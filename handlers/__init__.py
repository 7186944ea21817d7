"""Slack event routing: the whole table on one screen.

Besides messages: `app_home_opened` (the Messages tab: suggested prompts, `handlers.home`), the feedback buttons'
action (`handlers.actions`), and a stream the person stopped (`message_stream_stopped`, if Slack sends it).

`app_mention` and `message` events go through one listener: `handlers.routing.route` decides (pure), the
service journals the job and hands it over. The app runs with `process_before_response`, so an event is
acknowledged only after the listener returned: a message is "accepted" once it is in the journal, and if the
journal cannot be written the listener raises, the event is not acknowledged and Slack delivers it again.
The listener does nothing slow (no Slack or model call), far below Slack's 3-second acknowledgement window.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import App, BoltRequest

from bot.conversation.request import Request
from bot.slack.feedback import ACTION_ID as FEEDBACK_ACTION
from bot.state.store import StoreError
from handlers.routing import Deleted, Ignore, installing_team, route

logger = logging.getLogger(__name__)


def make_event_handler(accept: Callable[[Request, str | None], str], *, team_id: str, bot_user_id: str,
                       bot_id: str, deleted: Callable[[Deleted], None] = lambda d: None) -> Callable[..., None]:
    """The listener for `app_mention` and `message` events (ordinary parameters: Bolt injects by name)."""

    def handle_event(body: dict[str, Any], event: dict[str, Any], request: BoltRequest) -> None:
        # our workspace, from this envelope's authorizations: keys access, deduplication and all state
        decision = route(event, team_id=installing_team(body, team_id), bot_user_id=bot_user_id,
                         bot_id=bot_id, ext_shared=bool(body.get("is_ext_shared_channel")))
        event_id = body.get("event_id")
        retry = next(iter(request.headers.get("x-slack-retry-num") or ()), None)
        if isinstance(decision, Ignore):
            logger.debug("ignored event %s: %s", event_id, decision.reason)
            return
        if isinstance(decision, Deleted):
            deleted(decision)
            return
        try:
            outcome = accept(decision, event_id if isinstance(event_id, str) else None)
        except StoreError as error:  # not acknowledged: Slack delivers the event again
            logger.error("event %s not acknowledged: the state store is unreachable (%s); Slack will deliver "
                         "it again", event_id, error)
            raise
        logger.info("event %s (%s%s) in %s: %s", event_id, event.get("type"),
                    f", retry {retry}" if retry not in (None, "0") else "", decision.channel, outcome)

    return handle_event


def quiet_errors(error: Exception) -> None:
    """Bolt's error handler. The event is left unacknowledged (HTTP 500 in Bolt's terms), so Slack delivers it
    again. A store that is away was logged in one line already; anything else is a bug, logged in full."""
    if isinstance(error, StoreError):
        logger.debug("listener failed", exc_info=error)
    else:
        logger.error("the event listener failed; the event is not acknowledged", exc_info=error)


def make_stop_handler(stopped: Callable[[str, str], None]) -> Callable[..., None]:
    """The listener for a stream the person stopped: the answer writing it stops at once (its model too)."""

    def handle_stop(event: dict[str, Any]) -> None:
        channel, ts = event.get("channel"), event.get("ts") or event.get("message_ts")
        if isinstance(channel, str) and isinstance(ts, str):
            stopped(channel, ts)

    return handle_stop


def register_handlers(app: App, handle_event: Callable[..., None], *,
                      home: Callable[..., None] | None = None, feedback: Callable[..., None] | None = None,
                      stop: Callable[..., None] | None = None) -> None:
    """Routing table. Bolt runs the first matching listener only; both message event types share one path."""
    app.event("app_mention")(handle_event)
    app.event("message")(handle_event)
    if home is not None:
        app.event("app_home_opened")(home)
    if stop is not None:
        app.event("message_stream_stopped")(stop)
    if feedback is not None:
        app.action(FEEDBACK_ACTION)(feedback)
    app.error(quiet_errors)
