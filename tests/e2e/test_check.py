"""`python -m bot check` as a process against the fakes: a healthy setup, and each failure with its fix."""

from __future__ import annotations

import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.state import keys
from bot.state.sqlite import SqliteStore
from tests.conftest import AWS_ENV, MODEL, bot_env, fresh_state_url, process_env
from tests.fakes.bedrock import Error, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

CHECKS = 10


@pytest.fixture
def ready(slack: FakeSlack, bedrock: FakeBedrock) -> Iterator[None]:
    slack.reset()
    bedrock.reset()
    bedrock.set_default_model()
    bedrock.set_fallback(lambda request: Stream(["OK"]))
    yield


def check(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path, **overrides: str) -> subprocess.CompletedProcess[str]:
    env = {**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url, **overrides}
    env = {k: v for k, v in env.items() if v != "<unset>"}
    return subprocess.run([sys.executable, "-m", "bot", "check"], env=process_env(**env), cwd=tmp_path,
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)


def failures(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stdout.splitlines() if line.startswith("✗")]


pytestmark = pytest.mark.usefixtures("ready")


def test_a_healthy_setup_passes_every_check(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> None:
    result = check(slack, bedrock, tmp_path)
    lines = result.stdout.splitlines()
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line[0] for line in lines[:CHECKS]] == ["✓"] * CHECKS
    assert lines[CHECKS] == f"all {CHECKS} checks passed"
    assert "found in environment variables" in result.stdout
    assert "us-east-1 (from AWS_REGION)" in result.stdout
    assert "prefill yes" in result.stdout and "cache points yes" in result.stdout
    assert "(not connected)" in result.stdout
    assert slack.open_connections == 0  # apps.connections.open was asked, the socket never opened
    assert len(slack.calls_for("apps.connections.open")) == 1
    assert [c.inference_config.get("maxTokens") for c in bedrock.calls] == [1, 1, 1]
    assert {c.operation for c in bedrock.calls} == {"Converse"}
    assert result.stderr == ""


def test_what_the_model_rejects_is_learned_once_into_the_state_store(slack: FakeSlack, bedrock: FakeBedrock,
                                                                     tmp_path: Path) -> None:
    bedrock.set_default_model(accepts_prefill=False, supports_cache=False)
    url = fresh_state_url()
    result = check(slack, bedrock, tmp_path, STATE_URL=url)
    assert result.returncode == 0, result.stdout
    assert "prefill no (continues long answers with a user turn); cache points no (no prompt caching)" in result.stdout
    store = SqliteStore(url.removeprefix("sqlite:///"))
    try:
        assert store.get(keys.capability(MODEL, "prefill")) == "rejected"
        assert store.get(keys.capability(MODEL, "cache")) == "rejected"
    finally:
        store.close()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _no_files_read(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    slack.bot_scopes = tuple(s for s in slack.bot_scopes if s != "files:read")
    return {}


def _app_token_without_connections_write(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    slack.app_scopes = ()
    return {}


def _access_denied(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    bedrock.enqueue(Error(403, "AccessDeniedException",
                          "You don't have access to the model with the specified model ID."))
    return {}


def _unknown_model(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    bedrock.unset_default_model()
    bedrock.add_model(MODEL)  # only the default model id exists: another one is unknown, as in a wrong Region
    return {"BEDROCK_MODEL_ID": "us.anthropic.claude-sonet-4-6"}


def _throttled(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    bedrock.enqueue(Error(429, "ThrottlingException", "Too many requests, please wait before trying again."))
    return {}


def _unknown_guardrail(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    bedrock.add_guardrail("gr-real", "1")
    return {"BEDROCK_GUARDRAIL_ID": "gr-typo", "BEDROCK_GUARDRAIL_VERSION": "1"}


def _no_credentials(slack: FakeSlack, bedrock: FakeBedrock) -> dict[str, str]:
    return {"AWS_ACCESS_KEY_ID": "<unset>", "AWS_SECRET_ACCESS_KEY": "<unset>", "AWS_EC2_METADATA_DISABLED": "true"}


FAILURES: list[tuple[str, Callable[[FakeSlack, FakeBedrock], dict[str, str]], list[str]]] = [
    ("wrong app token", lambda s, b: {"SLACK_APP_TOKEN": "xapp-1-A0-wrong"},
     ["✗ Slack app token and Socket Mode (apps.connections.open): refused (invalid_auth): set SLACK_APP_TOKEN to an "
      "app-level token (xapp-…) of this app"]),
    ("app token without connections:write", _app_token_without_connections_write,
     ["✗ Slack app token and Socket Mode (apps.connections.open): refused (missing_scope): give the app-level token "
      "the connections:write scope"]),
    ("a bot token given as the app token", lambda s, b: {"SLACK_APP_TOKEN": "xapp-x", "SLACK_BOT_TOKEN": "xoxb-x"},
     ["✗ Slack bot token (auth.test): refused (invalid_auth): set SLACK_BOT_TOKEN to the Bot User OAuth Token",
      "✗ Slack scopes: not checked: needs a bot token Slack accepts",
      "✗ Slack app token and Socket Mode (apps.connections.open): refused (invalid_auth)"]),
    ("missing files:read", _no_files_read,
     ["✗ Slack scopes: missing files:read (read files people share with the bot): add them under OAuth & "
      "Permissions → Bot Token Scopes"]),
    ("AccessDenied on the model", _access_denied,
     ["✗ Bedrock model us.anthropic.claude-sonnet-4-6: access denied (AccessDeniedException: You don't have access "
      "to the model with the specified model ID.): allow bedrock:InvokeModel",
      "✗ model features: not checked: needs a model that answers"]),
    ("unknown model or wrong Region", _unknown_model,
     ["✗ Bedrock model us.anthropic.claude-sonet-4-6: unknown model id or wrong Region (ValidationException: The "
      "provided model identifier is invalid.): check BEDROCK_MODEL_ID and AWS_REGION",
      "✗ model features: not checked"]),
    ("throttled", _throttled,
     ["✗ Bedrock model us.anthropic.claude-sonnet-4-6: throttled (ThrottlingException: Too many requests, please "
      "wait before trying again.): the model is reachable and allowed but over its quota right now",
      "✗ model features: not checked"]),
    ("unknown guardrail", _unknown_guardrail,
     ["✗ Bedrock guardrail: gr-typo version 1: The guardrail identifier or version provided in the request does not "
      "exist. Check BEDROCK_GUARDRAIL_ID and BEDROCK_GUARDRAIL_VERSION"]),
    ("no AWS credentials", _no_credentials,
     ["✗ AWS credentials: none found: give the process a role", "✗ Bedrock model us.anthropic.claude-sonnet-4-6: ",
      "✗ model features: not checked"]),
    ("state store in a missing directory", lambda s, b: {"STATE_URL": "sqlite:////nonexistent-dir/state.db"},
     ["✗ state store (STATE_URL): state file /nonexistent-dir/state.db"]),
    ("Slack unreachable", lambda s, b: {"SLACK_API_URL": "https://slack.invalid/api/"},
     ["✗ Slack bot token (auth.test): cannot reach Slack at https://slack.invalid/api/: name not resolved",
      "✗ Slack scopes: not checked",
      "✗ Slack app token and Socket Mode (apps.connections.open): cannot reach Slack at https://slack.invalid/api/: "
      "name not resolved"]),
]


@pytest.mark.parametrize(("setup", "expected"), [(f[1], f[2]) for f in FAILURES], ids=[f[0] for f in FAILURES])
def test_each_failure_is_one_line_with_its_fix(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path,
                                               setup: Callable[[FakeSlack, FakeBedrock], dict[str, str]],
                                               expected: list[str]) -> None:
    result = check(slack, bedrock, tmp_path, **setup(slack, bedrock))
    assert result.returncode == 1, result.stdout + result.stderr
    got = failures(result)
    assert len(got) == len(expected), result.stdout
    for line, start in zip(got, expected, strict=True):
        assert line.startswith(start), (line, start)
    assert result.stdout.splitlines()[-1] == f"{CHECKS - len(expected)} of {CHECKS} checks passed"
    assert len(result.stdout.splitlines()) == CHECKS + 1


def test_placeholders_from_env_example_are_named(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> None:
    result = check(slack, bedrock, tmp_path, SLACK_BOT_TOKEN="xoxb-...", SLACK_APP_TOKEN="xapp-...")
    assert result.returncode == 1
    first = failures(result)[0]
    assert first.startswith("✗ configuration: SLACK_BOT_TOKEN still holds the placeholder of .env.example (xoxb-...)")
    assert "SLACK_APP_TOKEN still holds the placeholder of .env.example (xapp-...)" in first


def test_a_closed_port_is_named(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/api/"
    result = check(slack, bedrock, tmp_path, SLACK_API_URL=url)
    assert f"cannot reach Slack at {url}: connection refused" in failures(result)[0]


def test_a_known_guardrail_passes(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.add_guardrail("gr-real", "3")
    result = check(slack, bedrock, tmp_path, BEDROCK_GUARDRAIL_ID="gr-real", BEDROCK_GUARDRAIL_VERSION="3")
    assert result.returncode == 0, result.stdout
    assert "✓ Bedrock guardrail: gr-real version 3 exists and is applied (sync stream mode)" in result.stdout
    guarded = [c.body["guardrailConfig"] for c in bedrock.calls if "guardrailConfig" in c.body]
    assert guarded == [{"guardrailIdentifier": "gr-real", "guardrailVersion": "3"}]


def test_a_configuration_error_is_one_line_and_exit_2(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path) -> None:
    result = check(slack, bedrock, tmp_path, MAX_CONTINUATIONS="many")
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip() == ("config error: MAX_CONTINUATIONS is invalid: expected a whole number "
                                     "between 0 and 50")


def test_a_running_bots_sqlite_file_counts_as_reachable(slack: FakeSlack, bedrock: FakeBedrock, tmp_path: Path,
                                                        spawn: Any) -> None:
    url = fresh_state_url()
    spawn({**bot_env(slack, STATE_URL=url), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url})
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
    result = check(slack, bedrock, tmp_path, STATE_URL=url)
    assert result.returncode == 0, result.stdout
    assert "is in use by another bot process" in result.stdout
