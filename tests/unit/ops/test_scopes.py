"""The scopes and events the features need are the manifest's, and `missing` reads Slack's header."""

from __future__ import annotations

import json
from pathlib import Path

from bot.ops import scopes

MANIFEST = json.loads((Path(__file__).resolve().parents[3] / "manifest.json").read_text())


def test_the_manifest_grants_exactly_what_the_features_need() -> None:
    assert sorted(MANIFEST["oauth_config"]["scopes"]["bot"]) == sorted(scopes.manifest_scopes())
    assert sorted(MANIFEST["settings"]["event_subscriptions"]["bot_events"]) == sorted(scopes.needed_events())


def test_missing_reads_the_comma_separated_header() -> None:
    granted = ",".join(s for s in scopes.needed_scopes() if s != "files:read")
    assert list(scopes.missing(granted)) == ["files:read"]
    assert scopes.missing(" , ".join(scopes.needed_scopes())) == {}
    assert set(scopes.missing(None)) == set(scopes.needed_scopes())
