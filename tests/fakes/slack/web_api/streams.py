"""``chat.startStream``, ``chat.appendStream`` and ``chat.stopStream``: messages Slack streams, as Slack does it.

A stream is a message of the bot's that grows: ``startStream`` creates it in a thread (``thread_ts`` is required,
as slack_sdk requires it, and so are ``recipient_user_id`` and ``recipient_team_id`` — Slack's docs say "when
streaming to channels", third parties saw both required in DMs too: the fake requires both everywhere), each
``appendStream`` adds ``markdown_text`` (at most 12,000 characters a call; ``markdown_text`` is required), and
``stopStream`` adds its last text, the ``metadata`` and ``blocks`` (rendered under the text) and ends it. The
message's ``text`` is the Markdown streamed so far (Slack renders it; the fake stores it as it came).

What breaks streams in practice is modelled too:

* a stream expires ``stream_ttl`` seconds after it started, whatever was appended (Slack: about five minutes);
  then append and stop answer ``message_not_in_streaming_state``, and the message keeps what it showed;
* a person can stop a stream (``FakeSlack.user_stops_stream``): append answers ``stopped_by_user`` and stop
  ``message_not_in_streaming_state``; with ``stream_stop_events`` the app also gets an event (its name and shape
  are not documented as subscribable: ``message_stream_stopped`` here);
* ``chat.update`` of a message that still streams answers ``streaming_state_conflict`` (``chat.py`` asks
  ``streaming``).

Every stream's life is kept in ``streams`` for tests: its calls and what it showed when.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from ..events import Events
from ..workspace import APP_ID, BOT_ID, BOT_USER_ID, TEAM_ID, Json, Workspace, bot_profile, opt_str, public
from .blocks import check_blocks
from .request import Method, checked_metadata, err, parse_json_list

MARKDOWN_TEXT_LIMIT = 12_000


@dataclass
class Stream:
    """One streamed message's life."""

    channel: str
    ts: str
    started: float  # time.monotonic()
    recipient_user: str
    recipient_team: str
    state: str = "streaming"  # streaming | stopped | expired | user_stopped
    calls: list[tuple[str, float, int]] = field(default_factory=list)  # (method, when, characters shown after)


class Streams:
    """The chat.*Stream methods."""

    def __init__(self, workspace: Workspace, events: Events) -> None:
        self._workspace = workspace
        self._events = events
        self.clear_locked()

    def clear_locked(self) -> None:
        self.streams: dict[tuple[str, str], Stream] = {}
        self.stream_ttl = 300.0
        self.stream_stop_events = False

    def methods(self) -> dict[str, Method]:
        return {
            "chat.startStream": self.start,
            "chat.appendStream": self.append,
            "chat.stopStream": self.stop,
        }

    def streaming(self, channel: str, ts: str) -> bool:
        """True while the message is a live stream (chat.update answers streaming_state_conflict)."""
        stream = self.streams.get((channel, ts))
        return stream is not None and self._state(stream) == "streaming"

    def _state(self, stream: Stream) -> str:
        if stream.state == "streaming" and time.monotonic() - stream.started > self.stream_ttl:
            stream.state = "expired"
        return stream.state

    def start(self, params: dict[str, Any]) -> Json:
        channel_id, refused = self._workspace.postable_channel(params.get("channel"))
        if channel_id is None:
            return err(refused or "channel_not_found")
        thread_ts = opt_str(params.get("thread_ts"))
        if not thread_ts:
            return err("invalid_arguments")
        user = opt_str(params.get("recipient_user_id"))
        team = opt_str(params.get("recipient_team_id"))
        if not user:
            return err("missing_recipient_user_id")
        if not team:
            return err("missing_recipient_team_id")
        text = opt_str(params.get("markdown_text")) or ""
        if len(text) > MARKDOWN_TEXT_LIMIT:
            return err("msg_too_long")
        message: Json = {"type": "message", "user": BOT_USER_ID, "bot_id": BOT_ID, "app_id": APP_ID, "text": text,
                         "ts": self._workspace.next_ts(), "team": TEAM_ID, "bot_profile": bot_profile()}
        self._workspace.store_message_locked(channel_id, message, thread_ts)
        self._workspace.app_replied_locked(channel_id, thread_ts)
        stream = Stream(channel_id, message["ts"], time.monotonic(), user, team)
        stream.calls.append(("chat.startStream", time.monotonic(), len(text)))
        self.streams[(channel_id, message["ts"])] = stream
        self._events.message_posted_locked(channel_id, message)
        return {"ok": True, "channel": channel_id, "ts": message["ts"]}

    def _live(self, params: dict[str, Any], method: str) -> tuple[Stream, Json] | Json:
        channel_id = self._workspace.resolve_channel(params.get("channel"))
        if channel_id is None:
            return err("channel_not_found")
        message = self._workspace.live_message(channel_id, params.get("ts"))
        if message is None:
            return err("message_not_found")
        ts = message["ts"]
        stream = self.streams.get((channel_id, ts))
        if stream is None:
            return err("message_not_in_streaming_state")
        state = self._state(stream)
        if state == "user_stopped" and method == "chat.appendStream":
            return err("stopped_by_user")
        if state != "streaming":
            return err("message_not_in_streaming_state")
        return stream, message

    def append(self, params: dict[str, Any]) -> Json:
        live = self._live(params, "chat.appendStream")
        if isinstance(live, dict):
            return live
        stream, message = live
        text = opt_str(params.get("markdown_text"))
        if not text:
            return err("invalid_arguments")
        if len(text) > MARKDOWN_TEXT_LIMIT:
            return err("msg_too_long")
        message["text"] += text
        stream.calls.append(("chat.appendStream", time.monotonic(), len(message["text"])))
        return {"ok": True, "channel": stream.channel, "ts": stream.ts}

    def stop(self, params: dict[str, Any]) -> Json:
        live = self._live(params, "chat.stopStream")
        if isinstance(live, dict):
            return live
        stream, message = live
        text = opt_str(params.get("markdown_text")) or ""
        if len(text) > MARKDOWN_TEXT_LIMIT:
            return err("msg_too_long")
        blocks, blocks_ok = parse_json_list(params.get("blocks"))
        if not blocks_ok:
            return err("invalid_blocks_format")
        problem = check_blocks(blocks or [])
        if problem:
            return err(problem)
        metadata, problem = checked_metadata(params.get("metadata"), self._workspace.metadata_limit)
        if problem:
            return err(problem)
        previous = public(message)
        message["text"] += text
        if blocks:
            message["blocks"] = blocks
        if metadata is not None:
            message["metadata"] = metadata
        stream.state = "stopped"
        stream.calls.append(("chat.stopStream", time.monotonic(), len(message["text"])))
        edit_ts = self._workspace.next_ts()
        self._events.message_changed_locked(stream.channel, message, previous, edit_ts)
        return {"ok": True, "channel": stream.channel, "ts": stream.ts, "message": public(message)}

    def user_stops_locked(self, channel: str, ts: str) -> Stream:
        stream = self.streams[(channel, ts)]
        if self._state(stream) == "streaming":
            stream.state = "user_stopped"
        return stream
