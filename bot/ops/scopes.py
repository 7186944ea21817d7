"""What the Slack app must be granted: the bot's features and the scopes and events each needs, in one place.

`manifest.json` is what an operator pastes to create the app; `tests/unit/ops/test_scopes.py` keeps its bot
scopes and bot events equal to what `FEATURES` declares, and `python -m bot check` compares the scopes a token
was granted (Slack's `x-oauth-scopes` response header) with `needed_scopes()`.

An *optional* feature works without its scope: an app created from an older manifest keeps answering as
before, and the bot leaves that feature out when Slack refuses it (`check` names what adding the scope brings).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Feature:
    name: str
    scopes: tuple[str, ...]
    events: tuple[str, ...] = ()
    optional: bool = False  # the bot works without it (an app installed from an older manifest)


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
    Feature("the Messages tab of an agent: suggested prompts, thread titles (statuses and streams need only "
            "chat:write)", ("assistant:write",), ("app_home_opened",), optional=True),
)


def needed_scopes() -> dict[str, str]:
    """Every bot scope the required features need → the feature that needs it."""
    return {scope: feature.name for feature in FEATURES if not feature.optional for scope in feature.scopes}


def optional_scopes() -> dict[str, str]:
    """Scopes of the optional features → the feature each brings."""
    return {scope: feature.name for feature in FEATURES if feature.optional for scope in feature.scopes}


def manifest_scopes() -> list[str]:
    """Every scope the manifest asks for (required and optional)."""
    return [*needed_scopes(), *optional_scopes()]


def needed_events() -> list[str]:
    return [event for feature in FEATURES for event in feature.events]


def missing(granted: str | None) -> dict[str, str]:
    """The needed scopes not in `granted` (the comma-separated `x-oauth-scopes` header) → their features."""
    have = {scope.strip() for scope in (granted or "").split(",") if scope.strip()}
    return {scope: why for scope, why in needed_scopes().items() if scope not in have}
