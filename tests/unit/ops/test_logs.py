"""Log records as text or JSON lines; the libraries' chatter held back below DEBUG."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from bot.ops.logs import configure_logging


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_json_lines_carry_the_fields_of_a_record() -> None:
    out = io.StringIO()
    configure_logging("INFO", "json", out)
    line = {"trigger": "mention", "outcome": "complete", "cost_usd": 0.0123, "t_final": None}
    logging.getLogger("bot.responder").info("answer %s", json.dumps(line), extra={"fields": line, "event": "answer"})
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("bot").exception("it failed: %d", 3)
    first, second = (json.loads(text) for text in out.getvalue().splitlines())
    assert first["message"] == "answer" and first["level"] == "INFO" and first["logger"] == "bot.responder"
    assert {k: first[k] for k in line} == line
    assert second["message"] == "it failed: 3" and "ValueError: boom" in second["exc_info"]


def test_text_is_the_default_and_library_chatter_is_held_back() -> None:
    out = io.StringIO()
    configure_logging("INFO", stream=out)
    bolt = logging.getLogger("slack_bolt.App")
    bolt.setLevel(logging.INFO)  # as Bolt does (to the root logger's level)
    bolt.warning("As you gave `client` as well, `token` will be unused.")
    bolt.info("A new session has been established")
    logging.getLogger("slack_sdk.web.base_client").error("Failed to send a request to Slack API server")
    logging.getLogger("slack_sdk.socket_mode").info("A new session has been established")
    logging.getLogger("slack_sdk.socket_mode").error("the connection failed for good")
    logging.getLogger("bot").info("connected")
    lines = out.getvalue().splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == ["ERROR slack_sdk.socket_mode: the connection failed for good",
                                                          "INFO bot: connected"]


def test_debug_shows_everything() -> None:
    out = io.StringIO()
    configure_logging("DEBUG", stream=out)
    logging.getLogger("slack_sdk.web.base_client").debug("request body")
    assert "request body" in out.getvalue()
