"""``conversations.replies`` and ``conversations.info``: reading threads and conversations.

``conversations.replies`` always returns the thread's parent first, then the replies between ``oldest``
and ``latest``, at most ``limit`` per page — capped at ``replies_page_cap`` (1,000; 15 models a
non-Marketplace app after Slack's 2025 change) — with an opaque ``next_cursor`` for the next page.
Metadata is included only with ``include_all_metadata``. Private conversations the bot is not in do not
exist for it (``channel_not_found``).
"""

from __future__ import annotations

import base64
from decimal import Decimal
from typing import Any

from ..workspace import BOT_USER_ID, REPLIES_MAX_LIMIT, TEAM_ID, Json, Workspace, is_reply, opt_str, public
from .request import Method, err, truthy, ts_decimal


def _encode_cursor(ts: str) -> str:
    return base64.b64encode(f"next_ts:{ts.replace('.', '')}".encode()).decode()


def _decode_cursor(cursor: str) -> Decimal | None:
    try:
        raw = base64.b64decode(cursor.encode(), validate=True).decode()
    except (ValueError, UnicodeDecodeError):
        return None
    if not raw.startswith("next_ts:") or not raw[8:].isdigit() or len(raw) <= 14:
        return None
    digits = raw[8:]
    return Decimal(f"{digits[:-6]}.{digits[-6:]}")


class Conversations:
    """The conversations.* methods."""

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace
        self.clear_locked()

    def clear_locked(self) -> None:
        """Restore the default page cap."""
        self.replies_page_cap = REPLIES_MAX_LIMIT

    def methods(self) -> dict[str, Method]:
        """This family's part of the method table."""
        return {
            "conversations.replies": self.replies,
            "conversations.info": self.info,
        }

    def replies(self, params: dict[str, Any]) -> Json:
        """conversations.replies: a thread's parent and replies, filtered by oldest/latest, paged by cursor."""
        channel_id = self._workspace.visible_channel(params.get("channel"))
        if channel_id is None:
            return err("channel_not_found")
        messages = self._workspace.messages_by_channel[channel_id]
        ts = opt_str(params.get("ts")) or ""
        target = messages.get(ts)
        if target is None:
            return err("thread_not_found")
        root = target["thread_ts"] if is_reply(target) else ts
        items = [m for m in messages.values() if m["ts"] == root or m.get("thread_ts") == root]
        oldest = ts_decimal(params.get("oldest") or "0")
        latest = ts_decimal(params.get("latest")) if params.get("latest") else None
        inclusive = truthy(params.get("inclusive"))
        if oldest is None or (params.get("latest") and latest is None):
            return err("invalid_ts_oldest" if oldest is None else "invalid_ts_latest")

        def in_range(message: Json) -> bool:
            if message["ts"] == root:
                return True  # Slack always returns the parent
            value = Decimal(message["ts"])
            above = value > oldest or (inclusive and value == oldest)
            below = latest is None or value < latest or (inclusive and value == latest)
            return above and below

        items = [m for m in items if in_range(m)]
        try:
            limit = int(params.get("limit") or REPLIES_MAX_LIMIT)
        except (TypeError, ValueError):
            return err("invalid_limit")
        limit = min(max(limit, 1), self.replies_page_cap)
        start = 0
        cursor = opt_str(params.get("cursor"))
        if cursor:
            position = _decode_cursor(cursor)
            if position is None:
                return err("invalid_cursor")
            start = next((i for i, m in enumerate(items) if Decimal(m["ts"]) >= position), len(items))
        page = items[start : start + limit]
        has_more = start + limit < len(items)
        with_metadata = truthy(params.get("include_all_metadata"))
        return {
            "ok": True,
            "messages": [public(m, with_metadata=with_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {
                "next_cursor": _encode_cursor(items[start + limit]["ts"]) if has_more else ""
            },
        }

    def info(self, params: dict[str, Any]) -> Json:
        """conversations.info: a conversation as the bot sees it."""
        channel_id = self._workspace.visible_channel(params.get("channel"))
        if channel_id is None:
            return err("channel_not_found")
        channel = self._workspace.channels[channel_id]
        info: Json = {k: v for k, v in channel.items() if k != "members"}
        info.update(
            is_member=BOT_USER_ID in channel["members"],
            context_team_id=TEAM_ID,
            is_shared=channel["is_ext_shared"],
            is_org_shared=False,
        )
        if channel["is_im"]:
            info.pop("name", None)
            others = sorted(channel["members"] - {BOT_USER_ID})
            info["user"] = others[0] if others else BOT_USER_ID
        if truthy(params.get("include_num_members")) and not channel["is_im"]:
            info["num_members"] = len(channel["members"])
        return {"ok": True, "channel": info}
