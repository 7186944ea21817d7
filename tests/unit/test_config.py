"""Settings.from_env: defaults, validation, and README/.env.example kept in step with VARIABLES."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import DEFAULT_MODEL_ID, VARIABLES, Settings
from bot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
GOOD = {"SLACK_BOT_TOKEN": "xoxb-1", "SLACK_APP_TOKEN": "xapp-1"}


def test_defaults() -> None:
    s = Settings.from_env(GOOD)
    assert s.bedrock_model_id == DEFAULT_MODEL_ID
    assert s.max_continuations == 5
    assert s.update_interval_seconds == 1.0
    assert s.log_level == "INFO"
    assert s.slack_api_url == "https://slack.com/api/"
    assert s.bedrock_temperature is None and s.bedrock_top_p is None
    assert s.max_concurrent_answers >= 32
    assert (s.image_max_edge, s.file_download_max_mb, s.file_download_timeout_seconds) == (1568, 40, 30.0)


def test_the_manifest_asks_for_files_read() -> None:
    import json

    scopes = json.loads((ROOT / "manifest.json").read_text())["oauth_config"]["scopes"]["bot"]
    assert "files:read" in scopes
    assert "`files:read`" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize(("env", "name", "fragment"), [
    ({}, "SLACK_BOT_TOKEN", "is missing: expected a Slack bot token starting with xoxb-"),
    ({"SLACK_BOT_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN", "is missing"),
    ({**GOOD, "SLACK_BOT_TOKEN": "xoxp-1"}, "SLACK_BOT_TOKEN", "is invalid"),
    ({**GOOD, "SLACK_APP_TOKEN": "xoxb-1"}, "SLACK_APP_TOKEN", "starting with xapp-"),
    ({**GOOD, "MAX_CONTINUATIONS": "-1"}, "MAX_CONTINUATIONS", "whole number between 0 and 50"),
    ({**GOOD, "MAX_CONTINUATIONS": "two"}, "MAX_CONTINUATIONS", "whole number"),
    ({**GOOD, "UPDATE_INTERVAL_SECONDS": "0"}, "UPDATE_INTERVAL_SECONDS", "above 0"),
    ({**GOOD, "BEDROCK_TEMPERATURE": "1.5"}, "BEDROCK_TEMPERATURE", "at most 1"),
    ({**GOOD, "LOG_LEVEL": "LOUD"}, "LOG_LEVEL", "one of DEBUG"),
    ({**GOOD, "SLACK_API_URL": "localhost:1"}, "SLACK_API_URL", "http(s) URL"),
    ({**GOOD, "ALLOWED_CHANNEL_IDS": "C1,#general"}, "ALLOWED_CHANNEL_IDS", "comma-separated"),
    ({**GOOD, "ALLOW_EXTERNAL_USERS": "maybe"}, "ALLOW_EXTERNAL_USERS", "true or false"),
    ({**GOOD, "IMAGE_MAX_EDGE": "100"}, "IMAGE_MAX_EDGE", "whole number between 200 and 8000"),
    ({**GOOD, "IMAGE_MAX_EDGE": "9000"}, "IMAGE_MAX_EDGE", "whole number between 200 and 8000"),
    ({**GOOD, "FILE_DOWNLOAD_MAX_MB": "0"}, "FILE_DOWNLOAD_MAX_MB", "whole number between 1 and 1000"),
    ({**GOOD, "FILE_DOWNLOAD_TIMEOUT_SECONDS": "soon"}, "FILE_DOWNLOAD_TIMEOUT_SECONDS", "a number at least 1"),
])
def test_bad_values_name_the_variable(env: dict[str, str], name: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.name == name
    assert str(caught.value).startswith(name)
    assert fragment in str(caught.value)


def test_values_are_parsed_and_blank_means_default() -> None:
    s = Settings.from_env({**GOOD, "BEDROCK_TOP_P": "0.9", "MAX_CONTINUATIONS": " ", "LOG_LEVEL": "debug",
                           "SLACK_API_URL": "http://127.0.0.1:9/api", "ALLOWED_USER_IDS": "U1, U2"})
    assert s.bedrock_top_p == 0.9
    assert s.max_continuations == 5
    assert s.log_level == "DEBUG"
    assert s.slack_api_url == "http://127.0.0.1:9/api/"
    assert s.allowed_user_ids == frozenset({"U1", "U2"})


def test_every_variable_is_documented_in_readme_and_env_example() -> None:
    readme = (ROOT / "README.md").read_text()
    example = (ROOT / ".env.example").read_text()
    for var in VARIABLES:
        assert f"`{var.name}`" in readme, var.name
        assert f"{var.name}=" in example, var.name


def test_env_example_holds_no_real_values() -> None:
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.startswith(("SLACK_BOT_TOKEN=", "SLACK_APP_TOKEN=")):
            assert line.split("=", 1)[1] in ("", "xoxb-...", "xapp-...")


@pytest.mark.parametrize(("env", "name", "fragment"), [
    ({**GOOD, "LOG_FORMAT": "xml"}, "LOG_FORMAT", "one of text, json"),
    ({**GOOD, "METRICS_PORT": "0"}, "METRICS_PORT", "between 1 and 65535"),
    ({**GOOD, "METRICS_PORT": "http"}, "METRICS_PORT", "whole number"),
    ({**GOOD, "BEDROCK_GUARDRAIL_ID": "gr-1"}, "BEDROCK_GUARDRAIL_VERSION", "is missing"),
    ({**GOOD, "BEDROCK_GUARDRAIL_VERSION": "1"}, "BEDROCK_GUARDRAIL_ID", "is missing"),
    ({**GOOD, "BEDROCK_GUARDRAIL_ID": "gr-1", "BEDROCK_GUARDRAIL_VERSION": "1",
      "BEDROCK_GUARDRAIL_STREAM_MODE": "later"}, "BEDROCK_GUARDRAIL_STREAM_MODE", "one of sync, async"),
])
def test_operating_settings_are_validated(env: dict[str, str], name: str, fragment: str) -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert caught.value.name == name
    assert fragment in str(caught.value)


def test_operating_settings_default_to_off() -> None:
    s = Settings.from_env(GOOD)
    assert (s.log_format, s.metrics_port, s.metrics_host, s.bedrock_prices) == ("text", None, "127.0.0.1", None)
    assert (s.bedrock_guardrail_id, s.bedrock_guardrail_stream_mode) == ("", "sync")


def test_slack_tokens_may_be_optional_for_the_terminal_mode() -> None:
    s = Settings.from_env({}, optional=frozenset({"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}))
    assert s.slack_bot_token == "" and s.slack_app_token == ""
    with pytest.raises(ConfigError):
        Settings.from_env({"SLACK_APP_TOKEN": "xoxb-wrong"}, optional=frozenset({"SLACK_BOT_TOKEN", "SLACK_APP_TOKEN"}))


def test_the_dataclass_defaults_equal_the_variables_defaults() -> None:
    """Defaults are written twice (VARIABLES for the environment, the dataclass for tests that build Settings
    directly): they must agree."""
    assert Settings.from_env(GOOD) == Settings(slack_bot_token="xoxb-1", slack_app_token="xapp-1")
