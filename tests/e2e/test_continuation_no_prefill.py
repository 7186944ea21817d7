"""Continuing past max_tokens on models that reject prefill (Claude 4.6+), end to end."""

from __future__ import annotations

from typing import Any

import pytest

from bot.model.continuation import CONTINUE_PROMPT
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import Answer, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

MODEL_46 = "us.anthropic.claude-opus-4-6-v1"
TEXT = "".join(f"Paragraph {i}: keys should be rotated every 90 days.\n\n" for i in range(1, 17))


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(BEDROCK_MAX_TOKENS="50", BEDROCK_MODEL_ID=MODEL_46)


@pytest.fixture(autouse=True)
def no_prefill_model(fresh: None, bedrock: FakeBedrock) -> None:
    bedrock.add_model(MODEL_46, accepts_prefill=False)


def test_rejection_is_detected_and_remembered(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    bedrock.set_fallback(lambda request: Answer(TEXT, token_chars=4))
    ts = slack.user_says("C1", "U1", "<@UBOT> rotate?")
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"] == TEXT.strip()
    calls = bedrock.calls
    assert calls[1].messages[-1]["role"] == "assistant"  # the one prefill attempt, rejected
    for call in calls[2:]:
        assert [m["role"] for m in call.messages[-2:]] == ["assistant", "user"]
        assert call.messages[-1]["content"][0]["text"] == CONTINUE_PROMPT
    # the next answer does not try prefill again
    bedrock.reset()
    bedrock.add_model(MODEL_46, accepts_prefill=False)
    bedrock.set_fallback(lambda request: Answer(TEXT, token_chars=4))
    ts2 = slack.user_says("C1", "U1", "<@UBOT> again")
    assert final_state(slack, "C1", ts2)[0]["text"] == TEXT.strip()
    assert all(c.messages[-1]["role"] == "user" for c in bedrock.calls)


@pytest.mark.parametrize("seam", ["exact", "repeat", "lstrip"])
def test_continue_form_seams_from_the_scripted_model(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                                     seam: str) -> None:
    text = "".join(f"Line {i} says hello world again.\n" for i in range(30))
    bedrock.set_fallback(lambda request: Answer(text, token_chars=4, seam=seam))
    ts = slack.user_says("C1", "U1", "<@UBOT> lines")
    replies = final_state(slack, "C1", ts)
    got = replies[0]["text"]
    if seam == "lstrip":  # a model that drops the newline at a seam cannot be repaired; nothing else changes
        assert got.replace("\n", "") == text.strip().replace("\n", "")
    else:
        assert got == text.strip()


@pytest.mark.parametrize("script", [
    (["The quick brown fox"], ["brown fox jumps over."], "The quick brown fox jumps over."),
    (["The quick brown fox jum"], ["ps over."], "The quick brown fox jumps over."),
    (["The quick brown fox"], [" jumps over."], "The quick brown fox jumps over."),
    (["今日は良い天気です。明日も"], ["明日も晴れるでしょう。"], "今日は良い天気です。明日も晴れるでしょう。"),
    (["First paragraph."], ["\n\nSecond paragraph."], "First paragraph.\n\nSecond paragraph."),
], ids=["repeats-last-words", "mid-word", "with-space", "japanese-repeat", "new-paragraph"])
def test_continue_form_awkward_seams(bot: Any, slack: FakeSlack, bedrock: FakeBedrock,
                                     script: tuple[list[str], list[str], str]) -> None:
    first, second, expected = script
    bedrock.enqueue(Stream(first, stop_reason="max_tokens"))
    bedrock.enqueue(Stream(second))
    ts = slack.user_says("C1", "U1", "<@UBOT> seam")
    assert final_state(slack, "C1", ts)[0]["text"] == expected
