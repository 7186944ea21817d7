"""The Socket Mode connection: which client, which ping settings, and a watchdog for dead connections.

Measured with `python -m tests.socket_drop_probe` against the fake Slack:

* slack_sdk's built-in client, after the TCP connection closes without a WebSocket close frame, spins a
  CPU core at 100% until its ping checks give up (about 40 s with Bolt's ping interval of 10 s);
* the websocket-client client (`slack_bolt.adapter.socket_mode.websocket_client`) notices the closed
  socket and reconnects in about 0.5 s, idle meanwhile; it also delivers events about 70 ms sooner.

Neither notices a connection that dies *silently* (no FIN, no RST: a network that drops packets): the
websocket-client client sends pings but never checks the pongs. `PongWatchdog` does: when no pong has
arrived for `DEAD_AFTER` seconds although pings were sent, it asks the client for a new connection.
With pings every `PING_INTERVAL` seconds that is a reconnect within about 10 s of the drop.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from slack_bolt import App

logger = logging.getLogger(__name__)

PING_INTERVAL = 4.0
DEAD_AFTER = 2.5 * PING_INTERVAL
CHECK_EVERY = 1.0


class PongWatchdog:
    """Reconnects the Socket Mode client when its current session stops answering pings."""

    def __init__(self, client: Any, *, dead_after: float = DEAD_AFTER, check_every: float = CHECK_EVERY) -> None:
        self._client = client
        self._dead_after = dead_after
        self._check_every = check_every
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="socket-watchdog", daemon=True)
        self.reconnects = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        session_seen: tuple[int, float] = (0, 0.0)  # (id of the current session, when first seen)
        while not self._stop.wait(self._check_every):
            session = getattr(self._client, "current_session", None)
            if session is None or getattr(session, "sock", None) is None:
                continue  # the client's own monitor reconnects closed sessions
            if session_seen[0] != id(session):
                session_seen = (id(session), time.time())
            last_ping = float(getattr(session, "last_ping_tm", 0.0))
            last_pong = float(getattr(session, "last_pong_tm", 0.0))
            if not last_ping or last_pong >= last_ping:
                continue
            # a live connection answers each ping at once; before its first pong, count from when it appeared
            silent_for = time.time() - (last_pong or session_seen[1])
            if silent_for < self._dead_after:
                continue
            logger.warning("Socket Mode connection stopped answering pings for %.0fs; reconnecting", silent_for)
            self.reconnects += 1
            try:
                self._client.connect_to_new_endpoint(force=True)
            except Exception:
                logger.warning("reconnecting failed; the client will retry", exc_info=True)


class SocketConnection:
    """Bolt's websocket-client SocketModeHandler plus the pong watchdog; `connect()` / `close()`."""

    def __init__(self, app: App, app_token: str, *, concurrency: int) -> None:
        from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler

        self.handler = SocketModeHandler(app, app_token, ping_interval=PING_INTERVAL, concurrency=concurrency)
        self.watchdog = PongWatchdog(self.handler.client)

    def connect(self) -> None:
        self.handler.connect()
        self.watchdog.start()

    def close(self) -> None:
        self.watchdog.stop()
        self.handler.close()
