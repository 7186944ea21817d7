"""Logs hold no secrets: a full conversation with faults, at INFO, in a separate process; its output searched."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import AWS_ENV, bot_env, process_env
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Stream
from tests.fakes.slack import APP_TOKEN, BOT_TOKEN, FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_logs_hold_no_tokens_secrets_or_message_text(slack: FakeSlack, bedrock: FakeBedrock,
                                                     tmp_path: Path, log_format: str) -> None:
    """A full conversation with faults at LOG_LEVEL=INFO; everything the process printed is searched. In JSON,
    every line is one JSON object and the per-answer records carry their fields as keys."""
    secret_question = "my-private-question-text-4242"
    secret_answer = "the-models-private-answer-1717"
    bedrock.enqueue(Stream([secret_answer, " part one"], fail_after=1, exception="throttlingException"))
    bedrock.enqueue(Stream([" part one and more"]))
    bedrock.enqueue(Stream([f"{secret_answer} again"]))
    slack.fail_next("chat.update", 1, status=500)
    env = process_env(**{**bot_env(slack), **AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url,
                         "LOG_LEVEL": "INFO", "LOG_FORMAT": log_format})
    proc = subprocess.Popen([sys.executable, "-m", "bot"], env=env, cwd=tmp_path, stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        slack.wait_for(lambda s: s.open_connections >= 1, timeout=20)
        root = slack.user_says("C1", "U1", f"<@UBOT> {secret_question}")
        final_state(slack, "C1", root)
        follow = slack.user_says("C1", "U1", f"{secret_question} follow-up", thread_ts=root)
        final_state(slack, "C1", root, reply_to=follow)
        slack.fail_next("chat.postMessage", 1, error="not_in_channel")
        slack.user_says("C1", "U1", f"<@UBOT> {secret_question} refused")
        slack.wait_for(lambda s: any(c.error == "not_in_channel" for c in s.calls))
    finally:
        proc.send_signal(signal.SIGTERM)
        output, _ = proc.communicate(timeout=30)
    assert proc.returncode == 0
    if log_format == "text":
        assert "answer {" in output  # the structured line per answer is there
    else:
        records = [json.loads(line) for line in output.splitlines()]  # every line is one JSON object
        answers = [r for r in records if r["message"] == "answer"]
        assert len(answers) == 3
        assert {r["outcome"] for r in answers} == {"complete", "refused"}
        assert all(r["trigger"] in ("mention", "follow_up") and "cost_usd" in r for r in answers)
    for secret in (BOT_TOKEN, APP_TOKEN, AWS_ENV["AWS_SECRET_ACCESS_KEY"], secret_question, secret_answer):
        assert secret not in output, secret
