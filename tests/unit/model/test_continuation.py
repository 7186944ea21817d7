"""The seam rule and the continuation request, table-driven."""

from __future__ import annotations

import pytest

from bot.model.continuation import CONTINUE_PROMPT, SEAM_WINDOW, Form, Seam, continuation_messages, join_seam

P, C = Form.PREFILL, Form.CONTINUE

SEAMS = [
    # (id, form, shown, continuation, expected full text)
    ("prefill-space-put-back", P, "The quick brown", "fox", "The quick brownfox"),
    ("prefill-stripped-space-restored", P, "The quick brown ", "fox", "The quick brown fox"),
    ("prefill-space-not-doubled", P, "The quick brown ", " fox", "The quick brown fox"),
    ("prefill-mid-word", P, "The quick bro", "wn fox", "The quick brown fox"),
    ("prefill-newline-restored", P, "Step 1\n\n", "Step 2", "Step 1\n\nStep 2"),
    ("prefill-newline-partly-repeated", P, "Step 1\n\n", "\nStep 2", "Step 1\n\nStep 2"),
    ("prefill-newline-repeated", P, "Step 1\n\n", "\n\nStep 2", "Step 1\n\nStep 2"),
    ("prefill-model-adds-space", P, "Step 1", " and 2", "Step 1 and 2"),
    ("prefill-japanese", P, "今日は良い天気です。", "明日も晴れ", "今日は良い天気です。明日も晴れ"),
    ("prefill-japanese-newline", P, "一行目\n", "二行目", "一行目\n二行目"),
    ("continue-exact", C, "The quick brown ", "fox jumps", "The quick brown fox jumps"),
    ("continue-with-space", C, "The quick brown", " fox jumps", "The quick brown fox jumps"),
    ("continue-mid-word", C, "The quick brown fox jum", "ps over", "The quick brown fox jumps over"),
    ("continue-repeats-last-words", C, "The quick brown fox", "brown fox jumps over",
     "The quick brown fox jumps over"),
    ("continue-repeats-after-space", C, "The quick brown fox ", "brown fox jumps",
     "The quick brown fox jumps"),
    ("continue-repeats-cut-word", C, "The quick brown fox jum", "fox jumps over", "The quick brown fox jumps over"),
    ("continue-repeats-with-leading-newline", C, "Step 1: do this\nStep 2: do th", "\nStep 2: do that",
     "Step 1: do this\nStep 2: do that"),
    ("continue-new-line", C, "First paragraph.", "\n\nSecond paragraph.", "First paragraph.\n\nSecond paragraph."),
    ("continue-no-false-overlap-in-word", C, "I like bana", "nas and apples", "I like bananas and apples"),
    ("continue-two-letter-coincidence-kept", C, "It is", "is it?", "It isis it?"),
    ("continue-japanese-repeat", C, "今日は良い天気です。明日も", "明日も晴れるでしょう。",
     "今日は良い天気です。明日も晴れるでしょう。"),
    ("continue-japanese-plain", C, "今日は良い天気です。", "明日も晴れ", "今日は良い天気です。明日も晴れ"),
    ("continue-japanese-mid-word", C, "ありがとうござい", "ます。", "ありがとうございます。"),
    ("continue-markdown-list", C, "- one\n- two\n", "- three", "- one\n- two\n- three"),
    ("continue-trailing-newline-repeated", C, "para one\n\n", "\n\npara two", "para one\n\npara two"),
]


@pytest.mark.parametrize(("form", "shown", "continuation", "expected"),
                         [s[1:] for s in SEAMS], ids=[s[0] for s in SEAMS])
def test_join_seam(form: Form, shown: str, continuation: str, expected: str) -> None:
    assert shown + join_seam(shown, continuation, form) == expected


@pytest.mark.parametrize(("form", "shown", "continuation", "expected"),
                         [s[1:] for s in SEAMS], ids=[s[0] for s in SEAMS])
def test_seam_streams_in_small_deltas(form: Form, shown: str, continuation: str, expected: str) -> None:
    """Fed one character at a time, the streaming Seam gives the same text as join_seam."""
    seam = Seam(shown, form)
    out = "".join(seam.feed(ch) for ch in continuation) + seam.flush()
    assert shown + out == expected


def test_seam_decides_within_window_then_passes_through() -> None:
    seam = Seam("abc ", Form.CONTINUE)
    first = seam.feed("x" * (SEAM_WINDOW + 5))
    assert first == "x" * (SEAM_WINDOW + 5)
    assert seam.feed("yz") == "yz"
    assert seam.flush() == ""


def test_prefill_seam_waits_only_for_first_non_space() -> None:
    seam = Seam("word ", Form.PREFILL)
    assert seam.feed(" ") == ""
    assert seam.feed("next") == "next"
    assert seam.feed(" more") == " more"


def test_first_call_has_no_seam() -> None:
    seam = Seam("", None)
    assert seam.feed("  Hello") == "  Hello"


MESSAGES = [{"role": "user", "content": [{"text": "question"}]}]


def test_prefill_request_strips_trailing_whitespace() -> None:
    result = continuation_messages(MESSAGES, "partial answer \n\n", Form.PREFILL)
    assert result[-1] == {"role": "assistant", "content": [{"text": "partial answer"}]}
    assert len(result) == 2


def test_continue_request_ends_with_user_turn() -> None:
    result = continuation_messages(MESSAGES, "partial answer ", Form.CONTINUE)
    assert [m["role"] for m in result] == ["user", "assistant", "user"]
    assert result[1]["content"][0]["text"] == "partial answer"
    assert result[2]["content"][0]["text"] == CONTINUE_PROMPT


def test_blank_partial_repeats_the_question() -> None:
    assert continuation_messages(MESSAGES, " \n", Form.CONTINUE) == MESSAGES


def test_input_messages_are_not_mutated() -> None:
    original = [{"role": "user", "content": [{"text": "q"}]}]
    continuation_messages(original, "a", Form.PREFILL)
    assert original == [{"role": "user", "content": [{"text": "q"}]}]
