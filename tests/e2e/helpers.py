"""Small helpers for end-to-end tests: waiting for an answer to be complete in the fake Slack."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes.slack import BOT_ID, FakeSlack


def bot_replies(slack: FakeSlack, channel: str, thread_ts: str) -> list[dict[str, Any]]:
    return [m for m in slack.thread(channel, thread_ts) if m.get("bot_id") == BOT_ID]


def marks(message: dict[str, Any]) -> dict[str, Any]:
    meta = message.get("metadata") or {}
    if isinstance(meta, str):
        meta = json.loads(meta)
    return dict(meta.get("event_payload") or {})


def final_state(slack: FakeSlack, channel: str, thread_ts: str, *, reply_to: str | None = None,
                timeout: float = 10.0) -> list[dict[str, Any]]:
    """Wait until the answer's last message is marked final and all its messages exist; return them.

    Sealed messages keep the state they were written with; only the last one says "final" and carries
    the number of parts. `reply_to` picks the answer to one message when a thread has several.
    """
    def done(s: FakeSlack) -> list[dict[str, Any]] | None:
        replies = [m for m in bot_replies(s, channel, thread_ts)
                   if reply_to is None or marks(m).get("reply_to") == reply_to]
        if reply_to is None and replies:
            last_answer = marks(replies[-1]).get("answer")
            replies = [m for m in replies if marks(m).get("answer") == last_answer]
        if not replies or marks(replies[-1]).get("state") != "final":
            return None
        return replies if len(replies) == marks(replies[-1]).get("parts") else None

    return slack.wait_for(done, timeout=timeout)


def call_md(call: Any) -> str:
    meta = call.params["metadata"]
    if isinstance(meta, str):
        meta = json.loads(meta)
    return str(meta["event_payload"].get("md", ""))
