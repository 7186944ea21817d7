"""Where a natively streamed message ends (pure): the minimal cut rule of the native route.

On the native route Slack renders the model's Markdown itself (no mrkdwn conversion), and text once appended to
a stream can never be taken back. So a message is cut at or after what it already shows (`floor`), and at or
before `limit` (counted as Slack counts: UTF-16 code units). Within that window the latest best boundary wins:
the end of a paragraph, else of a line, else after a sentence, else between words, else anywhere — preferring
the last 30 % of the window, as the edit route's splitter does.

A cut inside a fenced code block leaves the block open: `open_fence` names its opening line, so that the
message can show a closing fence and the next one reopen it. Those lines are shown only; the marks keep the
model's Markdown exactly (the parts concatenate back to the answer).

The render branch adds `split_markdown_native` to `bot/render/splitting.py` (the edit route's full rule with
Markdown as the measure); it cannot be used as it is here, because it may cut before text already streamed.
"""

from __future__ import annotations

import re

PREFERRED = 0.3  # prefer boundaries in the last 30 % of the window
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_SENTENCE = re.compile(r"[.!?][)\"'’”]?\s|[。！？]")


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fits(text: str, limit: int) -> int:
    """The longest prefix length (in code points) of `text` whose UTF-16 length is at most `limit`."""
    if utf16_len(text) <= limit:
        return len(text)
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def open_fence(markdown: str) -> str | None:
    """The opening line of a fenced code block still open at the end of `markdown`, or None."""
    opener: str | None = None
    for line in markdown.split("\n"):
        match = _FENCE.match(line)
        if match is None:
            continue
        run = match.group(1)
        if opener is None:
            opener = line.strip()
        else:
            open_run = _FENCE.match(opener)
            assert open_run is not None
            if run[0] == open_run.group(1)[0] and len(run) >= len(open_run.group(1)) and not match.group(2).strip():
                opener = None
    return opener


def _latest(markdown: str, low: int, high: int) -> int | None:
    """The latest good cut in markdown[low:high] (a position in `markdown`), best kind first."""
    window = markdown[low:high]
    for pattern in ("\n\n", "\n"):
        at = window.rfind(pattern)
        if at >= 0:
            return low + at + len(pattern)
    matches = list(_SENTENCE.finditer(window))
    if matches:
        return low + matches[-1].end()
    at = window.rfind(" ")
    if at >= 0:
        return low + at + 1
    return None


def cut(markdown: str, limit: int, *, floor: int = 0) -> tuple[str, str]:
    """Split `markdown` into a head of at most `limit` UTF-16 units that keeps at least `floor` characters
    (already shown), and the rest. `(markdown, "")` if it fits."""
    high = fits(markdown, limit)
    if high >= len(markdown):
        return markdown, ""
    floor = min(floor, high)
    preferred = max(floor, high - int((high - floor) * PREFERRED))
    at = _latest(markdown, preferred, high)
    if at is None or at <= floor:
        at = _latest(markdown, floor, high)
    if at is None or at <= floor:
        at = high if high > floor else max(floor, 1)
    return markdown[:at], markdown[at:]
