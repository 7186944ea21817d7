"""Why a URL could not be reached, read from real failed connections."""

from __future__ import annotations

import socket

from slack_sdk import WebClient

from bot.ops.net import cause, unreachable


def _failure(url: str) -> BaseException:
    try:
        WebClient(token="xoxb-1", base_url=url, retry_handlers=[], timeout=5).auth_test()
    except Exception as exc:  # noqa: BLE001
        return exc
    raise AssertionError("the call succeeded")


def test_a_name_that_does_not_resolve() -> None:
    assert unreachable("Slack", "https://slack.invalid/api/", _failure("https://slack.invalid/api/")) == \
        "cannot reach Slack at https://slack.invalid/api/: name not resolved"


def test_a_closed_port() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    assert cause(_failure(f"http://127.0.0.1:{port}/api/")) == "connection refused"


def test_a_server_that_never_answers() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(1)
        try:
            WebClient(token="xoxb-1", base_url=f"http://127.0.0.1:{server.getsockname()[1]}/api/",
                      retry_handlers=[], timeout=0.3).auth_test()
        except Exception as exc:  # noqa: BLE001
            assert cause(exc) == "timed out"
        else:
            raise AssertionError("the call succeeded")
