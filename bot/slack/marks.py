"""The marks the bot puts on its own messages (Slack message metadata), and reading them back (pure).

Every message of an answer carries `{"event_type": METADATA_TYPE, "event_payload": {...}}` with the answer
id, the ts of the message it answers (`reply_to`), its part number, its state (thinking, streaming,
final), on final messages the number of parts, and normally the model's Markdown of that part (`md`), so
that history can rebuild the answer exactly (`bot.conversation.history`). Messages Slack streamed (the native
route) also say `"route": "native"`; a stream carries its marks only from `chat.stopStream` on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METADATA_TYPE = "bedrock_bot_answer"
VERSION = 1


def answer_metadata(*, answer_id: str, reply_to: str, part: int, state: str, md: str | None = None,
                    parts: int | None = None, route: str | None = None) -> dict[str, Any]:
    """The `metadata` argument of a chat.postMessage / chat.update / chat.stopStream of one message of an answer."""
    payload: dict[str, Any] = {"v": VERSION, "answer": answer_id, "reply_to": reply_to, "part": part,
                               "state": state}
    if route is not None:
        payload["route"] = route
    if parts is not None:
        payload["parts"] = parts
    if md is not None:
        payload["md"] = md
    return {"event_type": METADATA_TYPE, "event_payload": payload}


def read_marks(message: Mapping[str, Any]) -> dict[str, Any] | None:
    """The mark payload of a message the bot wrote (as conversations.replies returns it), or None."""
    meta = message.get("metadata")
    if not isinstance(meta, Mapping) or meta.get("event_type") != METADATA_TYPE:
        return None
    payload = meta.get("event_payload")
    return dict(payload) if isinstance(payload, Mapping) and payload.get("answer") else None
