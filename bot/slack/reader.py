"""Reading from Slack: a thread's messages (all pages, with the bot's metadata marks), a thread's root, a user's
workspace.

Reads run on the bot's own threads (answer workers and Slack I/O threads, never Bolt's listeners). They are
retried here: a 429 pauses that method for every caller until its Retry-After has passed, a transient failure
(`bot.slack.errors`) backs off and retries a few times; anything else is raised as it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.errors import Kind, classify

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000  # conversations.replies' maximum
MAX_ATTEMPTS = 6


class ReadError(ConnectionError):
    """A read still failed after its retries (Slack unreachable or failing)."""


class SlackReader:
    """Slack reads with shared rate-limit pauses. Thread-safe."""

    def __init__(self, client: WebClient, *,
                 backoff: Callable[[int], float] = lambda n: min(10.0, 0.5 * 2 ** (n - 1))) -> None:
        self._client = client
        self._clock = time.monotonic
        self._sleep = time.sleep
        self._backoff = backoff
        self._lock = threading.Lock()
        self._paused_until: dict[str, float] = {}
        self._teams: dict[str, str | None] = {}

    def _call(self, method: str, **params: Any) -> Any:
        attempt = 0
        while True:
            with self._lock:
                wait = self._paused_until.get(method, 0.0) - self._clock()
            if wait > 0:
                self._sleep(wait)
                continue
            try:
                return self._client.api_call(method, http_verb="GET", params=params)
            except Exception as exc:
                fault = classify(exc)
                if fault.kind is Kind.RATE_LIMITED:
                    with self._lock:
                        self._paused_until[method] = max(self._paused_until.get(method, 0.0),
                                                         self._clock() + fault.retry_after)
                    logger.warning("Slack rate-limited %s; pausing it for %.0fs", method, fault.retry_after)
                    continue
                if fault.kind is not Kind.TRANSIENT:
                    raise
                reason = fault.code
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                raise ReadError(f"{method} failed {attempt} times ({reason})")
            self._sleep(self._backoff(attempt))

    def _replies(self, channel: str, thread_ts: str, **extra: Any) -> tuple[list[dict[str, Any]], int]:
        messages: list[dict[str, Any]] = []
        cursor: str | None = None
        pages = 0
        while True:
            params: dict[str, Any] = {"channel": channel, "ts": thread_ts, "limit": PAGE_SIZE,
                                      "include_all_metadata": True, **extra}
            if cursor:
                params["cursor"] = cursor
            response = self._call("conversations.replies", **params)
            pages += 1
            messages.extend(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return messages, pages

    def fetch_thread(self, channel: str, thread_ts: str) -> tuple[list[dict[str, Any]], int]:
        """All messages of the thread, oldest first, following the cursor to the end; also the pages read."""
        return self._replies(channel, thread_ts)

    def fetch_since(self, channel: str, thread_ts: str, oldest: str) -> list[dict[str, Any]]:
        """The thread's messages from `oldest` on (inclusive), with metadata: where the bot looks for a message
        of its own whose post lost its response."""
        messages, _pages = self._replies(channel, thread_ts, oldest=oldest, inclusive=True)
        return messages

    def fetch_root(self, channel: str, thread_ts: str) -> dict[str, Any] | None:
        """The thread's root message (one small call), or None if Slack has no such thread."""
        try:
            response = self._call("conversations.replies", channel=channel, ts=thread_ts, limit=1)
        except SlackApiError as exc:
            if classify(exc).kind in (Kind.DELETED, Kind.REFUSED):
                return None
            raise
        messages = response.get("messages") or []
        return messages[0] if messages else None

    def user_team(self, user: str) -> str | None:
        """The workspace a user belongs to (users.info, cached): tells Slack Connect guests apart."""
        if user not in self._teams:
            try:
                info = self._call("users.info", user=user).get("user") or {}
                team = info.get("team_id")
                self._teams[user] = str(team) if team else None
            except (SlackApiError, ReadError):
                logger.warning("users.info failed for a user in a shared channel; treating them as external")
                return "unknown"
        return self._teams[user]
