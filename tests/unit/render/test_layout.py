"""AnswerLayout: placeholder, marker, notes, sealing before the limit, nothing lost or repeated."""

from __future__ import annotations

import pytest

from bot.render.layout import EMPTY_ANSWER, MARKER, PLACEHOLDER, AnswerLayout, format_note
from bot.render.mrkdwn import render_growing
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


def test_an_answer_that_starts_invisible_never_seals_an_empty_part() -> None:
    """Issue 13, defect 7: link reference definitions render to nothing; Slack refuses an empty text."""
    text = "".join(f"[ref{i}]: https://example.com/{i}\n" for i in range(300)) + "\nThen some text [ref1]."
    layout = AnswerLayout(R, limit=500)
    counts = []
    for i in range(0, len(text), 25):
        layout.append(text[i : i + 25])
        parts = layout.snapshot(final=False)
        assert all(part.text.strip() for part in parts)
        counts.append(len(parts))
    assert counts == sorted(counts)  # the number of messages never goes down
    final = layout.snapshot(final=True)
    assert all(part.text.strip() and R.length(part.text) <= 500 for part in final)
    # Shown as the model wrote them (a message needs some text), and the answer's end as it is.
    assert final[0].text.startswith("[ref0]: https://example.com/0\n[ref1]: https://example.com/1\n")
    assert final[-1].text == "Then some text [ref1]."
    assert R.join([p.md for p in final]) == text


def test_invisible_markdown_does_not_grow_a_message_without_bound() -> None:
    """Issue 13, defect 7: a tail whose Markdown renders to almost nothing is still sealed at a bounded size."""
    text = "Intro.\n\n" + "".join(f"[r{i}]: https://e.com/{i}\n" for i in range(2000)) + "\nEnd."
    layout = AnswerLayout(R, limit=500)
    for i in range(0, len(text), 25):
        layout.append(text[i : i + 25])
        assert all(len(part.md) <= 3 * 500 for part in layout.snapshot(final=False))
    final = layout.snapshot(final=True)
    assert len(final) > 1 and all(len(part.md) <= 3 * 500 for part in final)
    assert final[0].text.startswith("Intro.")
    assert R.join([p.md for p in final]) == text


def test_shrink_reopens_parts_with_inserted_markdown() -> None:
    """A re-opened code block must not keep the fence lines the splitter inserted at the old cut."""
    text = "Code:\n\n```python\n" + "".join(f"value_{i} = {i}\n" for i in range(150)) + "```\n\nDone."
    layout = AnswerLayout(R, limit=600)
    layout.append(text)
    assert len(layout.snapshot(final=True)) > 2
    layout.shrink(0)
    after = layout.snapshot(final=True)
    assert R.join([p.md for p in after]) == text
    assert all(part.text.startswith("```") for part in after[1:])  # every continuation is code again


def test_a_huge_single_block_is_rendered_again_only_after_it_grew_by_an_eighth() -> None:
    """Per-delta cost: the interim text of a block of thousands of characters may lag a little behind."""
    words = "".join(f"w{i} " for i in range(1000))  # one paragraph of 4,890 characters
    text, shown, state = render_growing(words[:4000], None, streaming=True, lazy=True)
    assert shown == 4000 and text == words[:4000].strip()
    text, shown, state = render_growing(words[:4100], state, streaming=True, lazy=True)
    assert shown == 4000 and text == words[:4000].strip()  # grew by less than an eighth: the last text
    text, shown, state = render_growing(words[:4600], state, streaming=True, lazy=True)
    assert shown == 4600 and text == words[:4600].strip()
    text, shown, _state = render_growing(words[:4610], state, streaming=True, lazy=False)
    assert shown == 4610 and text == words[:4610].strip()  # not lazy: always all of it


def test_interim_part_md_is_exactly_what_its_text_shows() -> None:
    words = "".join(f"w{i} " for i in range(700))
    layout = AnswerLayout(R, limit=3900)
    for i in range(0, len(words), 25):
        layout.append(words[i : i + 25])
        for part in layout.snapshot(final=False):
            assert part.text.removesuffix(MARKER).split() == part.md.split()
