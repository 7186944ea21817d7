"""The Socket Mode connection end to end: dead connections are noticed, refreshes don't stall."""

from __future__ import annotations

from typing import Any

import pytest

from bot.slack.socket_mode import SocketConnection
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")

PING, PONG = 1.0, 0.4  # the production values (5 s, 2 s) behave the same, only slower


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(socket=lambda app, settings: SocketConnection(
        app, settings.slack_app_token, concurrency=4, ping_interval=PING, pong_timeout=PONG))


def test_sessions_run_with_a_pong_timeout(bot: Any, slack: FakeSlack) -> None:
    slack.wait_for(lambda s: s.pings_received >= 1, timeout=5)
    assert bot.handler.client.current_session.ping_timeout == PONG  # slack_sdk's runner called our session loop


def test_a_silently_dead_connection_is_replaced_and_the_bot_keeps_answering(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.wait_for(lambda s: s.open_connections >= 1)
    opened = slack.connections_opened
    slack.block_pongs = True  # the connection stays open but nothing comes back: a network that drops packets
    try:
        slack.wait_for(lambda s: s.connections_opened > opened and s.open_connections >= 1, timeout=10)
    finally:
        slack.block_pongs = False
    assert slack.pongs_withheld >= 1
    bedrock.enqueue(Stream(["still here"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> are you there?")
    assert final_state(slack, "C1", ts)[0]["text"] == "still here"


def test_repeated_refreshes_each_reconnect_and_nothing_is_lost(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    for _ in range(5):
        opened = slack.connections_opened
        slack.send_disconnect("refresh_requested", grace=0.0)
        slack.wait_for(lambda s, n=opened: s.connections_opened > n and s.open_connections >= 1, timeout=10)
    bedrock.enqueue(Stream(["after five refreshes"]))
    ts = slack.user_says("C1", "U1", "<@UBOT> hello again")
    assert final_state(slack, "C1", ts)[0]["text"] == "after five refreshes"


def test_a_refresh_costs_one_new_url(bot: Any, slack: FakeSlack) -> None:
    """Slack warns (`disconnect`) before it closes; apps.connections.open is a Tier 1 method."""
    for refresh in range(1, 4):
        opened = slack.connections_opened
        slack.send_disconnect("refresh_requested", grace=2.0)
        slack.wait_for(lambda s, n=opened: s.connections_opened > n and s.open_connections >= 1, timeout=10)
        slack.wait_for(lambda s, n=refresh: s.open_connections == 1 and len(s.disconnection_times) >= n, timeout=10)
        assert len(slack.calls_for("apps.connections.open")) == refresh
