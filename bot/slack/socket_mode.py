"""The Socket Mode connection: which client, which ping settings, and why.

Measured with `python -m tests.socket_drop_probe` against the fake Slack:

* slack_sdk's built-in client, after the TCP connection closes without a WebSocket close frame, spins a
  CPU core at 100% until its ping checks give up (about 40 s with Bolt's ping interval of 10 s);
* slack_sdk's websocket-client client notices the closed socket and reconnects in about 0.5 s, idle
  meanwhile; it also delivers events about 70 ms sooner. So the bot uses that one.

slack_sdk runs it without websocket-client's `ping_timeout`, which costs two things, both fixed here by
running each session with `ping_timeout=PONG_TIMEOUT` (`_Client._run_current_session`):

* pongs are never checked, so a connection that dies *silently* (no FIN, no RST: a network that drops
  packets) is never noticed. With a ping timeout, websocket-client ends a session whose pong is more than
  PONG_TIMEOUT late, and slack_sdk reconnects.
* one thread runs the sessions one after another, and a session's read loop only looks at whether it was
  closed when its socket has data or its select times out (`ping_timeout`, else 10 s). When a refresh
  (`disconnect` frame) replaces the session from another thread, the old loop could hold that thread for
  the full 10 s before the new session even started: measured 8 times in 150 refreshes on a loaded
  machine. With the ping timeout it is released within PONG_TIMEOUT (2 s; slowest of 150 refreshes 3.0 s).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.websocket_client import SocketModeClient

from bot.errors import StartupError

logger = logging.getLogger(__name__)
_CLOSED = logging.getLogger(f"{__name__}.closed")
_CLOSED.disabled = True

# `_Client._run_current_session` replaces a private method of slack_sdk's client and reads its internals
# (`current_session`, the proxy settings). Neither slack_sdk (up to 3.48.0) nor websocket-client offers a
# public way to run the session with a pong timeout, so the override stays, and the bot refuses to start on
# any other slack_sdk than the one it was tested with (`check_slack_sdk`, called first thing by the composition
# root) rather than silently losing the pong timeout.
TESTED_SLACK_SDK = "3.47.0"

# websocket-client checks the pong when its read loop wakes (data, or every PONG_TIMEOUT), and only until the
# next ping resets the clock: the window from PONG_TIMEOUT to PING_INTERVAL after a ping must be at least
# PONG_TIMEOUT long, or a dead connection can slip through several windows (measured: 14.5 s with 4 s / 3 s).
# With 5 s / 2 s a dead connection is noticed at most 5 + 2 + 2 = 9 s after it died.
PING_INTERVAL = 5.0
PONG_TIMEOUT = 2.0


def check_slack_sdk(version: str) -> None:
    """Raise StartupError unless `version` is the slack_sdk the override above was written and tested for."""
    if version != TESTED_SLACK_SDK:
        raise StartupError(f"slack_sdk {version} is installed, but this bot's Socket Mode client was tested with "
                           f"{TESTED_SLACK_SDK} only: install the pinned versions (pip install -r requirements.txt)")


class _Client(SocketModeClient):
    """slack_sdk's websocket-client Socket Mode client, running each session with a pong timeout."""

    def __init__(self, *, ping_interval: float, pong_timeout: float, **kwargs: Any) -> None:
        if not 0 < 2 * pong_timeout <= ping_interval:
            raise ValueError("the pong timeout must be positive and at most half the ping interval")
        self.pong_timeout = pong_timeout
        self._running: Any = None  # the session the session thread runs or ran last
        super().__init__(ping_interval=ping_interval, **kwargs)

    def connect_to_new_endpoint(self, force: bool = False) -> None:
        """slack_sdk asks for a new URL (`apps.connections.open`) whenever it sees no live socket: when a
        refresh replaces the session, the old session's close and the monitor asked again for the new
        session that had not started yet (2.2 URLs per refresh measured, on a Tier 1 method). A session
        that waits for the session thread is on its way; only a forced reconnect replaces it."""
        current = self.current_session
        if not force and current is not None and current is not self._running:
            return
        super().connect_to_new_endpoint(force)

    def _run_current_session(self) -> None:
        """Called over and over by slack_sdk's session thread (slack-sdk 3.47); runs the current session
        until it ends. Differs from slack_sdk's own by passing `ping_timeout` (and noting the session)."""
        session = self.current_session
        if session is None:
            return
        self._running = session
        try:
            session.run_forever(ping_interval=self.ping_interval, ping_timeout=self.pong_timeout,
                                http_proxy_host=self.http_proxy_host, http_proxy_port=self.http_proxy_port,
                                http_proxy_auth=self.http_proxy_auth, proxy_type=self.proxy_type)
        except Exception:
            logger.warning("Socket Mode session ended with an error; reconnecting", exc_info=True)
            session.close()  # the client's monitor then connects a new session


class SocketConnection:
    """The bot's Socket Mode connection: `connect()` / `close()`; each envelope goes to Bolt."""

    def __init__(self, app: App, app_token: str, *, concurrency: int, ping_interval: float = PING_INTERVAL,
                 pong_timeout: float = PONG_TIMEOUT) -> None:
        """`ping_interval` and `pong_timeout` are only changed by tests, which shrink them to see a dead
        connection replaced within a second."""
        self._app = app
        self.client = _Client(app_token=app_token, logger=app.logger, web_client=app.client,
                              ping_interval=ping_interval, concurrency=concurrency, pong_timeout=pong_timeout)
        self.client.socket_mode_request_listeners.append(self._handle)

    def _handle(self, client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        """Bolt dispatches the envelope; its response goes back on the socket as the envelope's ack."""
        start = time.time()
        send_response(client, request, run_bolt_app(self._app, request), start)

    def connect(self) -> None:
        self.client.connect()

    def close(self) -> None:
        # Closing from another thread, websocket-client may report the socket its read loop lost as an error
        # ("'NoneType' object has no attribute 'sock'"), which slack_sdk logs at ERROR on every shutdown: a client
        # being closed has nothing left to report.
        self.client.logger = _CLOSED
        self.client.close()
