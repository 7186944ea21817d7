"""A small HTTP server for platforms and Prometheus: `/healthz`, `/readyz`, `/metrics` (off by default).

`METRICS_PORT` turns it on, on `METRICS_HOST` (127.0.0.1 unless told otherwise). Answers:

* `/healthz` — 200 `ok` while the process does its job: the Socket Mode connection is up and the Slack
  writer's scheduler thread and the lease keeper's thread are alive; else 503 with the reason (also while
  starting and while shutting down). A platform restarts a process that stays unhealthy.
* `/readyz` — like `/healthz`, and the state store answers (`Store.ping`).
* `/metrics` — Prometheus text format (`bot.ops.metrics`).

`Health` asks the running parts through small callables, so it knows nothing of how they are built.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST

from bot.errors import StartupError

logger = logging.getLogger(__name__)

Probe = Callable[[], str | None]  # None when fine, else the reason it is not


class Health:
    """What `/healthz` and `/readyz` report. Until `attach` it says "starting"; after `stopping()`, "shutting
    down"."""

    def __init__(self) -> None:
        self._live: list[Probe] = []
        self._ready: list[Probe] = []
        self._state = "starting"

    def attach(self, live: list[Probe], ready: list[Probe]) -> None:
        self._live, self._ready = list(live), list(ready)
        self._state = "running"

    def stopping(self) -> None:
        self._state = "shutting down"

    def live(self) -> str | None:
        return self._state if self._state != "running" else _first(self._live)

    def ready(self) -> str | None:
        return self.live() or _first(self._ready)


def _first(probes: list[Probe]) -> str | None:
    for probe in probes:
        try:
            problem = probe()
        except Exception as exc:  # noqa: BLE001 - a probe that fails is a reason, not a crash
            problem = f"{type(exc).__name__}: {exc}"
        if problem:
            return problem
    return None


def bot_probes(bot: Any) -> tuple[list[Probe], list[Probe]]:
    """(liveness, readiness) probes of a running `bot.app.Bot`."""

    def socket() -> str | None:
        handler = bot.handler
        connected = handler is not None and bool(handler.client.is_connected())
        return None if connected else "the Socket Mode connection is down"

    def writer() -> str | None:
        return None if bot.writer.alive else "the Slack writer's scheduler thread is not running"

    def leases() -> str | None:
        return None if bot.leases.alive else "the lease keeper's thread is not running"

    def store() -> str | None:
        bot.store.ping()
        return None

    return [socket, writer, leases], [store]


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    routes: dict[str, Callable[[], tuple[int, str, bytes]]]


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        route = self.server.routes.get(self.path.split("?", 1)[0])
        status, content_type, body = route() if route else (404, "text/plain", b"not found\n")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        """Probes every few seconds would flood the log; nothing is logged per request."""


class OpsServer:
    """Serves `health` and `render_metrics()` on host:port in a daemon thread. `close()` stops it."""

    def __init__(self, host: str, port: int, health: Health, render_metrics: Callable[[], bytes]) -> None:
        def probe(check: Callable[[], str | None]) -> Callable[[], tuple[int, str, bytes]]:
            def route() -> tuple[int, str, bytes]:
                problem = check()
                return (503, "text/plain; charset=utf-8", f"{problem}\n".encode()) if problem \
                    else (200, "text/plain; charset=utf-8", b"ok\n")
            return route

        try:
            self._server = _Server((host, port), _Handler)
        except OSError as exc:
            raise StartupError(f"METRICS_PORT: cannot listen on {host}:{port} ({exc.strerror or exc})") from None
        self._server.routes = {"/healthz": probe(health.live), "/readyz": probe(health.ready),
                               "/metrics": lambda: (200, CONTENT_TYPE_LATEST, render_metrics())}
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, name="ops-http", daemon=True)

    def start(self) -> OpsServer:
        self._thread.start()
        logger.info("health and metrics on http://%s:%d/ (healthz, readyz, metrics)",
                    self._server.server_address[0], self.port)
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
