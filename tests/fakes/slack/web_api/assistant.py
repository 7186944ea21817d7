"""The AI-app methods: a thread's status, its title, suggested prompts; and ``chat.postEphemeral``.

``assistant.threads.setStatus`` (scope ``chat:write``; Slack still accepts ``assistant:write`` "for the time
being") shows "<app> is thinking…" with up to 10 rotating ``loading_messages`` in a thread; the status goes away
when the app posts in that thread (or after two minutes: not modelled). ``assistant.threads.setTitle`` and
``assistant.threads.setSuggestedPrompts`` need ``assistant:write`` (``missing_scope`` otherwise: an app installed
from an older manifest); at most 4 prompts, each a ``title`` and a ``message``. ``chat.postEphemeral`` shows a
message to one member of a conversation, never stored in its history (``user_not_in_channel`` for others).
Everything is recorded for tests: ``statuses`` (every change, "" when cleared), ``titles``, ``prompts``,
``ephemerals``.
"""

from __future__ import annotations

import time
from typing import Any

from ..workspace import BOT_USER_ID, Json, Workspace, opt_str
from .request import Method, err, parse_json_list


class Assistant:
    """assistant.threads.* and chat.postEphemeral."""

    def __init__(self, workspace: Workspace, scopes: Any) -> None:
        self._workspace = workspace
        self._scopes = scopes  # () -> the bot token's scopes now
        self.clear_locked()

    def clear_locked(self) -> None:
        self.statuses: list[tuple[float, str, str, str, list[str]]] = []  # (when, channel, thread, status, loading)
        self.titles: list[tuple[str, str, str]] = []
        self.prompts: list[tuple[str, str | None, list[Json]]] = []
        self.ephemerals: list[Json] = []

    def methods(self) -> dict[str, Method]:
        return {
            "assistant.threads.setStatus": self.set_status,
            "assistant.threads.setTitle": self.set_title,
            "assistant.threads.setSuggestedPrompts": self.set_prompts,
            "chat.postEphemeral": self.post_ephemeral,
        }

    def _channel(self, params: dict[str, Any], key: str = "channel_id") -> str | Json:
        channel_id = self._workspace.resolve_channel(params.get(key))
        if channel_id is None:
            return err("channel_not_found")
        if BOT_USER_ID not in self._workspace.channels[channel_id]["members"]:
            return err("not_in_channel")
        return channel_id

    def status_of(self, channel: str, thread_ts: str) -> str:
        """The status the thread shows now ("" for none)."""
        for _when, ch, thread, status, _loading in reversed(self.statuses):
            if (ch, thread) == (channel, thread_ts):
                return status
        return ""

    def cleared_by_reply_locked(self, channel: str, thread_ts: str) -> None:
        if self.status_of(channel, thread_ts):
            self.statuses.append((time.monotonic(), channel, thread_ts, "", []))

    def set_status(self, params: dict[str, Any]) -> Json:
        channel = self._channel(params)
        if isinstance(channel, dict):
            return channel
        thread_ts = opt_str(params.get("thread_ts"))
        status = params.get("status")
        loading, loading_ok = parse_json_list(params.get("loading_messages"))
        if not thread_ts or not isinstance(status, str) or not loading_ok or len(loading or []) > 10:
            return err("invalid_arguments")
        self.statuses.append((time.monotonic(), channel, thread_ts, status, [str(m) for m in loading or []]))
        return {"ok": True}

    def set_title(self, params: dict[str, Any]) -> Json:
        if "assistant:write" not in self._scopes():
            return {**err("missing_scope"), "needed": "assistant:write"}
        channel = self._channel(params)
        if isinstance(channel, dict):
            return channel
        thread_ts, title = opt_str(params.get("thread_ts")), opt_str(params.get("title"))
        if not thread_ts or not title:
            return err("invalid_arguments")
        self.titles.append((channel, thread_ts, title))
        return {"ok": True}

    def set_prompts(self, params: dict[str, Any]) -> Json:
        if "assistant:write" not in self._scopes():
            return {**err("missing_scope"), "needed": "assistant:write"}
        channel = self._channel(params)
        if isinstance(channel, dict):
            return channel
        prompts, ok = parse_json_list(params.get("prompts"))
        if not ok or prompts is None or len(prompts) > 4 or not all(
                isinstance(p, dict) and isinstance(p.get("title"), str) and isinstance(p.get("message"), str)
                and p["title"] and p["message"] for p in prompts):
            return err("invalid_arguments")
        self.prompts.append((channel, opt_str(params.get("thread_ts")), prompts))
        return {"ok": True}

    def post_ephemeral(self, params: dict[str, Any]) -> Json:
        channel = self._channel(params, "channel")
        if isinstance(channel, dict):
            return channel
        user = opt_str(params.get("user")) or ""
        members = self._workspace.channels[channel]["members"]
        if user not in members:
            return err("user_not_in_channel")
        text = opt_str(params.get("text")) or ""
        if not text and not params.get("blocks"):
            return err("no_text")
        self.ephemerals.append({"channel": channel, "user": user, "text": text,
                                "thread_ts": opt_str(params.get("thread_ts")), "time": time.monotonic()})
        return {"ok": True, "message_ts": self._workspace.next_ts()}
