"""The native route's layout and calls (pure): what each streamed message shows and the next call.

Expected texts are written out: the model's Markdown as it came; a cut at or after what a message shows;
a code block closed and reopened across messages; a note only on a finished answer.
"""

from __future__ import annotations

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


def test_open_fence_names_the_opening_line() -> None:
    assert open_fence("text\n```python\nx = 1\n") == "```python"
    assert open_fence("```python\nx = 1\n```\n") is None
    assert open_fence("~~~\n```\nstill code\n") == "~~~"


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
