"""Continuing past max_tokens with assistant prefill (models up to Claude 4.5), end to end."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.helpers import final_state
from tests.fakes.bedrock import Answer, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")
TEXT = "".join(f"Step {i}: rotate the key, then verify it works.\n\n" for i in range(1, 21))  # ~1,000 chars


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(BEDROCK_MAX_TOKENS="50", MAX_CONTINUATIONS="6")  # 50 tokens = 200 characters a call


def test_prefill_continuations_give_the_exact_answer(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Answer(TEXT, token_chars=4))
    ts = slack.user_says("C1", "U1", "<@UBOT> how do I rotate keys?")
    replies = final_state(slack, "C1", ts)
    calls = bedrock.calls
    assert len(calls) == 5  # 1,000 characters at 200 a call
    assert replies[0]["text"] == TEXT.strip()
    for call in calls[1:]:
        last = call.messages[-1]
        assert last["role"] == "assistant"  # prefill
        assert not last["content"][0]["text"][-1].isspace()  # trailing whitespace removed
        assert TEXT.startswith(last["content"][0]["text"])


def test_continuation_bound_ends_with_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    long_text = "word " * 1000  # needs 25 calls; only 1 + 6 are allowed
    bedrock.set_fallback(lambda request: Answer(long_text, token_chars=4))
    ts = slack.user_says("C1", "U1", "<@UBOT> go on forever")
    replies = final_state(slack, "C1", ts)
    assert len(bedrock.calls) == 7
    assert "limit of 6 continuations (MAX_CONTINUATIONS)" in replies[-1]["text"]
    assert replies[0]["text"].startswith(long_text[:1400].strip())


@pytest.mark.parametrize("script", [
    # (first call deltas, second call deltas, expected text) — awkward seams with a prefill
    (["The quick brown "], [" fox jumps."], "The quick brown fox jumps."),
    (["The quick brown "], ["fox jumps."], "The quick brown fox jumps."),
    (["The quick bro"], ["wn fox jumps."], "The quick brown fox jumps."),
    (["一行目です。\n\n"], ["二行目です。"], "一行目です。\n\n二行目です。"),
    (["First line\n"], ["\nSecond line"], "First line\nSecond line"),
    (["First line\n"], ["\n\nSecond line"], "First line\n\nSecond line"),
], ids=["space-repeated", "space-put-back", "mid-word", "japanese-paragraph", "same-line-break", "new-paragraph"])
def test_prefill_seams(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                       script: tuple[list[str], list[str], str]) -> None:
    first, second, expected = script
    bedrock.enqueue(Stream(first, stop_reason="max_tokens"))
    bedrock.enqueue(Stream(second))
    ts = slack.user_says("C1", "U1", "<@UBOT> seam")
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"] == expected
