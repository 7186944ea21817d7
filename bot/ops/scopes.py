"""What the Slack app must be granted: the bot's features and the scopes and events each needs, in one place.

`manifest.json` is what an operator pastes to create the app; `tests/unit/ops/test_scopes.py` keeps its bot
scopes and bot events equal to what `FEATURES` declares, and `python -m bot check` compares the scopes a token
was granted (Slack's `x-oauth-scopes` response header) with `needed_scopes()`.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    scopes: tuple[str, ...]
    events: tuple[str, ...] = ()


FEATURES: tuple[Feature, ...] = (
    Feature("answer @mentions in channels", ("app_mentions:read",), ("app_mention",)),
    Feature("post and edit answers", ("chat:write",)),
    Feature("read threads and follow-ups in public channels", ("channels:history",), ("message.channels",)),
    Feature("read threads and follow-ups in private channels", ("groups:history",), ("message.groups",)),
    Feature("answer direct messages", ("im:history",), ("message.im",)),
    Feature("answer in group DMs", ("mpim:history",), ("message.mpim",)),
    Feature("know what kind of conversation a message is in",
            ("channels:read", "groups:read", "im:read", "mpim:read")),
    Feature("tell Slack Connect guests apart (users.info)", ("users:read",)),
    Feature("read files people share with the bot", ("files:read",)),
)


def needed_scopes() -> dict[str, str]:
    """Every bot scope the features need → the feature that needs it."""
    return {scope: feature.name for feature in FEATURES for scope in feature.scopes}


def needed_events() -> list[str]:
    return [event for feature in FEATURES for event in feature.events]


def missing(granted: str | None) -> dict[str, str]:
    """The needed scopes not in `granted` (the comma-separated `x-oauth-scopes` header) → their features."""
    have = {scope.strip() for scope in (granted or "").split(",") if scope.strip()}
    return {scope: why for scope, why in needed_scopes().items() if scope not in have}
