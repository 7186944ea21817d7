"""Reading from Slack: a thread's messages (all pages, with the bot's metadata marks) and a thread's root."""

from __future__ import annotations

from typing import Any

from slack_sdk import WebClient

PAGE_SIZE = 1000  # conversations.replies' maximum


def fetch_thread(client: WebClient, channel: str, thread_ts: str) -> tuple[list[dict[str, Any]], int]:
    """All messages of the thread, oldest first, following the cursor to the end; also the pages read."""
    messages: list[dict[str, Any]] = []
    cursor: str | None = None
    pages = 0
    while True:
        response = client.conversations_replies(channel=channel, ts=thread_ts, limit=PAGE_SIZE,
                                                include_all_metadata=True, cursor=cursor)
        pages += 1
        messages.extend(response.get("messages") or [])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return messages, pages


def fetch_root(client: WebClient, channel: str, thread_ts: str) -> dict[str, Any] | None:
    """The thread's root message (one small call), or None if Slack has no such thread."""
    response = client.conversations_replies(channel=channel, ts=thread_ts, limit=1)
    messages = response.get("messages") or []
    return messages[0] if messages else None
