"""Reading from Slack: a thread's messages (all pages, or as many as a decision needs, with the bot's metadata
marks), a user's workspace.

Reads run on the bot's own threads (answer workers and Slack I/O threads, never Bolt's listeners). They are
retried here: a 429 pauses that method for every caller until its Retry-After has passed, a transient failure
(`bot.slack.errors`) backs off and retries a few times; anything else is raised as it is.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.slack.budget import Budget, LocalBudget
from bot.slack.errors import Kind, classify
from bot.slack.scheduler import SAFETY

logger = logging.getLogger(__name__)

PAGE_SIZE = 1000  # conversations.replies' maximum
MAX_ATTEMPTS = 6


class ReadError(ConnectionError):
    """A read still failed after its retries (Slack unreachable or failing)."""


class SlackReader:
    """Slack reads with shared rate-limit pauses. Thread-safe."""

    def __init__(self, client: WebClient, *, budget: Budget | None = None, reads_per_minute: float = 50.0,
                 read_burst: int = 20,
                 backoff: Callable[[int], float] = lambda n: min(10.0, 0.5 * 2 ** (n - 1))) -> None:
        """`budget` holds the workspace's read budget (Tier 3: `reads_per_minute`, `read_burst`), shared with
        the other processes when it is Redis's."""
        self._client = client
        self._budget: Budget = budget or LocalBudget()
        self._rate = reads_per_minute / 60.0 * SAFETY
        self._burst = float(read_burst)
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
            if wait <= 0:
                wait = self._budget.take(f"read:{method}", self._rate, self._burst)
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
                    self._budget.pause(f"read:{method}", fault.retry_after)
                    logger.warning("Slack rate-limited %s; pausing it for %.0fs", method, fault.retry_after)
                    continue
                if fault.kind is not Kind.TRANSIENT:
                    raise
                reason = fault.code
            attempt += 1
            if attempt >= MAX_ATTEMPTS:
                raise ReadError(f"{method} failed {attempt} times ({reason})")
            self._sleep(self._backoff(attempt))

    def _pages(self, channel: str, thread_ts: str, **extra: Any) -> Iterator[list[dict[str, Any]]]:
        """The thread's messages (with the bot's metadata marks), a page at a time, oldest first."""
        cursor: str | None = None
        while True:
            params: dict[str, Any] = {"channel": channel, "ts": thread_ts, "limit": PAGE_SIZE,
                                      "include_all_metadata": True, **extra}
            if cursor:
                params["cursor"] = cursor
            response = self._call("conversations.replies", **params)
            yield list(response.get("messages") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                return

    def fetch_thread(self, channel: str, thread_ts: str) -> tuple[list[dict[str, Any]], int]:
        """All messages of the thread, oldest first, following the cursor to the end; also the pages read."""
        messages: list[dict[str, Any]] = []
        pages = 0
        for page in self._pages(channel, thread_ts):
            pages += 1
            messages.extend(page)
        return messages, pages

    def fetch_thread_until(self, channel: str, thread_ts: str,
                           enough: Callable[[list[dict[str, Any]]], bool]) -> list[dict[str, Any]] | None:
        """The thread's first messages, oldest first: page after page until `enough(messages so far)` or the
        end (usually one call). None if Slack has no such thread or the bot cannot read it."""
        messages: list[dict[str, Any]] = []
        try:
            for page in self._pages(channel, thread_ts):
                messages.extend(page)
                if enough(messages):
                    break
        except SlackApiError as exc:
            if classify(exc).kind in (Kind.DELETED, Kind.REFUSED):
                return None
            raise
        return messages

    def fetch_since(self, channel: str, thread_ts: str, oldest: str) -> list[dict[str, Any]]:
        """The thread's messages from `oldest` on (inclusive), with metadata: where the bot looks for a message
        of its own whose post lost its response."""
        return [m for page in self._pages(channel, thread_ts, oldest=oldest, inclusive=True) for m in page]

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

    def file_info(self, file_id: str) -> dict[str, Any] | str:
        """files.info: a file's details (what a Slack Connect stub leaves out), or Slack's error code."""
        try:
            return dict(self._call("files.info", file=file_id).get("file") or {})
        except SlackApiError as exc:
            return classify(exc).code
        except ReadError:
            return "unreachable"
