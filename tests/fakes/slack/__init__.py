"""A protocol-faithful fake Slack workspace: Web API over HTTP and Socket Mode over WebSocket.

``FakeSlack`` runs two servers on 127.0.0.1 that share one in-memory workspace:

* a Web API server (``http://127.0.0.1:PORT/api/<method>``) that accepts query strings, form bodies,
  multipart bodies and JSON bodies, answers like Slack (HTTP 200 with ``ok: false`` for API errors,
  HTTP 429 with ``Retry-After`` when rate limited) and records every call;
* a Socket Mode server (``ws://127.0.0.1:PORT/link?ticket=...``, the URL ``apps.connections.open``
  hands out) that greets with ``hello``, delivers ``events_api`` envelopes, records acks and can
  disconnect, drop, or half-open connections on demand.

Messages the bot posts, edits or deletes through the Web API come back as events, like on Slack.

Typical use::

    fake = FakeSlack()
    fake.start()
    app = App(client=WebClient(token=BOT_TOKEN, base_url=fake.api_url))
    ...
    fake.user_says("C1", "U1", "<@UBOT> hello")
    fake.wait_for(lambda f: len(f.thread("C1", ts)) == 2)
    fake.stop()

The package is split by protocol, and ``FakeSlack`` wires the parts together and is what tests use:

* ``workspace.py`` — users, conversations, messages and threads (no protocol), ids and tokens, and the
  one lock every part shares;
* ``web_api/`` — the HTTP server (parsing, auth, call records) and a module per family of methods;
* ``socket_mode.py`` — the WebSocket server: connections, envelopes, delivery, acks, redelivery;
* ``events.py`` — which events a change of the workspace sends the app;
* ``faults.py`` — rate limits, Retry-After windows, and failures scripted with ``fail_next``.

Files people share: ``upload_file`` stores a file and returns its object for ``user_says(files=[...])``; the
web server serves it at ``url_private_download`` (Bearer token and ``files:read`` checked, Slack's sign-in page
otherwise) and ``files.info``; ``stall_download``, ``cut_download`` and ``redirect_download`` script faults.
"""

from __future__ import annotations

import contextlib
import copy
import inspect
import json
import threading
import time
from collections.abc import Callable, Iterable
from functools import reduce
from typing import Any, Generic, TypeVar

from .events import MENTION_ORDERS, Events, MentionOrder
from .faults import Faults, RateLimits
from .socket_mode import SocketModeServer
from .web_api import Call, WebApi
from .web_api.files import Download
from .workspace import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    OTHER_BOT_ID,
    OTHER_BOT_USER_ID,
    TEAM_ID,
    ChannelKind,
    Json,
    Workspace,
)

__all__ = [
    "APP_ID",
    "APP_TOKEN",
    "BOT_ID",
    "BOT_TOKEN",
    "BOT_USER_ID",
    "OTHER_BOT_ID",
    "OTHER_BOT_USER_ID",
    "TEAM_ID",
    "Call",
    "Download",
    "FakeSlack",
]

T = TypeVar("T")


def _describe(predicate: Callable[..., Any]) -> str:
    try:
        return inspect.getsource(predicate).strip()
    except (OSError, TypeError):
        return repr(predicate)


class _Setting(Generic[T]):
    """A FakeSlack attribute that lives on one of its parts (``part`` is a dotted attribute path)."""

    def __init__(self, part: str, doc: str) -> None:
        self.part = part
        self.__doc__ = doc

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def _owner(self, fake: FakeSlack) -> Any:
        return reduce(getattr, self.part.split("."), fake)

    def __get__(self, fake: FakeSlack | None, owner: type | None = None) -> T:
        if fake is None:
            return self  # type: ignore[return-value]
        return getattr(self._owner(fake), self.name)

    def __set__(self, fake: FakeSlack, value: T) -> None:
        setattr(self._owner(fake), self.name, value)


class FakeSlack:
    """A fake Slack workspace serving the Web API and Socket Mode on 127.0.0.1."""

    users: _Setting[dict[str, Json]] = _Setting("_workspace", "The workspace's users by id (the live records).")
    channels: _Setting[dict[str, Json]] = _Setting(
        "_workspace", "The workspace's conversations by id (the live records; ``members`` is a set)."
    )
    ts_from_clock: _Setting[bool] = _Setting("_workspace", "Make new message ts values follow the wall clock.")
    time_scale: _Setting[float] = _Setting("_limits", "Speed of the fake clock of rate limits and Retry-After.")
    metadata_limit: _Setting[int | None] = _Setting(
        "_workspace", "Bytes of message metadata JSON accepted (more: metadata_too_large); None: no limit. "
        "Reset by reset()."
    )
    replies_page_cap: _Setting[int] = _Setting(
        "_web_api.conversations",
        "Most messages per conversations.replies page (1,000; 15 models a non-Marketplace app after Slack's "
        "2025 change). Reset by reset().",
    )
    server_ping_interval: _Setting[float | None] = _Setting(
        "_socket_mode", "Seconds between the server's pings (None: it only answers); read by start()."
    )
    close_timeout: _Setting[float] = _Setting(
        "_socket_mode", "Seconds a Socket Mode close handshake may take; read by start()."
    )
    block_pongs: _Setting[bool] = _Setting(
        "_socket_mode", "Withhold pongs to client pings: the connection stays open but nothing comes back."
    )
    redeliver_unacked_on_reconnect: _Setting[bool] = _Setting(
        "_socket_mode", "Send unacknowledged envelopes again as retries when their connection ends."
    )
    unacked_retry_after: _Setting[float | tuple[float, ...] | None] = _Setting(
        "_socket_mode", "Seconds after which an unacknowledged envelope is sent again as a retry (at most "
        "three times), as Slack does — one delay, or one per retry; None (the default, reset by reset()) sends "
        "it again only when its connection ends."
    )
    bot_scopes: _Setting[tuple[str, ...]] = _Setting(
        "_web_api", "Scopes the bot token was granted (Slack's ``x-oauth-scopes`` header). Reset by reset()."
    )
    app_scopes: _Setting[tuple[str, ...]] = _Setting(
        "_web_api", "Scopes of the app-level token; without connections:write, apps.connections.open answers "
        "missing_scope. Reset by reset()."
    )
    single_use_tickets: _Setting[bool] = _Setting(
        "_socket_mode", "Refuse a second connection with the same apps.connections.open ticket."
    )
    stream_ttl: _Setting[float] = _Setting(
        "_web_api.streams", "Seconds after chat.startStream when a stream expires (Slack: about 300). Reset by "
        "reset()."
    )
    stream_stop_events: _Setting[bool] = _Setting(
        "_web_api.streams", "Send the app a message_stream_stopped event when a person stops a stream (not "
        "documented as subscribable; off by default). Reset by reset()."
    )

    def __init__(
        self,
        *,
        time_scale: float = 1.0,
        ts_from_clock: bool = True,
        server_ping_interval: float | None = None,
        close_timeout: float = 1.0,
    ) -> None:
        """Create a stopped fake.

        ``time_scale`` speeds up the fake clock used by rate-limit buckets and Retry-After windows
        (10.0 means a window advertised as ``Retry-After: 1`` closes after 0.1 wall seconds).
        ``ts_from_clock`` makes message ts values follow the wall clock like Slack's (still strictly
        increasing); False gives deterministic ``1700000000.000001``-style values.
        ``server_ping_interval`` makes the server ping clients (None: the server only answers pings).
        """
        self._workspace = Workspace(ts_from_clock=ts_from_clock)
        self._lock = self._workspace.lock
        self._cond = self._workspace.changed
        self._limits = RateLimits(self._workspace, time_scale=time_scale)
        self._faults = Faults(self._lock)
        self._socket_mode = SocketModeServer(
            self._workspace, server_ping_interval=server_ping_interval, close_timeout=close_timeout
        )
        self._events_api = Events(self._workspace, self._socket_mode)
        self._web_api = WebApi(self._workspace, self._events_api, self._socket_mode, self._limits, self._faults)

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Start both servers on ephemeral ports; return self."""
        self._web_api.start()
        self._socket_mode.start()
        # websockets runs connection handlers in non-daemon threads; make sure a forgotten stop() cannot
        # keep the interpreter from exiting while a client still holds a connection open.
        register = getattr(threading, "_register_atexit", None)
        if register is not None:
            with contextlib.suppress(RuntimeError):
                register(self.stop)
        return self

    def stop(self) -> None:
        """Stop both servers, killing open connections without waiting for clients."""
        self._web_api.stop()
        self._socket_mode.stop()

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        return self._web_api.url

    @property
    def socket_url(self) -> str:
        """Socket Mode base URL without a ticket, e.g. ``ws://127.0.0.1:PORT/link``."""
        return self._socket_mode.url

    def reset(self) -> None:
        """Restore the default workspace and clear calls, events, acks, limits and faults.

        Servers and open connections stay; connection counters restart from zero.
        """
        with self._lock:
            self._web_api.clear_locked()
            self._faults.clear_locked()
            self._limits.clear_locked()
            self._socket_mode.clear_locked()
            self._workspace.load_defaults_locked()
            self._cond.notify_all()

    # ------------------------------------------------------------------ workspace

    def add_user(
        self,
        id: str,
        name: str | None = None,
        team_id: str = TEAM_ID,
        is_bot: bool = False,
        deleted: bool = False,
        real_name: str | None = None,
    ) -> Json:
        """Add (or replace) a user and return its record."""
        return self._workspace.add_user(id, name, team_id, is_bot, deleted, real_name)

    def add_channel(
        self,
        id: str,
        name: str,
        kind: ChannelKind = "public",
        members: Iterable[str] = (),
        bot_member: bool = True,
        archived: bool = False,
        ext_shared: bool = False,
        host_team: str | None = None,
    ) -> Json:
        """Add (or replace) a conversation and return its record (``ext_shared``: a Slack Connect channel,
        hosted by ``host_team`` if that is another organisation)."""
        return self._workspace.add_channel(id, name, kind, members, bot_member, archived, ext_shared, host_team)

    def set_bot_member(self, channel: str, member: bool = True) -> None:
        """Add the bot to a channel or remove it."""
        self._workspace.set_bot_member(channel, member)

    def archive_channel(self, channel: str, archived: bool = True) -> None:
        """Archive or unarchive a channel."""
        self._workspace.archive_channel(channel, archived)

    # ------------------------------------------------------------------ files

    def upload_file(self, user: str, name: str, data: bytes, *, channel: str | None = None,
                    mimetype: str | None = None, filetype: str | None = None, title: str | None = None) -> Json:
        """Store a file as ``user``'s upload (shared in ``channel``) and return its object as Slack puts it in a
        message (``user_says(..., files=[it])``). ``mimetype`` and ``filetype`` default to what its name says,
        as Slack's clients do: a GIF renamed ``.png`` is declared ``image/png``."""
        with self._lock:
            return self._web_api.files.add_locked(self._web_api.root, user, name, data, mimetype=mimetype,
                                                  filetype=filetype, title=title, channel=channel)

    @staticmethod
    def file_stub(file: Json) -> Json:
        """What a Slack Connect event carries for a file another organisation shares: no name, no URLs, only
        ``file_access: check_file_info`` (the app must call files.info)."""
        return {"id": file["id"], "mode": "file_access", "file_access": "check_file_info",
                "created": file.get("created"), "timestamp": file.get("timestamp"), "user": file.get("user"),
                "filetype": "", "editable": False}

    def set_file_scope(self, granted: bool) -> None:
        """Grant or revoke ``files:read`` (revoked: downloads get the sign-in page, files.info missing_scope)."""
        with self._lock:
            scopes = self._web_api.files.scopes
            scopes.add("files:read") if granted else scopes.discard("files:read")

    def stall_download(self, file_id: str, after: int, seconds: float) -> None:
        """Downloads of the file send ``after`` bytes, then nothing for ``seconds``."""
        with self._lock:
            stored = self._web_api.files.files[file_id]
            stored.stall_after, stored.stall_seconds = after, seconds

    def cut_download(self, file_id: str, after: int) -> None:
        """Downloads of the file end (the connection closes) after ``after`` bytes of its ``Content-Length``."""
        with self._lock:
            self._web_api.files.files[file_id].cut_after = after

    def redirect_download(self, file_id: str, location: str) -> None:
        """Downloads of the file are answered ``302 Found`` with ``Location: location``."""
        with self._lock:
            self._web_api.files.files[file_id].redirect_to = location

    @property
    def downloads(self) -> list[Download]:
        """Every download request so far (file id, token, status, bytes of the file sent)."""
        with self._lock:
            return list(self._web_api.files.downloads)

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[Call]:
        """Every Web API call so far (a snapshot)."""
        with self._lock:
            return list(self._web_api.calls)

    def calls_for(self, method: str) -> list[Call]:
        """Calls of one Web API method."""
        with self._lock:
            return [c for c in self._web_api.calls if c.method == method]

    @property
    def rate_limited_calls(self) -> list[Call]:
        """Calls answered with HTTP 429."""
        with self._lock:
            return list(self._web_api.rate_limited)

    @property
    def violations(self) -> list[Call]:
        """Calls that arrived while a Retry-After window for them was still open."""
        with self._lock:
            return list(self._web_api.violations)

    @property
    def events(self) -> list[Json]:
        """Every event pushed to the bot (first deliveries only, not retries), in order."""
        with self._lock:
            return copy.deepcopy(self._socket_mode.events)

    @property
    def envelopes(self) -> list[Json]:
        """Every events_api envelope created, including retries, in order."""
        with self._lock:
            return copy.deepcopy(list(self._socket_mode.envelopes.values()))

    def envelope(self, envelope_id: str) -> Json:
        """One envelope by id."""
        with self._lock:
            return copy.deepcopy(self._socket_mode.envelopes[envelope_id])

    @property
    def delivered(self) -> list[str]:
        """Envelope ids written to a Socket Mode connection, in order."""
        with self._lock:
            return list(self._socket_mode.delivered)

    @property
    def acks(self) -> list[str]:
        """Envelope ids acknowledged by clients, in order (duplicates kept)."""
        with self._lock:
            return list(self._socket_mode.acks)

    @property
    def ack_messages(self) -> list[Json]:
        """The full ack messages (``{"envelope_id": ..., "payload": ...}``)."""
        with self._lock:
            return copy.deepcopy(self._socket_mode.ack_messages)

    @property
    def client_messages(self) -> list[str]:
        """Frames from clients that were not acks."""
        with self._lock:
            return list(self._socket_mode.client_messages)

    @property
    def pending(self) -> int:
        """Frames queued because no connection is ready."""
        with self._lock:
            return len(self._socket_mode.outbox)

    @property
    def connections_opened(self) -> int:
        """Socket Mode connections that got their ``hello`` since the last reset."""
        with self._lock:
            return self._socket_mode.connections_opened

    @property
    def connection_times(self) -> list[float]:
        """time.monotonic() of each ``hello`` since the last reset."""
        with self._lock:
            return list(self._socket_mode.connection_times)

    @property
    def disconnection_times(self) -> list[float]:
        """time.monotonic() of each connection end since the last reset."""
        with self._lock:
            return list(self._socket_mode.disconnection_times)

    @property
    def random_seed(self) -> None:
        """Write-only: seed the choice of connection for each envelope (a fixed order for a test)."""
        return None

    @random_seed.setter
    def random_seed(self, seed: int) -> None:
        self._socket_mode.random.seed(seed)

    @property
    def refused_connections(self) -> int:
        """Connections closed at once with ``too_many_websockets`` (past Slack's 10 per app)."""
        with self._lock:
            return self._socket_mode.refused_connections

    @property
    def open_connections(self) -> int:
        """Socket Mode connections currently open."""
        with self._lock:
            return self._socket_mode.open_count_locked()

    @property
    def pings_received(self) -> int:
        """WebSocket pings received from clients since the last reset."""
        with self._lock:
            return self._socket_mode.pings_received

    @property
    def pongs_withheld(self) -> int:
        """Pongs not sent because ``block_pongs`` was set."""
        with self._lock:
            return self._socket_mode.pongs_withheld

    def messages(self, channel: str) -> list[Json]:
        """All messages of a channel (replies included) in ts order."""
        return self._workspace.messages(channel)

    def message(self, channel: str, ts: str) -> Json | None:
        """One message, or None."""
        return self._workspace.message(channel, ts)

    def thread(self, channel: str, thread_ts: str) -> list[Json]:
        """The parent (if it exists) followed by its replies in ts order."""
        return self._workspace.thread(channel, thread_ts)

    def wait_for(self, predicate: Callable[[FakeSlack], Any], timeout: float = 5.0) -> Any:
        """Wait until ``predicate(self)`` is truthy and return its value.

        Exceptions from the predicate count as "not yet". Raises AssertionError on timeout.
        The predicate runs with the fake's lock held; it must not push events or send frames.
        """
        deadline = time.monotonic() + timeout
        last_exc: BaseException | None = None
        with self._cond:
            while True:
                try:
                    value = predicate(self)
                except Exception as exc:  # noqa: BLE001 - a failing predicate means "not yet"
                    last_exc = exc
                else:
                    if value:
                        return value
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(min(remaining, 0.05))
            raise AssertionError(self._timeout_report(_describe(predicate), timeout, last_exc))

    def _timeout_report(self, what: str, timeout: float, last_exc: BaseException | None) -> str:
        recent = [
            f"  {c.method} -> {c.status} {c.response.get('error') or ('ok' if c.ok else '')}"
            for c in self._web_api.calls[-10:]
        ]
        sm = self._socket_mode
        lines = [
            f"FakeSlack.wait_for timed out after {timeout}s waiting for: {what}",
            f"last predicate error: {last_exc!r}" if last_exc else "predicate stayed falsy",
            f"connections: open={sm.open_count_locked()} "
            f"opened_since_reset={sm.connections_opened}; queued frames={len(sm.outbox)}; "
            f"envelopes={len(sm.envelopes)} delivered={len(sm.delivered)} acks={len(sm.acks)}",
            f"last {len(recent)} of {len(self._web_api.calls)} calls:",
            *recent,
        ]
        return "\n".join(lines)

    def wait_for_ack(self, envelope_id: str, timeout: float = 5.0) -> None:
        """Wait until a client acks ``envelope_id``."""
        self.wait_for(lambda f: envelope_id in f.acks, timeout)

    def wait_for_connection(self, n: int = 1, timeout: float = 5.0) -> None:
        """Wait until ``n`` connections got their ``hello`` since the last reset."""
        self.wait_for(lambda f: f.connections_opened >= n, timeout)

    # ------------------------------------------------------------------ limits and faults

    def set_rate_limit(self, method: str, per_minute: float, burst: int) -> None:
        """Rate-limit a method workspace-wide with a token bucket."""
        self._limits.set_rate_limit(method, per_minute, burst)

    def set_post_limit(self, per_second: float = 1.0, burst: int = 5) -> None:
        """Rate-limit chat.postMessage per channel with a token bucket."""
        self._limits.set_post_limit(per_second, burst)

    def clear_rate_limits(self) -> None:
        """Remove all rate limits and open Retry-After windows."""
        self._limits.clear()

    def fail_next(
        self,
        method: str,
        n: int = 1,
        *,
        status: int = 200,
        error: str | None = None,
        delay: float = 0.0,
        reset_connection: bool = False,
        retry_after: int | None = None,
        channel: str | None = None,
        after_processing: bool = False,
    ) -> None:
        """Make the next ``n`` calls of ``method`` (in ``channel`` only, if given) fail.

        After sleeping ``delay`` seconds the call is answered with HTTP ``status`` and, if ``error``,
        ``{"ok": false, "error": error}``; if neither status nor error is set it is then served normally
        (a slow call). ``reset_connection`` aborts the TCP connection without a response.
        ``status=429`` adds ``Retry-After`` (``retry_after`` or 1) and defaults the error to ratelimited.
        ``after_processing`` processes the call as Slack would, then loses the response: the connection is
        reset at once, or after ``delay`` seconds (longer than the client's timeout: a timeout).
        """
        self._faults.fail_next(
            method,
            n,
            status=status,
            error=error,
            delay=delay,
            reset_connection=reset_connection,
            retry_after=retry_after,
            channel=channel,
            after_processing=after_processing,
        )

    def reset_faults(self) -> None:
        """Forget every scripted failure and outage (the workspace and recordings stay)."""
        with self._lock:
            self._faults.clear_locked()

    def outage(self, seconds: float, methods: tuple[str, ...] = ("chat.postMessage", "chat.update",
                                                                  "chat.delete"),
               *, status: int = 503, error: str | None = None) -> None:
        """Fail every call of ``methods`` with ``status`` (and ``error``) for the next ``seconds`` seconds."""
        self._faults.outage(frozenset(methods), time.time() + seconds, status, error)

    # ------------------------------------------------------------------ what happens in the workspace

    def user_says(
        self,
        channel: str,
        user: str,
        text: str,
        *,
        thread_ts: str | None = None,
        files: list[Json] | None = None,
        subtype: str | None = None,
        blocks: list[Json] | None = None,
        attachments: list[Json] | None = None,
        mention_order: MentionOrder = "mention_first",
    ) -> str:
        """Post a message as a user; deliver ``message`` (and ``app_mention``) events; return its ts.

        ``attachments``: e.g. a forwarded message, as Slack attaches it (``is_share``)."""
        if mention_order not in MENTION_ORDERS:
            raise ValueError(f"unknown mention_order {mention_order!r}")
        with self._lock:
            message = self._workspace.post_user_message_locked(
                channel, user, text, thread_ts=thread_ts, files=files, subtype=subtype, blocks=blocks,
                attachments=attachments,
            )
            self._events_api.user_posted_locked(channel, message, mention_order)
            ts = message["ts"]
        self._socket_mode.pump()
        return ts

    def add_history(self, channel: str, user: str, text: str, *, thread_ts: str | None = None,
                    metadata: Json | None = None, bot: bool = False) -> str:
        """Store a message without delivering any event (written while the bot was away); return its ts.

        ``bot=True`` stores it as this bot's own message (with optional ``metadata``)."""
        with self._lock:
            message = self._workspace.add_history_locked(
                channel, user, text, thread_ts=thread_ts, metadata=metadata, bot=bot
            )
            return str(message["ts"])

    def deliver_late(self, channel: str, ts: str, mention_order: MentionOrder = "mention_first") -> None:
        """Deliver now the events of a message stored without them (`add_history`): Slack gives each event to one
        connection, and under load one can arrive after the next message's."""
        with self._lock:
            message = self._workspace.messages_by_channel[channel][ts]
            self._events_api.user_posted_locked(channel, message, mention_order)
        self._socket_mode.pump()

    def user_edits(self, channel: str, ts: str, new_text: str) -> None:
        """Edit a user's message and deliver ``message_changed`` (and ``app_mention`` if it mentions the bot)."""
        with self._lock:
            message, previous, edit_ts = self._workspace.edit_user_message_locked(channel, ts, new_text)
            self._events_api.message_changed_locked(channel, message, previous, edit_ts)
        self._socket_mode.pump()

    def user_deletes(self, channel: str, ts: str) -> None:
        """Delete a message as its author and deliver ``message_deleted`` (a thread's parent with replies
        becomes a tombstone, announced with ``message_changed``)."""
        with self._lock:
            old = self._workspace.remove_message_locked(channel, ts)
            self._events_api.message_deleted_locked(channel, old)
        self._socket_mode.pump()

    def post_as_other_bot(
        self,
        channel: str,
        text: str,
        thread_ts: str | None = None,
        *,
        attachments: list[Json] | None = None,
        blocks: list[Json] | None = None,
    ) -> str:
        """Post as a different app's bot (bot_id BOTHER, user UOTHERBOT), with legacy ``attachments`` or
        Block Kit ``blocks`` if given; return the ts."""
        with self._lock:
            message = self._workspace.post_other_bot_message_locked(
                channel, text, thread_ts, attachments=attachments, blocks=blocks
            )
            self._events_api.message_posted_locked(channel, message)
            ts = message["ts"]
        self._socket_mode.pump()
        return ts

    def push_event(
        self,
        event: Json,
        *,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        payload: Json | None = None,
    ) -> str:
        """Wrap ``event`` in an events_api envelope and deliver it (or queue it); return the envelope_id.

        ``payload`` replaces fields of the envelope's payload, e.g. a Slack Connect envelope's ``team_id``
        (another organisation's), ``authorizations`` or ``is_ext_shared_channel``."""
        with self._lock:
            envelope_id = self._socket_mode.push_locked(event, event_id, retry_attempt, retry_reason, payload)
        self._socket_mode.pump()
        return envelope_id

    def push_raw(self, obj_or_str: Json | str) -> None:
        """Send a frame as is (a str) or JSON-encoded (anything else), e.g. a malformed envelope."""
        text = obj_or_str if isinstance(obj_or_str, str) else json.dumps(obj_or_str)
        with self._lock:
            self._socket_mode.push_raw_locked(text)
        self._socket_mode.pump()

    def redeliver(self, envelope_id: str) -> str:
        """Re-send an envelope's payload as a retry (same event_id, new envelope_id); return the new id."""
        with self._lock:
            new_id = self._socket_mode.redeliver_locked(envelope_id)
        self._socket_mode.pump()
        return new_id

    # ------------------------------------------------------------------ the AI-app surface

    @property
    def streams(self) -> list[Any]:
        """Every stream started (``web_api/streams.py``'s ``Stream``: channel, ts, state, its calls)."""
        with self._lock:
            return list(self._web_api.streams.streams.values())

    def statuses(self, channel: str | None = None) -> list[tuple[float, str, str, str, list[str]]]:
        """Every status change (when, channel, thread_ts, status, loading_messages); "" = cleared by a reply."""
        with self._lock:
            return [s for s in self._web_api.assistant.statuses if channel is None or s[1] == channel]

    def status_of(self, channel: str, thread_ts: str) -> str:
        with self._lock:
            return self._web_api.assistant.status_of(channel, thread_ts)

    @property
    def titles(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return list(self._web_api.assistant.titles)

    @property
    def prompts(self) -> list[tuple[str, str | None, list[Json]]]:
        with self._lock:
            return list(self._web_api.assistant.prompts)

    @property
    def ephemerals(self) -> list[Json]:
        with self._lock:
            return list(self._web_api.assistant.ephemerals)

    @property
    def interactions(self) -> list[Json]:
        """Every interactive envelope sent (button clicks)."""
        with self._lock:
            return copy.deepcopy(self._socket_mode.interactions)

    def user_stops_stream(self, channel: str, ts: str, user: str = "U1") -> None:
        """A person presses Stop on a streaming message: appends get ``stopped_by_user`` from now on (and, with
        ``stream_stop_events``, the app gets a ``message_stream_stopped`` event)."""
        with self._lock:
            stream = self._web_api.streams.user_stops_locked(channel, ts)
            if self._web_api.streams.stream_stop_events and stream.state == "user_stopped":
                self._socket_mode.push_locked({"type": "message_stream_stopped", "channel": channel, "ts": ts,
                                               "user": user, "event_ts": self._workspace.next_ts()})
            self._cond.notify_all()
        self._socket_mode.pump()

    def user_opens_messages_tab(self, user: str, channel: str, tab: str = "messages") -> str:
        """A person opens the app's Messages tab (``app_home_opened`` with ``tab``); returns the envelope id."""
        event = {"type": "app_home_opened", "user": user, "channel": channel, "tab": tab,
                 "event_ts": self._workspace.next_ts()}
        return self.push_event(event)

    def click(self, user: str, channel: str, message_ts: str, action: Json, *, team: str = TEAM_ID) -> str:
        """A person clicks an element of one of the bot's messages: a ``block_actions`` interactive envelope as
        Slack sends it over Socket Mode; returns its envelope id."""
        with self._lock:
            message = self._workspace.message(channel, message_ts) or {}
            payload: Json = {
                "type": "block_actions",
                "user": {"id": user, "username": user.lower(), "name": user.lower(), "team_id": team},
                "api_app_id": APP_ID, "token": "verif",
                "container": {"type": "message", "message_ts": message_ts, "channel_id": channel,
                              "is_ephemeral": False, "thread_ts": message.get("thread_ts")},
                "trigger_id": f"{int(time.time())}.fake", "team": {"id": TEAM_ID, "domain": "fake"},
                "enterprise": None, "is_enterprise_install": False,
                "channel": {"id": channel, "name": self._workspace.channels.get(channel, {}).get("name", "")},
                "message": message, "state": {"values": {}},
                "response_url": f"{self.api_url}response/{message_ts}",
                "actions": [{**action, "action_ts": self._workspace.next_ts()}],
            }
            envelope_id = self._socket_mode.push_interactive_locked(payload)
        self._socket_mode.pump()
        return envelope_id

    def click_feedback(self, user: str, channel: str, message_ts: str, *, positive: bool = True,
                       team: str = TEAM_ID) -> str:
        """Click the positive (or negative) feedback button of a message: the ``value`` of that button of its
        ``feedback_buttons`` element, as Slack sends it. Raises if the message has no such buttons."""
        message = self.message(channel, message_ts) or {}
        for block in message.get("blocks") or []:
            if block.get("type") != "context_actions":
                continue
            for element in block.get("elements") or []:
                if element.get("type") == "feedback_buttons":
                    button = element["positive_button" if positive else "negative_button"]
                    return self.click(user, channel, message_ts, {
                        "type": "feedback_buttons", "action_id": element.get("action_id"),
                        "block_id": block.get("block_id"), "value": button["value"]}, team=team)
        raise AssertionError(f"message {message_ts} has no feedback buttons")

    # ------------------------------------------------------------------ connection control

    def send_disconnect(self, reason: str = "refresh_requested", *, grace: float = 0.5) -> int:
        """Send ``disconnect`` to every connection, stop using them, close them after ``grace`` seconds.

        Returns the number of connections told to disconnect.
        """
        return self._socket_mode.send_disconnect(reason, grace=grace)

    def drop_connections(self, abrupt: bool = True, *, rst: bool = False) -> int:
        """Kill every connection; return how many.

        ``abrupt=True`` closes the TCP connection without a WebSocket close frame (FIN, or RST with
        ``rst=True``); ``abrupt=False`` performs a normal close handshake (in the background).
        """
        return self._socket_mode.drop_connections(abrupt, rst=rst)
