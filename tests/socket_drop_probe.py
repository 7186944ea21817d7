"""Measure how each Socket Mode client recovers from a dropped connection (not a test; prints figures).

    python -m tests.socket_drop_probe

For each client (slack_sdk's built-in one and the websocket-client one, both through slack_bolt's
SocketModeHandler, ping_interval as configured below) a child process connects to the fake Slack; the
fake then (a) closes the TCP connection without a WebSocket close frame, (b) resets it (RST), and
(c) goes silent (stops answering pings, like a connection that died in the network). It prints the time
until the client is connected again and the child's CPU seconds meanwhile.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil

from bot.slack.socket_mode import PING_INTERVAL
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack

ROOT = Path(__file__).resolve().parents[1]
CHILD = f"""
import sys, threading
from slack_bolt import App
from slack_sdk import WebClient
kind, url, ping = sys.argv[1], sys.argv[2], float(sys.argv[3])
app = App(client=WebClient(token="{BOT_TOKEN}", base_url=url), token_verification_enabled=False)
if kind == "builtin":
    from slack_bolt.adapter.socket_mode.builtin import SocketModeHandler
    handler = SocketModeHandler(app, "{APP_TOKEN}", ping_interval=ping)
elif kind == "websocket_client":
    from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
    handler = SocketModeHandler(app, "{APP_TOKEN}", ping_interval=ping)
else:  # what the bot uses
    from bot.slack.socket_mode import SocketConnection
    handler = SocketConnection(app, "{APP_TOKEN}", concurrency=4)
handler.connect()
threading.Event().wait()
"""


def probe(slack: FakeSlack, kind: str, fault: str, ping: float, limit: float = 90.0) -> tuple[float | None, float]:
    slack.reset()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen([sys.executable, "-c", CHILD, kind, slack.api_url, str(ping)], env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
        opened = slack.connections_opened
        proc = psutil.Process(child.pid)
        cpu0 = sum(proc.cpu_times()[:2])
        start = time.monotonic()
        if fault == "silent":
            slack.block_pongs = True
        else:
            slack.drop_connections(abrupt=True, rst=fault == "rst")
        try:
            slack.wait_for(lambda s: s.connections_opened > opened, timeout=limit)
            took: float | None = time.monotonic() - start
        except AssertionError:
            took = None
        slack.block_pongs = False
        return took, sum(proc.cpu_times()[:2]) - cpu0
    finally:
        child.kill()
        child.wait()


def main() -> None:
    slack = FakeSlack().start()
    try:
        for kind, ping in (("builtin", 10.0), ("websocket_client", 10.0), ("bot", PING_INTERVAL)):
            for fault in ("close-without-frame", "rst", "silent"):
                took, cpu = probe(slack, kind, fault, ping)
                shown = f"{took:5.1f} s" if took is not None else "  >90 s"
                print(f"{kind:17} ping {ping:4.1f}s  {fault:20} reconnected after {shown}  child CPU {cpu:5.2f} s")
    finally:
        slack.stop()


if __name__ == "__main__":
    main()
