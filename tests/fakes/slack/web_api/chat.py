"""``chat.postMessage``, ``chat.update`` and ``chat.delete``: the bot's own messages.

The bot posts as ``BOT_USER_ID`` with its ``bot_id``, ``app_id`` and ``bot_profile``. It can post only
where it is a member (``not_in_channel`` elsewhere, ``channel_not_found`` for private conversations it is
not in), never to archived conversations, and edit or delete only its own messages. Each change comes
back to the app as an event, like on Slack. Text longer than Slack's limits is truncated on post (with a
``message_truncated`` warning) and refused on update (``msg_too_long``).
"""

from __future__ import annotations

from typing import Any

from ..events import Events
from ..workspace import (
    APP_ID,
    BOT_ID,
    BOT_USER_ID,
    POST_TEXT_LIMIT,
    TEAM_ID,
    UPDATE_TEXT_LIMIT,
    Json,
    Workspace,
    bot_profile,
    opt_str,
    public,
)
from .blocks import check_blocks
from .request import Method, checked_metadata, err, parse_json_list, truthy


class Chat:
    """The chat.* methods."""

    def __init__(self, workspace: Workspace, events: Events) -> None:
        self._workspace = workspace
        self._events = events
        self.streaming: Any = lambda channel, ts: False  # (channel, ts) -> the message is a live stream

    def methods(self) -> dict[str, Method]:
        """This family's part of the method table."""
        return {
            "chat.postMessage": self.post_message,
            "chat.update": self.update,
            "chat.delete": self.delete,
        }

    def post_message(self, params: dict[str, Any]) -> Json:
        """chat.postMessage: store the bot's message, echo it as an event (text over 40,000 chars is cut)."""
        channel_id, refused = self._workspace.postable_channel(params.get("channel"))
        if channel_id is None:
            return err(refused or "channel_not_found")
        blocks, blocks_ok = parse_json_list(params.get("blocks"))
        attachments, attachments_ok = parse_json_list(params.get("attachments"))
        if not blocks_ok:
            return err("invalid_blocks_format")
        if not attachments_ok:
            return err("invalid_attachments")
        problem = check_blocks(blocks or [])
        if problem:
            return err(problem)
        text = opt_str(params.get("text"))
        if not text and not blocks and not attachments:
            return err("no_text")
        metadata, problem = checked_metadata(params.get("metadata"), self._workspace.metadata_limit)
        if problem:
            return err(problem)
        warning = None
        if text is not None and len(text) > POST_TEXT_LIMIT:
            text, warning = text[:POST_TEXT_LIMIT], "message_truncated"
        message: Json = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "text": text or "",
            "ts": self._workspace.next_ts(),
            "team": TEAM_ID,
            "bot_profile": bot_profile(),
        }
        if blocks is not None:
            message["blocks"] = blocks
        if attachments:
            message["attachments"] = attachments
        if metadata is not None:
            message["metadata"] = metadata
        thread_ts = opt_str(params.get("thread_ts")) or None
        if thread_ts and truthy(params.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._workspace.store_message_locked(channel_id, message, thread_ts)
        self._workspace.app_replied_locked(channel_id, thread_ts)
        self._events.message_posted_locked(channel_id, message)
        body: Json = {
            "ok": True,
            "channel": channel_id,
            "ts": message["ts"],
            "message": public(message),
        }
        if warning:
            body["warning"] = warning
            body["response_metadata"] = {"warnings": [warning]}
        return body

    def update(self, params: dict[str, Any]) -> Json:
        """chat.update: edit one of the bot's own messages (text up to 4,000 chars) and send message_changed."""
        found = self._workspace.bots_message(params.get("channel"), params.get("ts"), "cant_update_message")
        if isinstance(found, str):
            return err(found)
        channel_id, message = found
        ts = message["ts"]
        if self._workspace.channels[channel_id]["is_archived"]:
            return err("is_archived")
        if self.streaming(channel_id, ts):
            return err("streaming_state_conflict")
        text = opt_str(params.get("text"))
        blocks, blocks_ok = parse_json_list(params.get("blocks"))
        attachments, attachments_ok = parse_json_list(params.get("attachments"))
        if not blocks_ok:
            return err("invalid_blocks_format")
        if not attachments_ok:
            return err("invalid_attachments")
        if text is None and blocks is None and attachments is None:
            return err("no_text")
        problem = check_blocks(blocks or [])
        if problem:
            return err(problem)
        if text is not None and len(text) > UPDATE_TEXT_LIMIT:
            return err("msg_too_long")
        metadata, problem = checked_metadata(params.get("metadata"), self._workspace.metadata_limit)
        if problem:
            return err(problem)
        previous = public(message)
        if text is not None:
            message["text"] = text
        for key, value in (("blocks", blocks), ("attachments", attachments)):
            if value is not None:
                if value:
                    message[key] = value
                else:
                    message.pop(key, None)
        if metadata is not None:
            message["metadata"] = metadata
        edit_ts = self._workspace.next_ts()
        message["edited"] = {"user": BOT_USER_ID, "ts": edit_ts}
        self._events.message_changed_locked(channel_id, message, previous, edit_ts)
        return {
            "ok": True,
            "channel": channel_id,
            "ts": ts,
            "text": message["text"],
            "message": public(message),
        }

    def delete(self, params: dict[str, Any]) -> Json:
        """chat.delete: delete one of the bot's own messages and send message_deleted."""
        found = self._workspace.bots_message(params.get("channel"), params.get("ts"), "cant_delete_message")
        if isinstance(found, str):
            return err(found)
        channel_id, message = found
        ts = message["ts"]
        old = self._workspace.remove_message_locked(channel_id, ts)
        self._events.message_deleted_locked(channel_id, old)
        return {"ok": True, "channel": channel_id, "ts": ts}
