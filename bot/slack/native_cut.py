"""Where a natively streamed message ends (pure): the minimal cut rule of the native route.

On the native route Slack renders the model's Markdown itself (no mrkdwn conversion), and text once appended to
a stream can never be taken back. So a message is cut at or after what it already shows (`floor`), and at or
before `limit` (counted as Slack counts: UTF-16 code units). Within that window the latest best boundary wins:
the end of a paragraph, else of a line, else after a sentence, else between words, else anywhere — preferring
the last 30 % of the window, as the edit route's splitter does.

The next message must mean what its text meant in the whole answer, as the edit route's splitter
guarantees (`bot.render.splitting`; it cannot serve here, because it may cut before text already streamed).
So a boundary is skipped, for the next one of its kind, when the text after it would start something else:
`~~~ four` or `1. x` continued from the middle of a paragraph (a code block, a list), a paragraph's lazy
continuation line starting with `2.` or four spaces, the underline of a heading. A cut between two rows of
a table, or inside a fenced code block, is allowed: `reopening` names what the next message shows first (the
table's header and delimiter rows, or the block's opening line; the message before shows a closing fence).
Those lines are shown only; the marks keep the model's Markdown exactly (the parts concatenate back to the
answer). Only a cut forced by a window with no boundary at all may still start with a marker.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from bot.render.blocks import BLOCK_START_CHARS, LEAVES, PARSER, BlockMap

PREFERRED = 0.3  # prefer boundaries in the last 30 % of the window
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})(.*)$")
_LANGUAGE_MAX = 30  # characters of a code block's language kept when it is reopened in the next message
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
            if run[0] != "`" or "`" not in match.group(2):  # "``` a ```" is inline code, not a fence
                opener = line.strip()
        else:
            open_run = _FENCE.match(opener)
            assert open_run is not None
            if run[0] == open_run.group(1)[0] and len(run) >= len(open_run.group(1)) and not match.group(2).strip():
                opener = None
    return opener


def reopening(before: str, rest: str) -> str:
    """What a message starting with `rest` shows first so that it continues what `before` (the Markdown the
    previous message shows) left open: a code block's opening line, or a table's header and delimiter rows."""
    opener = open_fence(before)
    if opener is not None:
        match = _FENCE.match(opener)
        assert match is not None
        words = match.group(2).split()  # the language, if any; not a whole line a forced cut took for a fence
        return match.group(1) + (words[0] if words and len(words[0]) <= _LANGUAGE_MAX else "") + "\n"
    first = rest.split("\n", 1)[0]
    if (before and not before.endswith("\n")) or "|" not in first:
        return ""
    blocks = BlockMap.build(before + first)
    line = len(blocks.lines) - 1
    leaf = blocks.leaf_of[line]
    if leaf is None or leaf.kind != "table" or line < leaf.first + 2:
        return ""
    return blocks.lines[leaf.first] + "\n" + blocks.lines[leaf.first + 1] + "\n"


_CONTAINER_TOKENS = {"blockquote_open": "quote", "list_item_open": "item"}


def _shape(markdown: str) -> tuple[list[str], str | None]:
    """`markdown` parsed alone: the containers its first leaf block is in (outermost first), and that leaf."""
    containers: list[str] = []
    for token in PARSER.parse(markdown):
        if token.type in _CONTAINER_TOKENS:
            containers.append(_CONTAINER_TOKENS[token.type])
        elif token.type in LEAVES:
            return containers, LEAVES[token.type]
    return containers, None


def _is_text(fragment: str, *, continued: bool = False) -> bool:
    """Is `fragment` (the start or, `continued`, the end of a paragraph's line) read as paragraph text?"""
    if not fragment or fragment[0] not in BLOCK_START_CHARS:
        return True
    tokens = PARSER.parse("x\n" + fragment if continued else fragment)
    return bool(tokens) and tokens[0].type == "paragraph_open" and tokens[-1].type == "paragraph_close"


class _Meaning:
    """Judges cuts in one text (`shown` + `markdown`): do both sides of a cut mean what they meant?"""

    def __init__(self, markdown: str, shown: str) -> None:
        self.offset = len(shown)
        self.text = shown + markdown
        self._blocks: BlockMap | None = None

    @property
    def blocks(self) -> BlockMap:
        if self._blocks is None:  # parsed once, and only when a boundary is judged
            self._blocks = BlockMap.build(self.text)
        return self._blocks

    def keeps(self, at: int) -> bool:
        """May a message end before markdown[at], the next one starting there?"""
        blocks = self.blocks
        pos = self.offset + at
        line = blocks.line_of(pos)
        start = blocks.line_starts[line]
        text = blocks.lines[line]
        leaf = blocks.leaf_of[line]
        kind = leaf.kind if leaf is not None else None
        if leaf is not None and kind == "fence" and line > leaf.first:
            fence = next((f for f in blocks.fences if f.open_line == leaf.first), None)
            # inside the code: the next message reopens it; but not an empty block made of its closing line
            return not (pos == start and fence is not None and fence.closed and line == fence.content_end)
        if leaf is not None and kind == "table":
            return pos == start and line >= leaf.first + 2  # between body rows: the next message repeats the header
        if pos > start:  # the middle of a line: only a paragraph's, and both halves must stay text
            if leaf is None or kind != "paragraph" or not _is_text(text[pos - start:]):
                return False
            stack = blocks.stack(line, opened_on_line=True)
            own = blocks.content_start(line, stack) if stack else 0
            if own is None:  # a lazy continuation line
                own = len(text) - len(text.lstrip(" \t>"))
            return _is_text(text[own: pos - start].lstrip(" \t"), continued=line > leaf.first)
        if not text.strip() or text[0] not in BLOCK_START_CHARS:
            return True
        following = blocks.lines[line + 1] if line + 1 < len(blocks.lines) else ""
        containers, alone = _shape(text + "\n" + following if following.strip() else text)
        if containers != [c.kind for c in blocks.stack(line, opened_on_line=True)] or alone != kind:
            return False
        # a block that starts here, or a line of a paragraph or of indented code (not a heading's underline)
        return leaf is None or leaf.first == line or kind in ("paragraph", "code")


def _latest(markdown: str, low: int, high: int, keeps: Callable[[int], bool]) -> int | None:
    """The latest good cut in markdown[low:high] (a position in `markdown`), best kind first."""
    window = markdown[low:high]
    for pattern in ("\n\n", "\n"):
        at = window.rfind(pattern)
        while at >= 0:
            if keeps(low + at + len(pattern)):
                return low + at + len(pattern)
            at = window.rfind(pattern, 0, at)
    for match in reversed(list(_SENTENCE.finditer(window))):
        if keeps(low + match.end()):
            return low + match.end()
    at = window.rfind(" ")
    while at >= 0:
        if keeps(low + at + 1):
            return low + at + 1
        at = window.rfind(" ", 0, at)
    return None


def cut(markdown: str, limit: int, *, floor: int = 0, shown: str = "") -> tuple[str, str]:
    """Split `markdown` into a head of at most `limit` UTF-16 units that keeps at least `floor` characters
    (already shown), and the rest. `shown` is what the message shows before `markdown` (a reopened code
    block or table header), so that the rest is judged in context. `(markdown, "")` if it fits."""
    high = fits(markdown, limit)
    if high >= len(markdown):
        return markdown, ""
    floor = min(floor, high)
    keeps = _Meaning(markdown, shown).keeps
    preferred = max(floor, high - int((high - floor) * PREFERRED))
    at = _latest(markdown, preferred, high, keeps)
    if at is None or at <= floor:
        at = _latest(markdown, floor, high, keeps)
    if at is None or at <= floor:
        at = high if high > floor else max(floor, 1)
    return markdown[:at], markdown[at:]
