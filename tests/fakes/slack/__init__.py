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
"""

from __future__ import annotations

import base64
import contextlib
import copy
import email.parser
import email.policy
import inspect
import json
import logging
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from functools import reduce
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Generic, TypeVar
from urllib.parse import parse_qs, urlsplit

from .events import MENTION_ORDERS, Events, MentionOrder
from .faults import Faults, RateLimits
from .socket_mode import SocketModeServer
from .workspace import (
    APP_ID,
    APP_TOKEN,
    BOT_ID,
    BOT_TOKEN,
    BOT_USER_ID,
    OTHER_BOT_ID,
    OTHER_BOT_USER_ID,
    POST_TEXT_LIMIT,
    REPLIES_MAX_LIMIT,
    TEAM_ID,
    UPDATE_TEXT_LIMIT,
    ChannelKind,
    Json,
    Workspace,
    bot_profile,
    is_reply,
    opt_str,
    public,
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
    "FakeSlack",
]

_APP_TOKEN_METHODS = frozenset({"apps.connections.open"})

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass
class Call:
    """One Web API call as the fake saw it (``status`` 0 means the connection was reset)."""

    method: str
    params: dict[str, Any]
    token: str | None
    status: int
    response: dict[str, Any]
    time: float
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True if the response carried ``ok: true``."""
        return bool(self.response.get("ok"))

    @property
    def error(self) -> str | None:
        """The ``error`` of the response, if any."""
        return self.response.get("error")


class _ApiServer(ThreadingHTTPServer):
    """The Web API HTTP server; handler threads are daemons."""

    daemon_threads = True
    fake: FakeSlack

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; log anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log.error("fake Slack API handler failed", exc_info=exc)


class _ApiHandler(BaseHTTPRequestHandler):
    """Routes every request to FakeSlack."""

    server: _ApiServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Serve a POST."""
        self.server.fake._serve_http(self)

    def do_GET(self) -> None:
        """Serve a GET."""
        self.server.fake._serve_http(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


def _err(error: str) -> Json:
    return {"ok": False, "error": error}


def _truthy(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return False


def _ts_decimal(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _parse_json_list(value: Any) -> tuple[list[Any] | None, bool]:
    """Parse blocks/attachments that may arrive as a list or as a JSON string."""
    if value is None:
        return None, True
    if isinstance(value, str):
        if not value.strip():
            return None, True
        try:
            value = json.loads(value)
        except ValueError:
            return None, False
    return (value, True) if isinstance(value, list) else (None, False)


def _parse_metadata(value: Any) -> tuple[Json | None, bool]:
    """Validate message metadata: an object with a string event_type and an object event_payload."""
    if value is None:
        return None, True
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None, False
    if not isinstance(value, dict):
        return None, False
    if not isinstance(value.get("event_type"), str) or not value["event_type"]:
        return None, False
    if not isinstance(value.get("event_payload"), dict):
        return None, False
    return value, True


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


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    header = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
    out: dict[str, Any] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        out[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return out


def _parse_request_params(query: str, content_type: str, raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body parameters; return them and a ``token`` parameter if one was sent.

    Raises ValueError for a JSON body that is not an object.
    """
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    token = params.pop("token", None)
    ctype = content_type.split(";")[0].strip().lower()
    if raw:
        if ctype == "application/json":
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("JSON body must be an object")
            data.pop("token", None)  # Slack does not read tokens from JSON bodies
            params.update(data)
        else:
            if ctype == "multipart/form-data":
                form = _parse_multipart(content_type, raw)
            else:
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
            body_token = form.pop("token", None)
            token = opt_str(body_token) or token
            params.update(form)
    return params, token


def _bearer(header: str | None) -> str | None:
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def _reset_socket(handler: BaseHTTPRequestHandler) -> None:
    """Abort the HTTP connection with a TCP RST instead of a response."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()


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

    ts_from_clock: _Setting[bool] = _Setting("_workspace", "Make new message ts values follow the wall clock.")
    time_scale: _Setting[float] = _Setting("_limits", "Speed of the fake clock of rate limits and Retry-After.")
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
    single_use_tickets: _Setting[bool] = _Setting(
        "_socket_mode", "Refuse a second connection with the same apps.connections.open ticket."
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
        self.replies_page_cap = REPLIES_MAX_LIMIT  # 15 models a non-Marketplace app after Slack's 2025 change
        self._stopping = threading.Event()

        self._http: _ApiServer | None = None
        self._http_thread: threading.Thread | None = None
        self._handlers: dict[str, Callable[[dict[str, Any]], Json]] = {
            "auth.test": self._api_auth_test,
            "apps.connections.open": self._api_connections_open,
            "chat.postMessage": self._api_post_message,
            "chat.update": self._api_update,
            "chat.delete": self._api_delete,
            "conversations.replies": self._api_replies,
            "conversations.info": self._api_conversations_info,
            "users.info": self._api_users_info,
        }
        self._clear_state_locked()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> FakeSlack:
        """Start both servers on ephemeral ports; return self."""
        self._stopping.clear()
        http_server = _ApiServer(("127.0.0.1", 0), _ApiHandler)
        http_server.fake = self
        self._http = http_server
        self._http_thread = threading.Thread(
            target=http_server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack-api",
            daemon=True,
        )
        self._http_thread.start()

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
        self._stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        self._socket_mode.stop()
        if self._http_thread is not None:
            self._http_thread.join(timeout=2.0)
        self._http_thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def api_url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        if self._http is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._http.server_address[1]}/api/"

    @property
    def socket_url(self) -> str:
        """Socket Mode base URL without a ticket, e.g. ``ws://127.0.0.1:PORT/link``."""
        return self._socket_mode.url

    def reset(self) -> None:
        """Restore the default workspace and clear calls, events, acks, limits and faults.

        Servers and open connections stay; connection counters restart from zero.
        """
        with self._lock:
            self._clear_state_locked()
            self.replies_page_cap = REPLIES_MAX_LIMIT
            self._workspace.load_defaults_locked()
            self._cond.notify_all()

    def _clear_state_locked(self) -> None:
        self._calls: list[Call] = []
        self._rate_limited: list[Call] = []
        self._violations: list[Call] = []
        self._faults.clear_locked()
        self._limits.clear_locked()
        self._socket_mode.clear_locked()
        self.replies_page_cap = REPLIES_MAX_LIMIT  # 15 models a non-Marketplace app after Slack's 2025 change

    # ------------------------------------------------------------------ workspace

    @property
    def users(self) -> dict[str, Json]:
        """The workspace's users by id (the live records)."""
        return self._workspace.users

    @property
    def channels(self) -> dict[str, Json]:
        """The workspace's conversations by id (the live records; ``members`` is a set)."""
        return self._workspace.channels

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
    ) -> Json:
        """Add (or replace) a conversation and return its record."""
        return self._workspace.add_channel(id, name, kind, members, bot_member, archived, ext_shared)

    def set_bot_member(self, channel: str, member: bool = True) -> None:
        """Add the bot to a channel or remove it."""
        self._workspace.set_bot_member(channel, member)

    def archive_channel(self, channel: str, archived: bool = True) -> None:
        """Archive or unarchive a channel."""
        self._workspace.archive_channel(channel, archived)

    # ------------------------------------------------------------------ inspection

    @property
    def calls(self) -> list[Call]:
        """Every Web API call so far (a snapshot)."""
        with self._lock:
            return list(self._calls)

    def calls_for(self, method: str) -> list[Call]:
        """Calls of one Web API method."""
        with self._lock:
            return [c for c in self._calls if c.method == method]

    @property
    def rate_limited_calls(self) -> list[Call]:
        """Calls answered with HTTP 429."""
        with self._lock:
            return list(self._rate_limited)

    @property
    def violations(self) -> list[Call]:
        """Calls that arrived while a Retry-After window for them was still open."""
        with self._lock:
            return list(self._violations)

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
            for c in self._calls[-10:]
        ]
        sm = self._socket_mode
        lines = [
            f"FakeSlack.wait_for timed out after {timeout}s waiting for: {what}",
            f"last predicate error: {last_exc!r}" if last_exc else "predicate stayed falsy",
            f"connections: open={sm.open_count_locked()} "
            f"opened_since_reset={sm.connections_opened}; queued frames={len(sm.outbox)}; "
            f"envelopes={len(sm.envelopes)} delivered={len(sm.delivered)} acks={len(sm.acks)}",
            f"last {len(recent)} of {len(self._calls)} calls:",
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
    ) -> None:
        """Make the next ``n`` calls of ``method`` fail.

        After sleeping ``delay`` seconds the call is answered with HTTP ``status`` and, if ``error``,
        ``{"ok": false, "error": error}``; if neither status nor error is set it is then served normally
        (a slow call). ``reset_connection`` aborts the TCP connection without a response.
        ``status=429`` adds ``Retry-After`` (``retry_after`` or 1) and defaults the error to ratelimited.
        """
        self._faults.fail_next(
            method,
            n,
            status=status,
            error=error,
            delay=delay,
            reset_connection=reset_connection,
            retry_after=retry_after,
        )

    # ------------------------------------------------------------------ HTTP plumbing

    def _serve_http(self, handler: _ApiHandler) -> None:
        arrived = time.monotonic()
        split = urlsplit(handler.path)
        if not split.path.startswith("/api/"):
            self._write_http(handler, 404, None, {})
            return
        method = split.path[len("/api/") :]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        headers = dict(handler.headers.items())
        parse_error: str | None = None
        try:
            params, param_token = _parse_request_params(
                split.query, handler.headers.get("Content-Type", ""), raw
            )
        except ValueError:
            params, param_token, parse_error = {}, None, "invalid_json"
        token = _bearer(handler.headers.get("Authorization")) or param_token

        fault = self._faults.take(method)
        if fault is not None and fault.delay > 0:
            self._stopping.wait(fault.delay)
        if fault is not None and fault.reset_connection:
            with self._lock:
                self._record_locked(Call(method, params, token, 0, {}, arrived, headers), violation=False)
            _reset_socket(handler)
            return

        extra: dict[str, str] = {}
        with self._lock:
            violation = self._limits.in_retry_window_locked(method, params, arrived)
            body: Json | None
            if fault is not None and (fault.error is not None or fault.status != 200):
                status = fault.status
                error = fault.error or ("ratelimited" if status == 429 else None)
                body = _err(error) if error else None
                if status == 429:
                    retry_after = fault.retry_after or 1
                    extra["Retry-After"] = str(retry_after)
                    self._limits.open_window_locked(("method", method), arrived, retry_after)
            elif parse_error is not None:
                status, body = 200, _err(parse_error)
            else:
                status, body, extra = self._process_call_locked(method, params, token, arrived)
            self._record_locked(Call(method, params, token, status, body or {}, arrived, headers), violation)
        self._write_http(handler, status, body, extra)
        self._socket_mode.pump()

    def _record_locked(self, call: Call, violation: bool) -> None:
        self._calls.append(call)
        if call.status == 429:
            self._rate_limited.append(call)
        if violation:
            self._violations.append(call)
        self._cond.notify_all()

    @staticmethod
    def _write_http(handler: _ApiHandler, status: int, body: Json | None, extra: dict[str, str]) -> None:
        data = b"" if body is None else json.dumps(body).encode("utf-8")
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json; charset=utf-8")
            for name, value in extra.items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(data)

    def _process_call_locked(
        self, method: str, params: dict[str, Any], token: str | None, now: float
    ) -> tuple[int, Json, dict[str, str]]:
        handler = self._handlers.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if token not in (BOT_TOKEN, APP_TOKEN):
            return 200, _err("invalid_auth"), {}
        if token != (APP_TOKEN if method in _APP_TOKEN_METHODS else BOT_TOKEN):
            return 200, _err("not_allowed_token_type"), {}
        retry_after = self._limits.check_locked(method, params, now)
        if retry_after is not None:
            return 429, _err("ratelimited"), {"Retry-After": str(retry_after)}
        return 200, handler(params), {}

    # ------------------------------------------------------------------ Web API methods

    def _api_auth_test(self, params: dict[str, Any]) -> Json:
        return {
            "ok": True,
            "url": "https://fake-team.slack.com/",
            "team": "Fake Team",
            "user": "bot",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _api_connections_open(self, params: dict[str, Any]) -> Json:
        return {"ok": True, "url": self._socket_mode.ticket_url_locked()}

    def _api_post_message(self, params: dict[str, Any]) -> Json:
        channel_id = self._workspace.resolve_channel(params.get("channel"))
        if channel_id is None:
            return _err("channel_not_found")
        channel = self._workspace.channels[channel_id]
        if BOT_USER_ID not in channel["members"]:
            # Slack hides private conversations the bot is not in.
            return _err("channel_not_found" if channel["is_private"] else "not_in_channel")
        if channel["is_archived"]:
            return _err("is_archived")
        blocks, blocks_ok = _parse_json_list(params.get("blocks"))
        attachments, attachments_ok = _parse_json_list(params.get("attachments"))
        if not blocks_ok:
            return _err("invalid_blocks_format")
        if not attachments_ok:
            return _err("invalid_attachments")
        text = opt_str(params.get("text"))
        if not text and not blocks and not attachments:
            return _err("no_text")
        metadata, metadata_ok = _parse_metadata(params.get("metadata"))
        if not metadata_ok:
            return _err("invalid_metadata_format")
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
        if thread_ts and _truthy(params.get("reply_broadcast")):
            message["subtype"] = "thread_broadcast"
        self._workspace.store_message_locked(channel_id, message, thread_ts)
        self._events_api.message_posted_locked(channel_id, message)
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

    def _api_update(self, params: dict[str, Any]) -> Json:
        channel_id = self._workspace.resolve_channel(params.get("channel"))
        if channel_id is None or not self._workspace.visible_to_bot(self._workspace.channels[channel_id]):
            return _err("channel_not_found")
        ts = opt_str(params.get("ts")) or ""
        message = self._workspace.messages_by_channel[channel_id].get(ts)
        if message is None or message.get("subtype") == "tombstone":
            return _err("message_not_found")
        if message.get("bot_id") != BOT_ID:
            return _err("cant_update_message")
        if self._workspace.channels[channel_id]["is_archived"]:
            return _err("is_archived")
        text = opt_str(params.get("text"))
        blocks, blocks_ok = _parse_json_list(params.get("blocks"))
        attachments, attachments_ok = _parse_json_list(params.get("attachments"))
        if not blocks_ok:
            return _err("invalid_blocks_format")
        if not attachments_ok:
            return _err("invalid_attachments")
        if text is None and blocks is None and attachments is None:
            return _err("no_text")
        if text is not None and len(text) > UPDATE_TEXT_LIMIT:
            return _err("msg_too_long")
        metadata, metadata_ok = _parse_metadata(params.get("metadata"))
        if not metadata_ok:
            return _err("invalid_metadata_format")
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
        self._events_api.message_changed_locked(channel_id, message, previous, edit_ts)
        return {
            "ok": True,
            "channel": channel_id,
            "ts": ts,
            "text": message["text"],
            "message": public(message),
        }

    def _api_delete(self, params: dict[str, Any]) -> Json:
        channel_id = self._workspace.resolve_channel(params.get("channel"))
        if channel_id is None or not self._workspace.visible_to_bot(self._workspace.channels[channel_id]):
            return _err("channel_not_found")
        ts = opt_str(params.get("ts")) or ""
        message = self._workspace.messages_by_channel[channel_id].get(ts)
        if message is None or message.get("subtype") == "tombstone":
            return _err("message_not_found")
        if message.get("bot_id") != BOT_ID:
            return _err("cant_delete_message")
        old = self._workspace.remove_message_locked(channel_id, ts)
        self._events_api.message_deleted_locked(channel_id, old)
        return {"ok": True, "channel": channel_id, "ts": ts}

    def _api_replies(self, params: dict[str, Any]) -> Json:
        channel_id = self._workspace.resolve_channel(params.get("channel"))
        if channel_id is None or not self._workspace.visible_to_bot(self._workspace.channels[channel_id]):
            return _err("channel_not_found")
        messages = self._workspace.messages_by_channel[channel_id]
        ts = opt_str(params.get("ts")) or ""
        target = messages.get(ts)
        if target is None:
            return _err("thread_not_found")
        root = target["thread_ts"] if is_reply(target) else ts
        items = [m for m in messages.values() if m["ts"] == root or m.get("thread_ts") == root]
        oldest = _ts_decimal(params.get("oldest") or "0")
        latest = _ts_decimal(params.get("latest")) if params.get("latest") else None
        inclusive = _truthy(params.get("inclusive"))
        if oldest is None or (params.get("latest") and latest is None):
            return _err("invalid_ts_oldest" if oldest is None else "invalid_ts_latest")

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
            return _err("invalid_limit")
        limit = min(max(limit, 1), self.replies_page_cap)
        start = 0
        cursor = opt_str(params.get("cursor"))
        if cursor:
            position = _decode_cursor(cursor)
            if position is None:
                return _err("invalid_cursor")
            start = next((i for i, m in enumerate(items) if Decimal(m["ts"]) >= position), len(items))
        page = items[start : start + limit]
        has_more = start + limit < len(items)
        with_metadata = _truthy(params.get("include_all_metadata"))
        return {
            "ok": True,
            "messages": [public(m, with_metadata=with_metadata) for m in page],
            "has_more": has_more,
            "response_metadata": {
                "next_cursor": _encode_cursor(items[start + limit]["ts"]) if has_more else ""
            },
        }

    def _api_conversations_info(self, params: dict[str, Any]) -> Json:
        channel_id = self._workspace.resolve_channel(params.get("channel"))
        if channel_id is None or not self._workspace.visible_to_bot(self._workspace.channels[channel_id]):
            return _err("channel_not_found")
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
        if _truthy(params.get("include_num_members")) and not channel["is_im"]:
            info["num_members"] = len(channel["members"])
        return {"ok": True, "channel": info}

    def _api_users_info(self, params: dict[str, Any]) -> Json:
        user = self._workspace.users.get(opt_str(params.get("user")) or "")
        if user is None:
            return _err("user_not_found")
        out = copy.deepcopy(user)
        out["profile"] = {
            "real_name": user["real_name"],
            "display_name": user["name"],
            "team": user["team_id"],
        }
        return {"ok": True, "user": out}

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
        mention_order: MentionOrder = "mention_first",
    ) -> str:
        """Post a message as a user; deliver ``message`` (and ``app_mention``) events; return its ts."""
        if mention_order not in MENTION_ORDERS:
            raise ValueError(f"unknown mention_order {mention_order!r}")
        with self._lock:
            message = self._workspace.post_user_message_locked(
                channel, user, text, thread_ts=thread_ts, files=files, subtype=subtype, blocks=blocks
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

    def user_edits(self, channel: str, ts: str, new_text: str) -> None:
        """Edit a user's message and deliver ``message_changed``."""
        with self._lock:
            message, previous, edit_ts = self._workspace.edit_user_message_locked(channel, ts, new_text)
            self._events_api.message_changed_locked(channel, message, previous, edit_ts)
        self._socket_mode.pump()

    def user_deletes(self, channel: str, ts: str) -> None:
        """Delete a message as its author and deliver ``message_deleted``."""
        with self._lock:
            old = self._workspace.remove_message_locked(channel, ts)
            self._events_api.message_deleted_locked(channel, old)
        self._socket_mode.pump()

    def post_as_other_bot(self, channel: str, text: str, thread_ts: str | None = None) -> str:
        """Post as a different app's bot (bot_id BOTHER, user UOTHERBOT); return the ts."""
        with self._lock:
            message = self._workspace.post_other_bot_message_locked(channel, text, thread_ts)
            self._events_api.message_posted_locked(channel, message)
            ts = message["ts"]
        self._socket_mode.pump()
        return ts

    def push_event(
        self, event: Json, *, event_id: str | None = None, retry_attempt: int = 0, retry_reason: str = ""
    ) -> str:
        """Wrap ``event`` in an events_api envelope and deliver it (or queue it); return the envelope_id."""
        with self._lock:
            envelope_id = self._socket_mode.push_locked(event, event_id, retry_attempt, retry_reason)
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
