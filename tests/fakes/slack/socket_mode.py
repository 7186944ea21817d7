"""Socket Mode: the WebSocket server an app connects to instead of receiving HTTP requests.

``apps.connections.open`` hands out ``ws://127.0.0.1:PORT/link?ticket=...`` (``ticket_url_locked``); a
connection with a known ticket is greeted with ``hello`` and from then on receives ``events_api``
envelopes, each to be acknowledged with ``{"envelope_id": ...}``. Envelopes wait in an outbox until a
connection is ready and are written oldest first, each to one connection picked round-robin among the
ready ones. When a connection ends, the envelopes it was sent but never acknowledged are sent again as
retries (same ``event_id``, new ``envelope_id``, ``retry_attempt`` + 1), ahead of newer ones.

Tests can make a connection misbehave the ways a real one does: ``send_disconnect`` (Slack's
``refresh_requested`` and friends, then a close after a grace period), ``drop_connections`` (the TCP
connection dies, with or without a close handshake), and ``block_pongs`` (pings go unanswered: a half-open
connection). Pings from clients are counted.

Everything here is guarded by the lock the whole fake shares (``Workspace.lock``). Frames are written
outside it, one writer at a time (``pump``), so nothing that holds the lock ever blocks on a socket.
"""

from __future__ import annotations

import contextlib
import copy
import itertools
import json
import logging
import random
import socket
import struct
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.frames import Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol
from websockets.sync.server import Server, ServerConnection, serve

from .workspace import APP_ID, BOT_USER_ID, TEAM_ID, Json, Workspace, opt_str

MAX_CONNECTIONS = 10  # Socket Mode connections one app may hold; the 11th gets too_many_websockets


@dataclass
class _Outgoing:
    """A text frame waiting for a Socket Mode connection (``envelope_id`` None for raw frames)."""

    text: str
    envelope_id: str | None


@dataclass(eq=False)
class Link:
    """One Socket Mode connection."""

    id: int
    ws: ServerConnection
    opened_at: float
    ready: bool = False
    draining: bool = False
    finished: bool = False
    sent: list[str] = field(default_factory=list)


class _SocketModeConnection(ServerConnection):
    """A ServerConnection that counts pings and can withhold pongs for its SocketModeServer."""

    owner: SocketModeServer

    def __init__(self, sock: socket.socket, protocol: ServerProtocol, server: Server, **kwargs: Any) -> None:
        owner = self.owner
        original_send_frame = protocol.send_frame

        def send_frame(frame: Frame) -> None:
            # The sans-I/O protocol answers pings itself by calling send_frame(PONG); skipping that call
            # is the only way to stop pongs while keeping the connection otherwise alive.
            if frame.opcode is Opcode.PONG and owner.block_pongs:
                owner._note_withheld_pong()
                return
            original_send_frame(frame)

        protocol.send_frame = send_frame  # type: ignore[method-assign]
        super().__init__(sock, protocol, server, **kwargs)

    def process_event(self, event: Any) -> None:
        """Count client pings, then process normally."""
        if isinstance(event, Frame) and event.opcode is Opcode.PING:
            self.owner._note_ping()
        super().process_event(event)


class SocketModeServer:
    """The Socket Mode WebSocket server: connections, envelopes, delivery, acks and redelivery."""

    def __init__(
        self, workspace: Workspace, *, server_ping_interval: float | None = None, close_timeout: float = 1.0
    ) -> None:
        """Create a stopped server.

        ``server_ping_interval`` makes the server ping clients (None: the server only answers pings).
        """
        self._workspace = workspace
        self._lock = workspace.lock
        self._cond = workspace.changed
        self.server_ping_interval = server_ping_interval
        self.close_timeout = close_timeout
        self.single_use_tickets = False
        # seconds before an unacknowledged envelope is sent again: one delay for every retry, or one per retry
        self.unacked_retry_after: float | tuple[float, ...] | None = None
        self.max_retries = 3  # Slack retries an event at most three times
        self.random = random.Random()  # which live connection gets an envelope (seed it for a fixed order)

        self._send_lock = threading.Lock()
        self._event_ids = itertools.count(1)
        self._link_ids = itertools.count(1)
        self.links: list[Link] = []
        self._tickets: set[str] = set()
        self._used_tickets: set[str] = set()
        self._timers: list[threading.Timer] = []
        self._ws: Server | None = None
        self._ws_thread: threading.Thread | None = None
        self.clear_locked()

    def clear_locked(self) -> None:
        """Forget events, envelopes, acks and counters; open connections stay (with nothing unacked)."""
        self.events: list[Json] = []
        self.interactions: list[Json] = []
        self.envelopes: dict[str, Json] = {}
        self.delivered: list[str] = []
        self.delivery_times: dict[str, tuple[float, int]] = {}  # envelope id -> (when sent, connection id)
        self.enqueue_times: dict[str, float] = {}
        self.acks: list[str] = []
        self.ack_messages: list[Json] = []
        self.client_messages: list[str] = []
        self._unacked: dict[str, int] = {}
        self.outbox: deque[_Outgoing] = deque()
        self.connections_opened = 0
        self.refused_connections = 0
        self.unacked_retry_after = None
        self.connection_times: list[float] = []
        self.disconnection_times: list[float] = []
        self.pings_received = 0
        self.pongs_withheld = 0
        self.block_pongs = False
        self.redeliver_unacked_on_reconnect = True
        for link in self.links:
            link.sent.clear()

    # ------------------------------------------------------------------ lifecycle

    def start(self) -> None:
        """Listen on an ephemeral port of 127.0.0.1."""
        connection_class = type("_BoundSocketModeConnection", (_SocketModeConnection,), {"owner": self})
        self._ws = serve(
            self._ws_handler,
            "127.0.0.1",
            0,
            process_request=self._ws_process_request,
            compression=None,
            ping_interval=self.server_ping_interval,
            ping_timeout=self.server_ping_interval,
            close_timeout=self.close_timeout,
            create_connection=connection_class,
            logger=logging.getLogger(__name__),
        )
        self._ws_thread = threading.Thread(target=self._ws.serve_forever, name="fake-slack-ws", daemon=True)
        self._ws_thread.start()

    def stop(self) -> None:
        """Stop listening and kill open connections without waiting for clients."""
        with self._lock:
            timers, self._timers = self._timers, []
            links = list(self.links)
        for timer in timers:
            timer.cancel()
        if self._ws is not None:
            for link in links:
                self._kill_socket(link.ws, rst=False)
            self._ws.shutdown()
            self._ws = None
        if self._ws_thread is not None:
            self._ws_thread.join(timeout=2.0)
        self._ws_thread = None

    @property
    def url(self) -> str:
        """Socket Mode base URL without a ticket, e.g. ``ws://127.0.0.1:PORT/link``."""
        if self._ws is None:
            raise RuntimeError("FakeSlack is not started")
        return f"ws://127.0.0.1:{self._ws.socket.getsockname()[1]}/link"

    def ticket_url_locked(self) -> str:
        """A new ticket and the URL to connect with it (what ``apps.connections.open`` returns)."""
        ticket = str(uuid.uuid4())
        self._tickets.add(ticket)
        return f"{self.url}?ticket={ticket}"

    def open_count_locked(self) -> int:
        """Connections currently open."""
        return sum(1 for link in self.links if not link.finished)

    # ------------------------------------------------------------------ envelopes

    def _envelope_locked(
        self,
        event: Json,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        payload: Json | None = None,
    ) -> Json:
        channel = self._workspace.channels.get(opt_str(event.get("channel")) or "")
        envelope = {
            "type": "events_api",
            "envelope_id": str(uuid.uuid4()),
            "payload": {
                "token": "verif",
                "team_id": TEAM_ID,
                "context_team_id": TEAM_ID,
                "api_app_id": APP_ID,
                "event": event,
                "type": "event_callback",
                "event_id": event_id or f"Ev{next(self._event_ids):010d}",
                "event_time": int(time.time()),
                "authorizations": [
                    {
                        "team_id": TEAM_ID,
                        "user_id": BOT_USER_ID,
                        "is_bot": True,
                        "is_enterprise_install": False,
                    }
                ],
                "is_ext_shared_channel": bool(channel and channel["is_ext_shared"]),
                "event_context": "4-fake",
                **copy.deepcopy(payload or {}),
            },
            "accepts_response_payload": False,
            "retry_attempt": retry_attempt,
            "retry_reason": retry_reason,
        }
        self.envelopes[envelope["envelope_id"]] = envelope
        return envelope

    def _enqueue_envelope_locked(self, envelope: Json, *, front: bool = False) -> None:
        item = _Outgoing(json.dumps(envelope), envelope["envelope_id"])
        self.enqueue_times[envelope["envelope_id"]] = time.monotonic()
        if front:
            self.outbox.appendleft(item)
        else:
            self.outbox.append(item)
        self._cond.notify_all()

    def _retry_of_locked(self, envelope_id: str) -> Json:
        original = self.envelopes[envelope_id]
        return self._envelope_locked(
            copy.deepcopy(original["payload"]["event"]),
            original["payload"]["event_id"],
            int(original.get("retry_attempt") or 0) + 1,
            "timeout",
            {k: v for k, v in original["payload"].items() if k not in ("event", "event_id", "event_time")},
        )

    def push_locked(
        self,
        event: Json,
        event_id: str | None = None,
        retry_attempt: int = 0,
        retry_reason: str = "",
        payload: Json | None = None,
    ) -> str:
        """Wrap ``event`` in an events_api envelope and queue it; return the envelope_id. Call ``pump`` next.

        ``payload`` replaces fields of the envelope's payload (``team_id``, ``authorizations``…)."""
        envelope = self._envelope_locked(copy.deepcopy(event), event_id, retry_attempt, retry_reason, payload)
        self.events.append(copy.deepcopy(envelope["payload"]["event"]))
        self._enqueue_envelope_locked(envelope)
        return envelope["envelope_id"]

    def _retry_later_locked(self, envelope_id: str) -> None:
        """With `unacked_retry_after`: if the envelope is still unacknowledged then, send it again (a retry, up to
        `max_retries` times), as Slack does with an event nobody acknowledged."""
        schedule = self.unacked_retry_after
        attempt = int(self.envelopes[envelope_id].get("retry_attempt") or 0)
        if schedule is None or attempt >= self.max_retries:
            return
        delay = schedule if isinstance(schedule, int | float) else schedule[min(attempt, len(schedule) - 1)]

        def check() -> None:
            with self._lock:
                if self._unacked.pop(envelope_id, None) is None:
                    return
                self._enqueue_envelope_locked(self._retry_of_locked(envelope_id))
            self.pump()

        timer = threading.Timer(delay, check)
        timer.daemon = True
        self._timers = [t for t in self._timers if t.is_alive()]
        self._timers.append(timer)
        timer.start()

    def push_interactive_locked(self, payload: Json) -> str:
        """Queue an ``interactive`` envelope (a button click: ``block_actions``); return its envelope_id. Call
        ``pump`` next. Acks are recorded like any other; interactive envelopes are not sent again."""
        envelope = {"type": "interactive", "envelope_id": str(uuid.uuid4()), "payload": copy.deepcopy(payload),
                    "accepts_response_payload": False}
        self.interactions.append(copy.deepcopy(envelope))
        self.outbox.append(_Outgoing(json.dumps(envelope), None))
        self._cond.notify_all()
        return str(envelope["envelope_id"])

    def push_raw_locked(self, text: str) -> None:
        """Queue a frame to send as is. Call ``pump`` next."""
        self.outbox.append(_Outgoing(text, None))

    def redeliver_locked(self, envelope_id: str) -> str:
        """Queue a retry of an envelope (same event_id, new envelope_id); return its id. Call ``pump`` next."""
        retry = self._retry_of_locked(envelope_id)
        self._enqueue_envelope_locked(retry)
        return retry["envelope_id"]

    # ------------------------------------------------------------------ connections and delivery

    def _ws_process_request(self, connection: ServerConnection, request: Request) -> Response | None:
        split = urlsplit(request.path)
        if split.path != "/link":
            return connection.respond(404, "Not Found\n")
        ticket = parse_qs(split.query).get("ticket", [""])[0]
        with self._lock:
            if ticket not in self._tickets or (self.single_use_tickets and ticket in self._used_tickets):
                return connection.respond(401, "invalid or expired ticket\n")
            self._used_tickets.add(ticket)
        return None

    def _ws_handler(self, ws: ServerConnection) -> None:
        link = Link(next(self._link_ids), ws, time.monotonic())
        with self._lock:
            too_many = self.open_count_locked() >= MAX_CONNECTIONS
        if too_many:  # Slack's limit per app: the newcomer is told why and closed
            with contextlib.suppress(ConnectionClosed, OSError):
                ws.send(json.dumps({"type": "disconnect", "reason": "too_many_websockets",
                                    "debug_info": {"host": "fake"}}))
                ws.close()
            with self._lock:
                self.refused_connections += 1
                self._cond.notify_all()
            return
        with self._lock:
            self.links.append(link)
            open_now = self.open_count_locked()
        hello = {
            "type": "hello",
            "num_connections": open_now,
            "debug_info": {"host": "fake", "build_number": 1, "approximate_connection_time": 18060},
            "connection_info": {"app_id": APP_ID},
        }
        try:
            ws.send(json.dumps(hello))
            with self._lock:
                link.ready = True
                self.connections_opened += 1
                self.connection_times.append(time.monotonic())
                self._cond.notify_all()
            self.pump()
            for frame in ws:
                self._on_client_frame(frame)
        except ConnectionClosed:
            pass
        finally:
            self._finish_link(link)

    def _finish_link(self, link: Link) -> None:
        with self._lock:
            link.ready = False
            link.finished = True
            if link in self.links:
                self.links.remove(link)
            self.disconnection_times.append(time.monotonic())
            retries: list[Json] = []
            for envelope_id in link.sent:
                if self._unacked.pop(envelope_id, None) is not None and self.redeliver_unacked_on_reconnect:
                    retries.append(self._retry_of_locked(envelope_id))
            for retry in reversed(retries):
                self._enqueue_envelope_locked(retry, front=True)
            self._cond.notify_all()
        self.pump()

    def _on_client_frame(self, frame: str | bytes) -> None:
        text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
        try:
            message = json.loads(text)
        except ValueError:
            message = None
        with self._lock:
            if isinstance(message, dict) and isinstance(message.get("envelope_id"), str):
                envelope_id = message["envelope_id"]
                self.acks.append(envelope_id)
                self.ack_messages.append(message)
                self._unacked.pop(envelope_id, None)
            else:
                self.client_messages.append(text)
            self._cond.notify_all()

    def _pick_link_locked(self) -> Link | None:
        candidates = [
            link
            for link in self.links
            if link.ready and not link.draining and not link.finished and link.ws.protocol.state is State.OPEN
        ]
        if not candidates:
            return None
        return self.random.choice(candidates)  # Slack sends each envelope to one live connection, not sticky

    def pump(self) -> None:
        """Write queued frames to ready connections, oldest first. Call it without holding the lock."""
        with self._send_lock:
            while True:
                with self._lock:
                    if not self.outbox:
                        return
                    link = self._pick_link_locked()
                    if link is None:
                        return
                    item = self.outbox.popleft()
                try:
                    link.ws.send(item.text)
                except (ConnectionClosed, OSError):
                    with self._lock:
                        link.ready = False
                        self.outbox.appendleft(item)
                    continue
                with self._lock:
                    if item.envelope_id is not None:
                        self.delivered.append(item.envelope_id)
                        self.delivery_times[item.envelope_id] = (time.monotonic(), link.id)
                        if not link.finished:
                            link.sent.append(item.envelope_id)
                            self._unacked[item.envelope_id] = link.id
                            self._retry_later_locked(item.envelope_id)
                        elif self.redeliver_unacked_on_reconnect and item.envelope_id not in self.acks:
                            self._enqueue_envelope_locked(self._retry_of_locked(item.envelope_id), front=True)
                    self._cond.notify_all()

    def _note_ping(self) -> None:
        with self._lock:
            self.pings_received += 1
            self._cond.notify_all()

    def _note_withheld_pong(self) -> None:
        with self._lock:
            self.pongs_withheld += 1
            self._cond.notify_all()

    # ------------------------------------------------------------------ connection control

    def _open_links(self) -> list[Link]:
        with self._lock:
            return [link for link in self.links if not link.finished]

    def send_disconnect(self, reason: str = "refresh_requested", *, grace: float = 0.5) -> int:
        """Send ``disconnect`` to every connection, stop using them, close them after ``grace`` seconds.

        Returns the number of connections told to disconnect.
        """
        message = json.dumps({"type": "disconnect", "reason": reason, "debug_info": {"host": "fake"}})
        links = self._open_links()
        with self._lock:
            for link in links:
                link.draining = True
        with self._send_lock:
            for link in links:
                with contextlib.suppress(ConnectionClosed, OSError):
                    link.ws.send(message)
        for link in links:
            timer = threading.Timer(grace, self._close_link, args=(link,))
            timer.daemon = True
            with self._lock:
                self._timers = [t for t in self._timers if t.is_alive()]
                self._timers.append(timer)
            timer.start()
        return len(links)

    def _close_link(self, link: Link) -> None:
        with contextlib.suppress(Exception):
            link.ws.close(1001, "going away")

    def drop_connections(self, abrupt: bool = True, *, rst: bool = False) -> int:
        """Kill every connection; return how many.

        ``abrupt=True`` closes the TCP connection without a WebSocket close frame (FIN, or RST with
        ``rst=True``); ``abrupt=False`` performs a normal close handshake (in the background).
        """
        links = self._open_links()
        with self._lock:
            for link in links:
                link.ready = False
        for link in links:
            if abrupt:
                self._kill_socket(link.ws, rst=rst)
            else:
                threading.Thread(target=self._close_link, args=(link,), daemon=True).start()
        return len(links)

    @staticmethod
    def _kill_socket(ws: ServerConnection, *, rst: bool) -> None:
        with contextlib.suppress(OSError):
            if rst:
                ws.socket.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                ws.socket.shutdown(socket.SHUT_RDWR)
        ws.close_socket()
