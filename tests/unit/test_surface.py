"""Thread titles from a first question, and who may use the agent surface (pure parts of bot.surface)."""

from __future__ import annotations

from typing import Any

import pytest

from bot.config import Settings
from bot.surface import Clicker, Surface, title_of


@pytest.mark.parametrize(("question", "title"), [
    ("How do I rotate keys?", "How do I rotate keys?"),
    ("<@UBOT> how   do I\nrotate <https://aws.amazon.com|AWS> keys &amp; secrets?",
     "how do I rotate AWS keys & secrets?"),
    ("word " * 30, "word word word word word word word word word word word…"),
    ("<@UBOT>", "New conversation"),
])
def test_title_of(question: str, title: str) -> None:
    assert title_of(question) == title
    assert len(title_of(question)) <= 60


def surface(**settings: Any) -> Surface:
    return Surface(Settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1", **settings), None, None)  # type: ignore[arg-type]


@pytest.mark.parametrize(("settings", "who", "allowed"), [
    ({}, Clicker("T1", "U1", "T1", "C1"), True),
    ({"allowed_user_ids": frozenset({"U2"})}, Clicker("T1", "U1", "T1", "C1"), False),
    ({"allowed_channel_ids": frozenset({"C2"})}, Clicker("T1", "U1", "T1", "C1"), False),
    ({"allowed_channel_ids": frozenset({"C2"})}, Clicker("T1", "U1", "T1", "D1"), True),  # DMs: the user list
    ({}, Clicker("T1", "U9", "T9", "C1"), False),  # another organisation
    ({"allow_external_users": True}, Clicker("T1", "U9", "T9", "C1"), True),
])
def test_may_use(settings: dict[str, Any], who: Clicker, allowed: bool) -> None:
    assert surface(**settings).may_use(who) is allowed
