"""The native route's layout and calls (pure): what each streamed message shows and the next call.

Expected texts are written out: the model's Markdown as it came; a cut at or after what a message shows;
a code block closed and reopened across messages; a note only on a finished answer.
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.slack.native_cut import cut, open_fence, utf16_len
from bot.slack.stream import NativeLayout, Op, StreamMessage, StreamState, next_stream_call


def test_cut_prefers_a_paragraph_end_in_the_last_part_of_the_window() -> None:
    text = "a" * 80 + "\n\n" + "b c " * 10
    head, rest = cut(text, 100)
    assert head == "a" * 80 + "\n\n" and rest == "b c " * 10


def test_cut_takes_the_best_kind_in_the_last_30_percent_only() -> None:
    text = "a" * 50 + "\n\n" + "b" * 30 + " c" * 20  # the paragraph end is at 52, before 70
    head, rest = cut(text, 100)
    assert head == "a" * 50 + "\n\n" + "b" * 30 + " c" * 8 + " " and head + rest == text


def test_cut_never_goes_before_what_is_shown() -> None:
    text = "x" * 70 + "\n\n" + "y " * 20  # the paragraph end (72) would win, but 80 characters are shown
    assert cut(text, 90)[0] == "x" * 70 + "\n\n"
    head, rest = cut(text, 90, floor=80)
    assert len(head) >= 80 and head + rest == text
    assert head.endswith(" ")  # between words, after the floor


def test_cut_counts_utf16_units() -> None:
    text = "😀" * 60  # two units each
    head, rest = cut(text, 100)
    assert utf16_len(head) <= 100 and head + rest == text and len(head) == 50


# Slack renders CommonMark with GFM tables on this route; parsed here independently of the product's parser
_CM = MarkdownIt("commonmark").enable("table")

# (text, limit) -> (head, rest): a cut never makes the next message start something the text was not
_MEANING_CASES = {
    "a fence marker in a paragraph stays text": (
        "one two three ~~~ four five six seven eight", 17, ("one two ", "three ~~~ four five six seven eight")),
    "four spaces continuing a paragraph do not become code": (
        "x" * 70 + "\n    four spaces here are still paragraph text, not code", 100,
        ("x" * 70 + "\n    four spaces here are ", "still paragraph text, not code")),
    "a lazy \"2.\" line does not become a list": (
        "x" * 70 + "\n2. stays in the paragraph, since a list that interrupts one starts at 1", 100,
        ("x" * 70 + "\n2. ", "stays in the paragraph, since a list that interrupts one starts at 1")),
    "the head does not end in a heading's underline": (
        "abc\n--- def ghi", 9, ("abc\n", "--- def ghi")),
    "a heading that starts a line may start a message": (
        "Some text here\n# A heading that is long", 28, ("Some text here\n", "# A heading that is long")),
    "list items stay list items": (
        "- " + "a " * 20 + "\n- " + "b " * 20, 60, ("- " + "a " * 20 + "\n", "- " + "b " * 20)),
    "quoted lines stay quoted": (
        "> " + "a " * 20 + "\n> " + "b " * 20, 60, ("> " + "a " * 20 + "\n", "> " + "b " * 20)),
    "a table is cut between body rows, never inside one": (
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |", 36,
        ("| a | b |\n|---|---|\n| 1 | 2 |\n", "| 3 | 4 |\n| 5 | 6 |")),
    "an HTML block is not cut in the middle": (
        "intro\n\n<div>\n" + "<p>line</p>\n" * 10 + "</div>\n\nafter", 100,
        ("intro\n\n", "<div>\n" + "<p>line</p>\n" * 10 + "</div>\n\nafter")),
    "a closing fence line alone would open an empty block": (
        "```\ncode line one\ncode line two\n```\nafter it", 35,
        ("```\ncode line one\ncode line ", "two\n```\nafter it")),
}


@pytest.mark.parametrize("text, limit, expected", _MEANING_CASES.values(), ids=_MEANING_CASES.keys())
def test_a_cut_keeps_the_meaning_of_both_messages(text: str, limit: int, expected: tuple[str, str]) -> None:
    assert cut(text, limit) == expected


def test_a_table_continued_in_the_next_message_shows_its_header_again() -> None:
    layout = NativeLayout(limit=60, hold_back=10)
    table = "| a | b |\n|---|---|\n" + "".join(f"| {i} | {i * i} |\n" for i in range(10))
    layout.append(table)
    parts = layout.snapshot(final=True)
    assert len(parts) >= 3 and "".join(p.md for p in parts) == table
    for part in parts[1:]:
        assert part.target.startswith("| a | b |\n|---|---|\n| ")
        assert _CM.parse(part.target)[0].type == "table_open"


def test_a_code_span_longer_than_a_message_is_cut_anyway_and_the_messages_stay_short() -> None:
    """No boundary keeps a long ``` span text: the forced cut's head reads as a code block, closed there; the
    next message reopens it with the fence and its language only (not the whole line), so every message makes
    progress."""
    text = "``` " + "word " * 30 + "``` after"
    layout = NativeLayout(limit=40, hold_back=10)
    layout.append(text)
    parts = layout.snapshot(final=True)
    assert "".join(p.md for p in parts) == text
    assert parts[1].prefix == "```word\n" and all(utf16_len(p.target) <= 45 for p in parts)
    assert len(parts) <= 6


# ``` is left out: a code span longer than a message leaves no boundary but a forced one (tested on its own)
_PLAIN = ["word", "text", "more", "again", "Slack", "ok"]
_MARKERS = ["", "~~~", "``", "#", "##", "-", "+", "*", "1.", "2)", ">", "<div>", "|", "===", "---", "    x"]


_LINE_STARTS = ["", "", "", "2)", "    x", "``", "<span>"]  # what can begin a paragraph's later line


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(_LINE_STARTS), st.sampled_from(_PLAIN), st.sampled_from(_MARKERS),
                          st.sampled_from(_PLAIN), st.sampled_from([" "] * 6 + ["\n"])), min_size=20, max_size=60),
       st.integers(min_value=30, max_value=90))
def test_every_message_of_a_paragraph_is_a_paragraph(units: list[tuple[str, str, str, str, str]], limit: int) -> None:
    """One paragraph full of would-be block markers, streamed in messages of any size: each message alone
    is still one paragraph, and the messages hold the answer exactly."""
    text = "".join(f"{start} " * bool(start) + f"{a} {marker} {b}{sep}" for start, a, marker, b, sep in units).strip()
    assume([t.type for t in _CM.parse(text)] == ["paragraph_open", "inline", "paragraph_close"])
    layout = NativeLayout(limit=limit, hold_back=10)
    layout.append(text)
    parts = layout.snapshot(final=True)
    assert "".join(p.md for p in parts) == text
    for part in parts:
        assert [t.type for t in _CM.parse(part.target)] == ["paragraph_open", "inline", "paragraph_close"], part


def test_open_fence_names_the_opening_line() -> None:
    assert open_fence("text\n```python\nx = 1\n") == "```python"
    assert open_fence("```python\nx = 1\n```\n") is None
    assert open_fence("~~~\n```\nstill code\n") == "~~~"
    assert open_fence("``` inline code ``` in a paragraph\n") is None


def test_a_placeholder_stream_then_appends_then_stop() -> None:
    layout = NativeLayout(limit=1000, hold_back=100)
    parts = layout.snapshot(final=False)
    call = next_stream_call(parts, [], final=False)
    assert call is not None and (call.op, call.text) == (Op.START, "")
    messages = [StreamMessage("1.0", "")]
    layout.append("Hello **wor")
    call = next_stream_call(layout.snapshot(final=False, floor=0), messages, final=False)
    assert call is not None and (call.op, call.text) == (Op.APPEND, "Hello **wor")
    messages[0].sent = "Hello **wor"
    layout.append("ld**")
    call = next_stream_call(layout.snapshot(final=True, floor=11), messages, final=True)
    assert call is not None and (call.op, call.text, call.last) == (Op.STOP, "ld**", True)


def test_a_note_is_appended_to_the_last_message_only_when_final() -> None:
    layout = NativeLayout()
    layout.append("Partial")
    (part,) = layout.snapshot(final=True, note="The model stopped.")
    assert part.target == "Partial\n\n> ⚠️ The model stopped." and part.md == "Partial"


def test_rollover_closes_and_reopens_a_code_block_and_keeps_the_markdown_exact() -> None:
    layout = NativeLayout(limit=120, hold_back=20)
    answer = "Intro\n\n```sh\n" + "".join(f"echo {i}\n" for i in range(30)) + "```\nDone."
    layout.append(answer)
    parts = layout.snapshot(final=True)
    assert "".join(p.md for p in parts) == answer
    assert all(utf16_len(p.target) <= 130 for p in parts)
    assert parts[0].target.endswith("\n```") and parts[1].target.startswith("```sh\n")


def test_the_open_message_holds_back_text_near_the_limit() -> None:
    layout = NativeLayout(limit=100, hold_back=30)
    layout.append("w " * 45)  # 90 characters: fits, but past limit - hold_back
    (part,) = layout.snapshot(final=False)
    assert part.sendable == 70 and not part.closed


def test_an_expired_stream_is_sealed_where_it_stands_and_finished() -> None:
    layout = NativeLayout()
    layout.append("shown, and more")
    messages = [StreamMessage("1.0", "shown,", StreamState.EXPIRED)]
    layout.seal_at(6)
    parts = layout.snapshot(final=False)
    call = next_stream_call(parts, messages, final=False)
    assert call is not None and (call.op, call.index, call.text) == (Op.FINISH, 0, "shown,")
    messages[0].state = StreamState.CLOSED
    call = next_stream_call(layout.snapshot(final=False), messages, final=False)
    assert call is not None and (call.op, call.index, call.text) == (Op.START, 1, " and more")


def test_a_stopped_answer_is_what_the_message_showed() -> None:
    layout = NativeLayout()
    layout.append("kept text, then text nobody saw")
    layout.truncate(len("kept text,"))
    messages = [StreamMessage("1.0", "kept text,", StreamState.USER_STOPPED)]
    parts = layout.snapshot(final=True)
    call = next_stream_call(parts, messages, final=True)
    assert call is not None and (call.op, call.text, call.last) == (Op.FINISH, "kept text,", True)


def test_restore_continues_a_stream_that_still_streams_and_closes_the_rest() -> None:
    layout = NativeLayout()
    layout.restore([("first ", False), ("second", True)])
    layout.append(" and on")
    messages = [StreamMessage("1.0", "first ", StreamState.CLOSED), StreamMessage("2.0", "second")]
    call = next_stream_call(layout.snapshot(final=False, floor=6), messages, final=False)
    assert call is not None and (call.op, call.index, call.text) == (Op.APPEND, 1, " and on")
