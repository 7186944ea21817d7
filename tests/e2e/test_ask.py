"""`python -m bot ask` as a process against the fake Bedrock: the bot's generation path in a terminal."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.model.generation import STOP_NOTES
from bot.responder import BASE_PROMPT
from tests.conftest import AWS_ENV, MODEL, process_env
from tests.fakes.bedrock import Answer, Error, FakeBedrock, Stream


@pytest.fixture(autouse=True)
def ready(bedrock: FakeBedrock) -> Iterator[None]:
    bedrock.reset()
    bedrock.set_default_model()
    yield


def ask(bedrock: FakeBedrock, tmp_path: Path, *args: str, stdin: str = "",
        **env: str) -> subprocess.CompletedProcess[str]:
    """No Slack variables at all: the terminal mode needs none."""
    full = {**AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url, "BEDROCK_MODEL_ID": MODEL,
            "BEDROCK_READ_TIMEOUT_SECONDS": "2", **env}
    return subprocess.run([sys.executable, "-m", "bot", "ask", *args], env=process_env(**full), cwd=tmp_path,
                          input=stdin, capture_output=True, text=True, timeout=60)


def test_one_question_streams_the_whole_answer_across_continuations(bedrock: FakeBedrock, tmp_path: Path) -> None:
    text = "# Rotating keys\n\nUse **IAM** and rotate every *90 days*; keep the old key until nothing uses it."
    bedrock.set_fallback(lambda request: Answer(text, token_chars=4))
    result = ask(bedrock, tmp_path, "how", "do I rotate keys?", BEDROCK_MAX_TOKENS="6", SYSTEM_PROMPT="Be terse.")
    assert result.returncode == 0, result.stderr
    assert result.stdout == text + "\n"  # Markdown as the model wrote it, seams joined exactly
    calls = bedrock.calls
    assert len(calls) > 3  # it stopped on max_tokens and was continued
    assert calls[0].messages[0]["content"][0]["text"] == "how do I rotate keys?"
    assert calls[0].system[0]["text"] == f"{BASE_PROMPT}\n\nBe terse."
    assert {c.operation for c in calls} == {"ConverseStream"}


def test_a_stream_that_breaks_is_resumed_from_what_was_shown(bedrock: FakeBedrock, tmp_path: Path) -> None:
    text = "Hello world, and a little more."
    bedrock.enqueue(Stream(["Hello", " wor"], fail_after=2, exception="throttlingException"))
    bedrock.set_fallback(lambda request: Answer(text, token_chars=3))
    result = ask(bedrock, tmp_path, "greet me")
    assert result.returncode == 0, result.stderr
    assert result.stdout == text + "\n"
    assert len(bedrock.calls) == 2
    assert "resuming" in result.stderr


def test_notes_follow_the_answer_and_errors_set_the_exit_status(bedrock: FakeBedrock, tmp_path: Path) -> None:
    bedrock.enqueue(Stream(["Part of it"], stop_reason="guardrail_intervened"))
    result = ask(bedrock, tmp_path, "something", BEDROCK_GUARDRAIL_ID="gr-1", BEDROCK_GUARDRAIL_VERSION="2")
    assert result.returncode == 0
    assert result.stdout == f"Part of it\n\n_{STOP_NOTES['guardrail_intervened']}_\n"
    assert bedrock.calls[0].body["guardrailConfig"] == {"guardrailIdentifier": "gr-1", "guardrailVersion": "2",
                                                        "streamProcessingMode": "sync"}
    bedrock.enqueue(Error(403, "AccessDeniedException", "You don't have access to the model."))
    result = ask(bedrock, tmp_path, "again")
    assert result.returncode == 1
    assert "_Bedrock denied access to the model." in result.stdout


def test_without_a_question_it_reads_one_per_line_and_keeps_the_conversation(bedrock: FakeBedrock,
                                                                            tmp_path: Path) -> None:
    bedrock.enqueue(Stream(["Paris."]))
    bedrock.enqueue(Stream(["About 2.1 million."]))
    result = ask(bedrock, tmp_path, stdin="capital of France?\n\nand its population?\nexit\nnever asked\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "Paris.\nAbout 2.1 million.\n"
    second = bedrock.calls[1].messages
    assert [(m["role"], m["content"][0]["text"]) for m in second] == [
        ("user", "capital of France?"), ("assistant", "Paris."), ("user", "and its population?")]
    assert len(bedrock.calls) == 2


def test_a_configuration_error_is_one_line(bedrock: FakeBedrock, tmp_path: Path) -> None:
    result = ask(bedrock, tmp_path, "hi", BEDROCK_MAX_TOKENS="lots")
    assert result.returncode == 2
    assert result.stderr.strip() == ("config error: BEDROCK_MAX_TOKENS is invalid: expected a whole number "
                                     "between 1 and 128000")
