"""Shared fixtures: the two fakes (one per test module) and a way to start the real bot against them."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.fakes.bedrock import FakeBedrock
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack
from tests.redis_server import RedisServer

MODEL = "us.anthropic.claude-sonnet-4-6"
AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE",
    "AWS_SECRET_ACCESS_KEY": "fake-aws-secret-do-not-log",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    """A real Redis server (Debian's redis-server) for the whole test session."""
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def slack() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def bedrock() -> Iterator[FakeBedrock]:
    fake = FakeBedrock().start()
    yield fake
    fake.stop()


@pytest.fixture(scope="module")
def aws_env(bedrock: FakeBedrock) -> Iterator[dict[str, str]]:
    """boto3 reaches the fake through the standard AWS_ENDPOINT_URL_BEDROCK_RUNTIME variable."""
    env = {**AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url}
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    yield env
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def process_env(**env: str) -> dict[str, str]:
    """The environment for a `python -m bot` child: this process's, minus any Slack/Bedrock/AWS settings a
    developer may have exported, plus the project on PYTHONPATH and `env`."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "BEDROCK_", "AWS_"))}
    return {**clean, "PYTHONPATH": ROOT, **env}


def fresh_state_url() -> str:
    """A journal of its own for one bot: a SQLite file in a new temporary directory (never the repository's)."""
    return f"sqlite:///{tempfile.mkdtemp(prefix='bot-state-')}/state.db"


def bot_env(slack: FakeSlack, **overrides: str) -> dict[str, str]:
    env = {"SLACK_BOT_TOKEN": BOT_TOKEN, "SLACK_APP_TOKEN": APP_TOKEN, "SLACK_API_URL": slack.api_url,
           "STATE_URL": fresh_state_url(),
           "BEDROCK_MODEL_ID": MODEL, "UPDATE_INTERVAL_SECONDS": "0.2", "BEDROCK_READ_TIMEOUT_SECONDS": "2",
           "AWS_REGION": AWS_ENV["AWS_REGION"], "SLACK_POSTS_PER_SECOND_PER_CHANNEL": "50", "SLACK_POST_BURST": "50",
           # functional tests should not depend on how much budget earlier tests of the module used;
           # tests of the budgets (test_load.py, the benchmark) set Slack's real numbers explicitly
           "SLACK_EDITS_PER_MINUTE": "6000", "SLACK_EDIT_BURST": "100", "SLACK_STREAMS_PER_MINUTE": "6000",
           "SLACK_STREAM_BURST": "100", "SLACK_APPENDS_PER_MINUTE": "6000", "SLACK_APPEND_BURST": "100",
           # the edit route unless a test chooses a mode (the default, auto, depends on the stream budget)
           "STREAMING_MODE": "edit"}
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def start_bot(slack: FakeSlack, bedrock: FakeBedrock, aws_env: dict[str, str]) -> Iterator[Callable[..., Any]]:
    """start_bot(**env_overrides) -> a connected Bot (closed at the end of the module); `socket=` replaces
    the Socket Mode connection's factory (app, settings) -> connection."""
    from bot.app import create_bot
    from bot.config import Settings

    bots: list[Any] = []

    def start(*, socket: Callable[..., Any] | None = None, **overrides: str) -> Any:
        settings = Settings.from_env(bot_env(slack, **overrides))
        bot = create_bot(settings, sleep=lambda seconds: None, writer_backoff=lambda n: 0.01)
        bot.connect(socket)
        bots.append(bot)
        slack.wait_for(lambda s: s.open_connections >= 1, timeout=5)
        return bot

    yield start
    for bot in bots:
        bot.close(grace=1.0)


@pytest.fixture(scope="module")
def bot(start_bot: Callable[..., Any]) -> Any:
    """The bot most tests share (one per module)."""
    return start_bot()


@pytest.fixture
def fresh(slack: FakeSlack, bedrock: FakeBedrock) -> None:
    """Reset the fakes' recordings and scripts between tests (servers and the bot's connection stay)."""
    slack.reset()
    bedrock.reset()
    bedrock.set_default_model()


@pytest.fixture
def spawn(tmp_path: Any) -> Iterator[Callable[[dict[str, str]], subprocess.Popen[str]]]:
    """spawn(env) -> a `python -m bot` child process, killed at the end. What it prints goes to a file (so a
    chatty child never blocks on a full pipe): read it with `output(proc)`."""
    procs: list[subprocess.Popen[str]] = []

    def start(env: dict[str, str]) -> subprocess.Popen[str]:
        log = open(tmp_path / f"bot-{len(procs)}.log", "w")  # noqa: SIM115 - closed with the process below
        proc = subprocess.Popen([sys.executable, "-m", "bot"], env=process_env(**env), cwd=tmp_path,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, text=True)
        LOGS[proc.pid] = (log, tmp_path / f"bot-{len(procs)}.log")
        procs.append(proc)
        return proc

    yield start
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        LOGS.pop(proc.pid)[0].close()


LOGS: dict[int, tuple[Any, Any]] = {}


def output(proc: subprocess.Popen[str]) -> str:
    """Everything a spawned bot printed so far."""
    handle, path = LOGS[proc.pid]
    handle.flush()
    return str(path.read_text())
