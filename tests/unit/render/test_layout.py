"""AnswerLayout: placeholder, marker, notes, sealing before the limit, nothing lost or repeated."""

from __future__ import annotations

import pytest

from bot.render.layout import EMPTY_ANSWER, MARKER, PLACEHOLDER, AnswerLayout, format_note
from bot.render.renderer import SlackRenderer

R = SlackRenderer()


def grow(layout: AnswerLayout, text: str, step: int) -> list[list[str]]:
    """Feed `text` in pieces of `step`, taking an interim snapshot after each."""
    snapshots = []
    for i in range(0, len(text), step):
        layout.append(text[i:i + step])
        snapshots.append([p.text for p in layout.snapshot(final=False)])
    return snapshots


def test_placeholder_until_text_then_marker_then_final_without_marker() -> None:
    layout = AnswerLayout(R)
    assert [p.text for p in layout.snapshot(final=False)] == [PLACEHOLDER]
    assert [p.text for p in layout.snapshot(final=False, status="busy")] == ["busy"]
    layout.append("  \n")
    assert [p.text for p in layout.snapshot(final=False)] == [PLACEHOLDER]  # whitespace is not text yet
    layout.append("Hello **world**")
    assert [p.text for p in layout.snapshot(final=False)] == ["Hello *world*" + MARKER]
    assert [p.text for p in layout.snapshot(final=True)] == ["Hello *world*"]


def test_note_goes_under_the_final_text() -> None:
    layout = AnswerLayout(R)
    layout.append("partial")
    assert [p.text for p in layout.snapshot(final=True, note="Bedrock <failed> & stopped")] == [
        "partial\n\n:warning: _Bedrock &lt;failed&gt; &amp; stopped_"]


def test_empty_answer_gets_a_note() -> None:
    assert [p.text for p in AnswerLayout(R).snapshot(final=True)] == [format_note(EMPTY_ANSWER)]


@pytest.mark.parametrize(("step", "limit"), [(1, 120), (7, 120), (7, 400), (250, 400), (250, 3900),
                                             (5000, 120), (5000, 3900)])
def test_long_answer_rolls_over_and_loses_nothing(step: int, limit: int) -> None:
    text = "".join(f"Paragraph {i}: " + "lorem ipsum & <dolor> " * (i % 7 + 1) + "\n\n" for i in range(60))
    layout = AnswerLayout(R, limit=limit)
    counts = []
    for snapshot in grow(layout, text, step):
        assert all(R.length(t) <= limit for t in snapshot)
        counts.append(len(snapshot))
    assert counts == sorted(counts)  # the number of messages never goes down
    final = layout.snapshot(final=True, note="a note")
    assert all(R.length(p.text) <= limit for p in final)
    assert R.join([p.md for p in final]) == text
    sealed_before = [p.text for p in layout.snapshot(final=False)][:-1]
    assert [p.text for p in final][: len(sealed_before)] == sealed_before  # sealed messages never change


def test_suffix_that_does_not_fit_moves_text_to_a_new_message() -> None:
    layout = AnswerLayout(R, limit=100)
    layout.append("word " * 19)  # 95 characters: fits alone, not with the marker
    parts = layout.snapshot(final=False)
    assert len(parts) == 2 and all(R.length(p.text) <= 100 for p in parts)


def test_shrink_reopens_and_splits_smaller() -> None:
    layout = AnswerLayout(R, limit=1000)
    text = "sentence number one. " * 80
    layout.append(text)
    before = layout.snapshot(final=True)
    layout.shrink(0)
    after = layout.snapshot(final=True)
    assert len(after) > len(before)
    assert all(R.length(p.text) <= 800 for p in after)
    assert R.join([p.md for p in after]) == text


def test_japanese_answer_splits_after_sentences() -> None:
    text = "これは長い文章です。" * 100
    layout = AnswerLayout(R, limit=200)
    layout.append(text)
    parts = layout.snapshot(final=True)
    assert len(parts) > 1
    assert all(p.md.endswith("。") for p in parts[:-1])
    assert R.join([p.md for p in parts]) == text
