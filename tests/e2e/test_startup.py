"""`python -m bot` startup: bad configuration is one clear line and exit status 2, never a traceback."""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import AWS_ENV, bot_env, output, process_env
from tests.fakes.slack import FakeSlack


def run_bot(env: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot"], env=process_env(**env), cwd=tmp_path, capture_output=True,
                          text=True, timeout=30, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize(("drop", "override", "expected"), [
    ("SLACK_BOT_TOKEN", {}, "config error: SLACK_BOT_TOKEN is missing: expected a Slack bot token starting with xoxb-"),
    ("SLACK_APP_TOKEN", {}, "config error: SLACK_APP_TOKEN is missing"),
    (None, {"MAX_CONTINUATIONS": "lots"}, "config error: MAX_CONTINUATIONS is invalid: expected a whole number"),
    (None, {"SLACK_APP_TOKEN": "xoxb-wrong-kind"}, "config error: SLACK_APP_TOKEN is invalid"),
])
def test_bad_config_is_one_line_and_exit_2(slack: FakeSlack, tmp_path: Path, drop: str | None,
                                           override: dict[str, str], expected: str) -> None:
    env = {**bot_env(slack), **AWS_ENV, **override}
    if drop:
        env.pop(drop)
    result = run_bot(env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith(expected)
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_env_file_is_read_and_the_environment_wins(slack: FakeSlack, tmp_path: Path) -> None:
    """.env gives the bot token (the environment has none) and a valid MAX_CONTINUATIONS; the environment's
    invalid MAX_CONTINUATIONS must win. (Had .env not been read, the token would be missing; had .env won,
    startup would go on.)"""
    (tmp_path / ".env").write_text("SLACK_BOT_TOKEN=xoxb-from-dotenv\nMAX_CONTINUATIONS=3\n")
    env = {**bot_env(slack), **AWS_ENV, "MAX_CONTINUATIONS": "oops"}
    env.pop("SLACK_BOT_TOKEN")
    result = run_bot(env, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().startswith("config error: MAX_CONTINUATIONS is invalid")


def test_invalid_bot_token_says_which_token(slack: FakeSlack, tmp_path: Path) -> None:
    result = run_bot({**bot_env(slack), **AWS_ENV, "SLACK_BOT_TOKEN": "xoxb-revoked"}, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("startup error: SLACK_BOT_TOKEN was rejected by Slack (invalid_auth): "
                                     "use the Bot User OAuth Token (xoxb-…) of the installed app")


def test_invalid_app_token_says_which_token(slack: FakeSlack, tmp_path: Path) -> None:
    result = run_bot({**bot_env(slack), **AWS_ENV, "SLACK_APP_TOKEN": "xapp-revoked"}, tmp_path)
    assert result.returncode == 2
    assert "startup error: SLACK_APP_TOKEN was rejected by Slack (invalid_auth)" in result.stderr
    assert "Traceback" not in result.stderr


def test_an_untested_slack_sdk_is_refused_in_one_line(slack: FakeSlack, tmp_path: Path) -> None:
    """The Socket Mode client overrides a private method of slack_sdk: another version must not start silently
    without its pong timeout. A sitecustomize module makes the child see slack_sdk 3.99.0."""
    patch = tmp_path / "patch"
    patch.mkdir()
    (patch / "sitecustomize.py").write_text("import slack_sdk.version\nslack_sdk.version.__version__ = '3.99.0'\n")
    env = {**bot_env(slack), **AWS_ENV}
    result = subprocess.run([sys.executable, "-m", "bot"], cwd=tmp_path, capture_output=True, text=True, timeout=30,
                            stdin=subprocess.DEVNULL,
                            env={**process_env(**env), "PYTHONPATH": f"{patch}:{process_env()['PYTHONPATH']}"})
    assert result.returncode == 2
    assert result.stderr.strip() == ("startup error: slack_sdk 3.99.0 is installed, but this bot's Socket Mode client "
                                     "was tested with 3.47.0 only: install the pinned versions "
                                     "(pip install -r requirements.txt)")


def test_an_unreachable_slack_names_the_url_and_the_cause_in_one_line(tmp_path: Path) -> None:
    env = {**AWS_ENV, "SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1", "STATE_URL": "memory://",
           "SLACK_API_URL": "https://slack.invalid/api/"}
    result = run_bot(env, tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("startup error: cannot reach Slack at https://slack.invalid/api/: name not resolved "
                             "(SLACK_API_URL)\n")  # and nothing of slack_sdk's own


def test_env_example_placeholders_stop_startup_in_one_line(slack: FakeSlack, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text((Path(__file__).resolve().parents[2] / ".env.example").read_text())
    env = {**AWS_ENV, "SLACK_API_URL": slack.api_url, "STATE_URL": "memory://"}
    result = run_bot(env, tmp_path)
    assert result.returncode == 2
    assert result.stderr == ("config error: SLACK_BOT_TOKEN still holds the placeholder of .env.example (xoxb-...): "
                             "replace it with the real value (README, Setting up Slack)\n")


def test_the_libraries_chatter_stays_off_the_console_at_info(spawn: Any, slack: FakeSlack) -> None:
    proc = spawn({**bot_env(slack), **AWS_ENV, "LOG_LEVEL": "INFO"})
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    slack.send_disconnect()  # a refresh: slack_sdk and bolt narrate the reconnect at INFO
    slack.wait_for(lambda s: s.connections_opened >= 2, timeout=20)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0
    printed = output(proc)
    assert "connected as UBOT" in printed
    assert "As you gave `client` as well" not in printed
    assert " slack_bolt" not in printed and " slack_sdk" not in printed, printed
