"""The Web API's HTTP server: what happens to every call before and after its method runs.

A call to ``/api/<method>`` is parsed (``request.py``), then, in this order: a fault scripted with
``fail_next`` may delay it, reset its connection, or answer it with an error or a bare status; an unknown
method gets ``unknown_method``; a missing or wrong token gets ``invalid_auth``, a token of the wrong kind
(bot vs app-level) ``not_allowed_token_type``; a call over a rate limit gets HTTP 429 with
``Retry-After``; and only then does the method in ``WebApi.methods`` run. Every call is recorded as a
``Call``, including those that arrived inside an open Retry-After window (violations). Responses close
the connection. Events a method queued are pumped to Socket Mode after the response is written.

Methods run with the fake's one lock (``Workspace.lock``) held, so a call sees and leaves the workspace
consistent.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import struct
import sys
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

from ..events import Events
from ..faults import Faults, RateLimits
from ..socket_mode import SocketModeServer
from ..workspace import APP_TOKEN, BOT_TOKEN, Json, Workspace
from .assistant import Assistant
from .chat import Chat
from .conversations import Conversations
from .files import Files
from .identity import Identity
from .request import Method, bearer, err, parse_request_params
from .streams import Streams

APP_TOKEN_METHODS = frozenset({"apps.connections.open"})
"""Methods that take the app-level token (``xapp-``); every other method takes the bot token."""

BOT_SCOPES = (
    "app_mentions:read", "chat:write", "channels:history", "groups:history", "im:history", "mpim:history",
    "channels:read", "groups:read", "im:read", "mpim:read", "users:read", "files:read", "assistant:write",
)
"""The scopes the fake's bot token is granted by default (the app's manifest, installed as it is)."""
APP_SCOPES = ("connections:write",)
"""The scopes of the fake's app-level token by default."""

log = logging.getLogger(__name__)


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
    api: WebApi

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore clients that went away; log anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            return
        log.error("fake Slack API handler failed", exc_info=exc)


class _ApiHandler(BaseHTTPRequestHandler):
    """Routes every request to the WebApi."""

    server: _ApiServer
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        """Serve a POST."""
        self.server.api.serve(self)

    def do_GET(self) -> None:
        """Serve a GET."""
        self.server.api.serve(self)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""


def _reset_socket(handler: BaseHTTPRequestHandler) -> None:
    """Abort the HTTP connection with a TCP RST instead of a response."""
    handler.close_connection = True
    with contextlib.suppress(OSError):
        handler.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.connection.close()


def _write_http(handler: BaseHTTPRequestHandler, status: int, body: Json | None, extra: dict[str, str]) -> None:
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


class WebApi:
    """The Web API server: parsing, auth, limits, faults, the method table, and the record of calls."""

    def __init__(
        self,
        workspace: Workspace,
        events: Events,
        socket_mode: SocketModeServer,
        limits: RateLimits,
        faults: Faults,
    ) -> None:
        self._lock = workspace.lock
        self._cond = workspace.changed
        self._socket_mode = socket_mode
        self._limits = limits
        self._faults = faults
        self._stopping = threading.Event()
        self._http: _ApiServer | None = None
        self._http_thread: threading.Thread | None = None
        self.conversations = Conversations(workspace)
        self.files = Files(workspace, self._stopping)
        self.streams = Streams(workspace, events)
        self.assistant = Assistant(workspace, lambda: self.bot_scopes)
        chat = Chat(workspace, events)
        chat.streaming = self.streams.streaming
        workspace.reply_hooks.append(self.assistant.cleared_by_reply_locked)
        self.methods: dict[str, Method] = {
            **Identity(workspace, socket_mode).methods(),
            **chat.methods(),
            **self.streams.methods(),
            **self.assistant.methods(),
            **self.conversations.methods(),
            **self.files.methods(),
        }
        self.clear_locked()

    def clear_locked(self) -> None:
        """Forget every call, and restore the methods' settings."""
        self.calls: list[Call] = []
        self.bot_scopes: tuple[str, ...] = BOT_SCOPES
        self.app_scopes: tuple[str, ...] = APP_SCOPES
        self.rate_limited: list[Call] = []
        self.violations: list[Call] = []
        self.conversations.clear_locked()
        self.files.clear_locked()
        self.streams.clear_locked()
        self.assistant.clear_locked()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        self._stopping.clear()
        http_server = _ApiServer(("127.0.0.1", 0), _ApiHandler)
        http_server.api = self
        self._http = http_server
        self._http_thread = threading.Thread(
            target=http_server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-slack-api",
            daemon=True,
        )
        self._http_thread.start()

    def stop(self) -> None:
        """Wake calls sleeping in a scripted delay, and stop listening."""
        self._stopping.set()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
            self._http = None
        if self._http_thread is not None:
            self._http_thread.join(timeout=2.0)
        self._http_thread = None

    @property
    def url(self) -> str:
        """Base URL for ``WebClient(base_url=...)``, e.g. ``http://127.0.0.1:PORT/api/``."""
        return f"{self.root}/api/"

    @property
    def root(self) -> str:
        """The server's origin, e.g. ``http://127.0.0.1:PORT`` (files are served under it, as on files.slack.com)."""
        if self._http is None:
            raise RuntimeError("FakeSlack is not started")
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    # ------------------------------------------------------------------ one call

    def serve(self, handler: BaseHTTPRequestHandler) -> None:
        """Answer one HTTP request."""
        arrived = time.monotonic()
        split = urlsplit(handler.path)
        if split.path.startswith("/files-pri/") and handler.command == "GET":
            self.files.serve_download(handler, split.path)
            return
        if not split.path.startswith("/api/"):
            _write_http(handler, 404, None, {})
            return
        method = split.path[len("/api/") :]
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length > 0 else b""
        headers = dict(handler.headers.items())
        parse_error: str | None = None
        try:
            params, param_token = parse_request_params(split.query, handler.headers.get("Content-Type", ""), raw)
        except ValueError:
            params, param_token, parse_error = {}, None, "invalid_json"
        token = bearer(handler.headers.get("Authorization")) or param_token

        channel = params.get("channel")
        fault = self._faults.take(method, channel if isinstance(channel, str) else None, time.time())
        if fault is not None and fault.after_processing:
            self._serve_then_lose_response(handler, method, params, token, arrived, headers, fault)
            return
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
                body = err(error) if error else None
                if status == 429:
                    retry_after = fault.retry_after or 1
                    extra["Retry-After"] = str(retry_after)
                    window = ("post", fault.channel) if fault.channel and method == "chat.postMessage" \
                        else ("method", method)  # a channel's post budget, or the method's for the workspace
                    self._limits.open_window_locked(window, arrived, retry_after)
            elif parse_error is not None:
                status, body = 200, err(parse_error)
            else:
                status, body, extra = self._process_call_locked(method, params, token, arrived)
            self._record_locked(Call(method, params, token, status, body or {}, arrived, headers), violation)
        _write_http(handler, status, body, extra)
        self._socket_mode.pump()

    def _serve_then_lose_response(self, handler: BaseHTTPRequestHandler, method: str, params: dict[str, Any],
                                  token: str | None, arrived: float, headers: dict[str, str], fault: Any) -> None:
        """Process the call as Slack would, then lose its response: the connection is reset at once, or after
        ``fault.delay`` seconds of silence (the client's timeout fires first)."""
        with self._lock:
            violation = self._limits.in_retry_window_locked(method, params, arrived)
            status, body, _extra = self._process_call_locked(method, params, token, arrived)
            self._record_locked(Call(method, params, token, status, body or {}, arrived, headers), violation)
        self._socket_mode.pump()
        if fault.delay > 0:
            self._stopping.wait(fault.delay)
        _reset_socket(handler)

    def _record_locked(self, call: Call, violation: bool) -> None:
        self.calls.append(call)
        if call.status == 429:
            self.rate_limited.append(call)
        if violation:
            self.violations.append(call)
        self._cond.notify_all()

    def _process_call_locked(
        self, method: str, params: dict[str, Any], token: str | None, now: float
    ) -> tuple[int, Json, dict[str, str]]:
        handler = self.methods.get(method)
        if handler is None:
            return 200, {"ok": False, "error": "unknown_method", "req_method": method}, {}
        if token not in (BOT_TOKEN, APP_TOKEN):
            return 200, err("invalid_auth"), {}
        if token != (APP_TOKEN if method in APP_TOKEN_METHODS else BOT_TOKEN):
            return 200, err("not_allowed_token_type"), {}
        # Slack names the token's scopes on every response to an authenticated call
        granted = self.app_scopes if token == APP_TOKEN else self.bot_scopes
        scopes = {"x-oauth-scopes": ",".join(granted)}
        needed = "connections:write" if method in APP_TOKEN_METHODS else None
        if needed and needed not in granted:
            return 200, {**err("missing_scope"), "needed": needed, "provided": ",".join(granted)}, scopes
        retry_after = self._limits.check_locked(method, params, now)
        if retry_after is not None:
            return 429, err("ratelimited"), {"Retry-After": str(retry_after), **scopes}
        return 200, handler(params), scopes
