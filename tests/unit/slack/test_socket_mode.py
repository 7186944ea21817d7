"""The Socket Mode override is tied to one slack_sdk version, and that version is the pinned one."""

from __future__ import annotations

from pathlib import Path

import pytest
import slack_sdk.version

from bot.errors import StartupError
from bot.slack.socket_mode import TESTED_SLACK_SDK, check_slack_sdk

ROOT = Path(__file__).resolve().parents[3]


def test_the_tested_version_is_the_pinned_and_installed_one() -> None:
    assert "slack-sdk==3.47.0" in (ROOT / "requirements.txt").read_text().splitlines()
    assert TESTED_SLACK_SDK == "3.47.0" == slack_sdk.version.__version__
    check_slack_sdk("3.47.0")  # no exception


@pytest.mark.parametrize("version", ["3.48.0", "3.46.0", "4.0.0", "3.47.0rc1"])
def test_any_other_version_stops_startup(version: str) -> None:
    with pytest.raises(StartupError, match=f"^slack_sdk {version} is installed, but .* tested with 3.47.0 only"):
        check_slack_sdk(version)
