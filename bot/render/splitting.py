"""Cut a long Markdown answer into parts that each fit into one Slack message, each meaning what it meant.

Slack rejects a ``text`` longer than 4,000 characters, so a long answer is posted as several messages.
The splitter works on the Markdown source; every part is later rendered on its own (by default with
:func:`bot.render.mrkdwn.to_mrkdwn`; the native route cuts its streamed messages by the rules of
:mod:`bot.slack.native_cut`, since it can never take back text already shown).

Invariants (checked by the unit and property tests):

* ``slack_length(render(part)) + reserve <= limit`` for the head returned by :func:`split_markdown` and for
  every part returned by :func:`split_all` (with ``reserve=0``). If no head at all can be made to fit, a
  ``ValueError`` is raised instead of returning an oversized part.
* No part is empty or blank, and ``join_parts(split_all(text, limit)) == text`` for every text.
* A part means what its text meant in the whole answer: a paragraph stays a paragraph, code stays code, a
  table stays a table (its header is repeated), text inside a list item or quote stays inside it. Where a
  cut needs it, the next part starts with inserted Markdown that reopens what was open, marked so that
  :func:`bot.render.seams.join_parts` removes it again (see :mod:`bot.render.seams`): a fence reopening
  line, a repeated table header, or the markers of the enclosing quotes and list items followed by a seam.
  A part never starts with something that would read as a block marker (``#``, ``-``, ``1.``, ``>``,
  ```` ``` ````, ``~~~``, ``<div>``, four spaces…) where the whole had paragraph text.
* A cut never splits a code point pair, a combining sequence, an emoji ZWJ sequence, a flag or CRLF.
* Pure: no I/O and no shared mutable state.

Where a cut is allowed: between blocks; inside a paragraph (then the text after it continues as text);
between the lines of indented code and anywhere inside fenced code; between the body rows of a table.
Never inside a heading, a table's header or delimiter row or in the middle of a row, an HTML block, a link
reference definition, a fence's opening or closing line, or what an earlier split inserted. Only when a
single such block is larger than the whole budget is it cut anyway, as text.

Choosing the cut: the splitter finds the window of source positions whose rendered prefix fits and ranks
the boundaries in it: end of a paragraph > end of a line > after a sentence (``。！？`` directly,
``.!?`` followed by a space) > between words > between two CJK characters > anywhere else. It takes the
best kind found in the last 30 % of the window (the latest of that kind); if that region has no boundary of
these kinds, the latest such boundary in the whole window; then any position outside a Slack link ``<…>``,
a Markdown link, a URL, an emoji code ``:name:``, an inline code span and a one-line emphasis span; and
only then any position at all. Rendering costs O(length), so the window is estimated from one rendered
probe and the chosen head is verified by rendering it: about two ``render`` calls per split, at most
O(log n) when estimates fail. Cuts right after a heading are ranked lower.

Limitations: a part is rendered on its own, so a reference-style link whose definition is in another part
shows as ``[text][ref]``, and emphasis that spans lines can be cut. The rendered length is assumed to grow
roughly with the source length; where it does not (e.g. many link reference definitions, which render to
nothing), heads are still guaranteed to fit but may be shorter than possible.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final

from bot.render.blocks import BLOCK_START_CHARS, PARSER, BlockMap, Container, Fence
from bot.render.cjk import CLASS as CJK_CLASS
from bot.render.graphemes import is_cluster_boundary
from bot.render.mrkdwn import to_mrkdwn
from bot.render.seams import REOPEN_MARK, SEAM, TABLE_SEAM, blank, inserted_length, join_parts
from bot.render.urls import find_urls

__all__ = [
    "REOPEN_MARK",
    "join_parts",
    "slack_length",
    "split_all",
    "split_markdown",
]

_PARAGRAPH: Final = 5
_LINE: Final = 4
_SENTENCE: Final = 3
_WORD: Final = 2
_CJK_GAP: Final = 1
_PREFERRED_REGION: Final = 0.3  # prefer boundaries in the last 30 % of the window
_LOOKAHEAD: Final = 2048  # characters analysed past the last possible cut: blocks and spans that go on
_MAX_ESTIMATES: Final = 6
_MAX_FENCE: Final = 16  # a longer fence is reopened with a shorter one (see _Window._in_fence)
_MAX_INFO: Final = 40  # characters of a fence's language kept on its reopening line

# Characters that must not start a line (closing punctuation, small kana, prolonged sound mark) or end one.
_NO_LINE_START: Final = frozenset(
    "、。，．・：；！？」』）】〕〉》］｝ーゝゞヽヾ々ぁぃぅぇぉっゃゅょゎァィゥェォッャュョヮヵヶ…‥"
)
_NO_LINE_END: Final = frozenset("「『（【〔〈《［｛")

_PARAGRAPH_RE: Final = re.compile(r"(?:\r\n?|\n)(?:[ \t]*(?:\r\n?|\n))+(?=[ \t]*[^ \t\r\n])")
_LINE_RE: Final = re.compile(r"(?:\r\n?|\n)(?=[ \t]*[^ \t\r\n])")
_CJK_SENTENCE_RE: Final = re.compile(r"[。！？]+[」』）】〕〉》”’\"')\]]*[ \t\u3000]*(?=[^ \t\u3000\r\n])")
_SENTENCE_RE: Final = re.compile(r"(?<=[^\s.!?])[.!?]+[)\"'”’\]]*[ \t\u3000]+(?=[^ \t\u3000\r\n])")
_LIST_NUMBER_RE: Final = re.compile(r"[ \t]*\d{1,9}$")
_WORD_RE: Final = re.compile(r"(?<=[^ \t\u3000\r\n])[ \t\u3000]+(?=[^ \t\u3000\r\n])")
_CJK_GAP_RE: Final = re.compile(f"(?<=[{CJK_CLASS}])(?=[{CJK_CLASS}])")

# Spans that a cut should not enter (unless nothing else is possible). These are preferences, not parsing:
# a cut inside one is still correct, it just reads worse.
_PROTECTED_RES: Final = (
    re.compile(r"<[^<>\s][^<>\n]{0,1000}>"),  # Slack link / mention / channel, also HTML tags
    re.compile(  # Markdown link or image, with an optional title and one level of parentheses in the url
        r"!?\[[^\[\]\n]{0,1000}\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:[ \t]+\"[^\"\n]*\")?\)"
    ),
    re.compile(r"!?\[[^\[\]\n]{0,1000}\]\[[^\[\]\n]{0,200}\]"),  # reference link
    re.compile(r"(?:ftp://|mailto:|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"),  # other URLs (http: below)
    re.compile(r":[a-z0-9_+\-']{1,64}:"),  # emoji code
    re.compile(r"(?<!`)(`+)(?!`)[^\n]+?(?<!`)\1(?!`)"),  # inline code span
    re.compile(r"(\*\*|__|~~)(?=\S)[^\n]{0,300}?(?<=\S)\1"),  # bold or strikethrough on one line
    re.compile(r"(?<![*\w])([*_])(?=[^\s*_])[^\n*_]{0,300}?(?<=[^\s*_])\1(?![*\w])"),  # italic on one line
)


def slack_length(text: str) -> int:
    """Length of ``text`` as Slack counts it, conservatively: UTF-16 code units (astral chars count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ------------------------------------------------------------------------------------------ the window


@dataclass(frozen=True, slots=True)
class _Cut:
    """Divide the text at ``pos``: ``close`` is appended to the head and ``insert`` starts the rest."""

    pos: int
    insert: str = ""
    close: str = ""
    forced: bool = False  # a last resort that cuts through a block which cannot be continued


class _Window:
    """Where ``markdown[:len(text)]`` may be cut, and how (the window starts where the markdown starts)."""

    def __init__(self, markdown: str, upto: int) -> None:
        # Look past ``upto`` (to the end of a line): whether a block goes on after a line decides how to cut.
        line_end = markdown.find("\n", min(upto + _LOOKAHEAD, len(markdown)))
        self.markdown = markdown
        self.text = markdown if line_end < 0 else markdown[: line_end + 1]
        self.blocks = BlockMap.build(self.text)
        self.fence_opens = [fence.open_line for fence in self.blocks.fences]
        self.protected = _protected_spans(self.text)
        self._cuts: dict[tuple[int, bool], _Cut | None] = {}
        inserted = inserted_length(markdown)
        own = markdown[inserted:]
        # A head must hold at least one visible character of its own (not only what an earlier split inserted).
        self.floor = inserted + len(own) - len(own.lstrip())
        self.candidates = self._rank_candidates()

    # --- positions

    def fence_at(self, line: int) -> Fence | None:
        """The fenced code block whose lines (opening and closing included) contain ``line``."""
        index = bisect.bisect_right(self.fence_opens, line) - 1
        if index < 0:
            return None
        fence = self.blocks.fences[index]
        last = fence.content_end if fence.closed else fence.content_end - 1
        return fence if line <= last else None

    def is_protected(self, pos: int) -> bool:
        index = bisect.bisect_right(self.protected, (pos, len(self.text) + 1)) - 1
        return index >= 0 and self.protected[index][0] < pos < self.protected[index][1]

    def usable(self, pos: int, *, allow_protected: bool = False) -> _Cut | None:
        if not allow_protected and self.is_protected(pos):
            return None
        return self.make_cut(pos)

    # --- how to cut at a position

    def make_cut(self, pos: int, *, forced: bool = False) -> _Cut | None:
        """The cut at ``pos`` that keeps every part meaning what it meant, or None if there is none.

        ``forced`` (a last resort) also cuts inside headings, HTML blocks and the like, as text.
        """
        key = (pos, forced)
        if key not in self._cuts:
            self._cuts[key] = self._make_cut(pos, forced)
        return self._cuts[key]

    def _make_cut(self, pos: int, forced: bool) -> _Cut | None:
        blocks = self.blocks
        if not self.floor < pos < len(self.markdown) or pos > len(self.text):
            return None
        if not is_cluster_boundary(self.markdown, pos):
            return None
        line = blocks.line_of(pos)
        if pos > blocks.content_end(line):
            return None  # between the two characters of a line break
        at_start = pos == blocks.line_starts[line]
        fence = self.fence_at(line)
        if fence is not None:
            cut = self._in_fence(pos, line, fence, at_start, forced)
        elif at_start:
            cut = self._at_line_start(pos, line, forced)
        else:
            cut = self._in_line(pos, line, forced)
        if cut is None and forced:
            cut = self._as_text(pos, line)
        return _Cut(cut.pos, cut.insert, cut.close, forced=True) if cut is not None and forced else cut

    def _in_fence(self, pos: int, line: int, fence: Fence, at_start: bool, forced: bool) -> _Cut | None:
        blocks = self.blocks
        if line == fence.open_line:
            return self._at_line_start(pos, line, forced) if at_start else None
        if fence.closed and line == fence.content_end:  # the closing line
            if pos == blocks.content_end(line):
                return self._after_leaf(pos, line)
            return None  # the rest would start with a fence that opens a new code block
        if at_start and line == fence.open_line + 1:
            return None  # the head would end with an empty code block
        stack = list(fence.stack)
        if not at_start and pos <= blocks.line_starts[line] + self._text_start(line, stack):
            return None  # inside the container markers or the indentation of the line
        opener_line = blocks.lines[fence.open_line]
        start = blocks.content_start(fence.open_line, stack) if stack else 0
        markup_at = opener_line.find(fence.markup, start or 0)
        openers = None
        if stack and start is not None and markup_at >= 0:
            openers = blocks.openers(stack, indent=opener_line[start:markup_at])
        if openers is not None:
            prefix = openers
        elif len(fence.prefix.expandtabs(4)) - len(fence.prefix.expandtabs(4).lstrip(" ")) >= 4:
            prefix = ""  # indented four columns or more the fence would read as indented code
        else:
            prefix = fence.prefix  # at the top, or the containers are lost (the code stays code)
        last = prefix.rpartition("\n")[2]  # the reopening line's own prefix
        # The reopening line must stay short whatever the model wrote: the language is kept (the rest of the
        # info string is never shown), and a long fence is reopened with the shortest fence that no line of
        # its remaining content can close. Its own closing line is then left out of the head: a fence still
        # open at the end of a part is closed there anyway.
        info = fence.info.split(maxsplit=1)[0][:_MAX_INFO] if fence.info.strip() else ""
        markup = fence.markup
        if len(markup) > _MAX_FENCE:
            runs = (len(run) for run in _fence_runs(self.markdown[pos:], markup[0]) if len(run) < len(markup))
            longest = max(runs, default=2)
            markup = markup[0] * max(3, longest + 1)
        flag = ("0" if at_start else "1") if len(fence.markup) <= _MAX_FENCE else ("2" if at_start else "3")
        spaced = " " + info if info and fence.info[:1] in (" ", "\t") else info
        insert = f"{prefix}{markup}{spaced}{REOPEN_MARK}{flag}\n"
        if not at_start:  # the rest of the code line continues inside the containers, like the lines after it
            insert += blank(last)
        if flag in ("2", "3"):
            return _Cut(pos, insert)
        return _Cut(pos, insert, ("" if at_start else "\n") + blank(last) + fence.markup)

    def _at_line_start(self, pos: int, line: int, forced: bool) -> _Cut | None:
        blocks = self.blocks
        leaf = blocks.leaf_of[line]
        starts_block = leaf is None or leaf.first == line
        if leaf is not None and not starts_block:
            if leaf.kind == "table":
                return self._in_table(pos, line, leaf.first, forced)
            if leaf.kind not in ("paragraph", "code"):
                return self._as_text(pos, line) if forced else None
        around = blocks.stack(line, opened_on_line=False)
        if around:
            # Continue inside the open containers: cut at the end of the last line before instead, where the
            # seam can sit on the same line as (empty) text of the innermost container.
            previous = line - 1
            while previous >= 0 and not blocks.lines[previous].strip():
                previous -= 1
            if previous < 0:
                return None
            before = blocks.leaf_of[previous]
            same = [c.index for c in blocks.stack(previous, opened_on_line=True)] == [c.index for c in around]
            if previous == line - 1 and not (same and before is not None and before.kind in ("paragraph", "code")):
                # The seam would start a paragraph that this line, right after it, could continue or fail to
                # interrupt; after a paragraph or code (or a blank line) it relates to it as in the whole.
                return None
            end = blocks.content_end(previous)
            if same:
                return self._in_line(end, previous, forced)
            # The line before is inside containers that end before this line: continue only those around it.
            openers = blocks.openers(around)
            return None if openers is None or end <= self.floor else _Cut(end, openers + SEAM)
        if leaf is not None and leaf.kind == "paragraph" and not starts_block and self._starts_block(pos, line):
            return _Cut(pos, SEAM)
        return _Cut(pos)

    def _in_line(self, pos: int, line: int, forced: bool) -> _Cut | None:
        blocks = self.blocks
        if pos <= self.floor:
            return None
        leaf = blocks.leaf_of[line]
        stack = blocks.stack(line, opened_on_line=True)
        openers = blocks.openers(stack) if stack else ""
        if openers is None:
            if not forced:
                return None
            openers = ""
        text_start = self._text_start(line, stack)
        at_end = pos == blocks.content_end(line)
        if pos <= blocks.line_starts[line] + text_start and not at_end:
            return self._as_text(pos, line) if forced else None  # inside the markers or the indentation
        if leaf is not None and leaf.kind == "paragraph":
            if not at_end and not self._head_stays_text(pos, line, leaf.first, text_start):
                return self._as_text(pos, line) if forced else None
            if openers or self._starts_block(pos, line):
                return _Cut(pos, openers + SEAM)
            return _Cut(pos)
        if leaf is not None and leaf.kind == "code":
            content = blocks.content_start(line, stack) if stack else 0
            indent = blocks.lines[line][content : content + 4] if content is not None else None
            if indent is None or (indent != " " * 4 and not indent.startswith("\t")):
                return self._as_text(pos, line) if forced else None
            return _Cut(pos, openers + indent[: 1 if indent.startswith("\t") else 4] + SEAM)
        if at_end and (leaf is None or leaf.end == line + 1):
            return self._after_leaf(pos, line)
        return self._as_text(pos, line) if forced else None

    def _after_leaf(self, pos: int, line: int) -> _Cut | None:
        """A cut at the very end of a block's last line (the rest starts with its line break)."""
        stack = self.blocks.stack(line, opened_on_line=True)
        if not stack:
            return _Cut(pos)
        openers = self.blocks.openers(stack)
        return None if openers is None else _Cut(pos, openers + SEAM)

    def _in_table(self, pos: int, line: int, header: int, forced: bool) -> _Cut | None:
        """A cut before a body row: the rest starts with the header and delimiter rows again."""
        blocks = self.blocks
        if line < header + (2 if forced else 3):  # inside the header, or no body row left in the head
            return self._as_text(pos, line) if forced and line > header + 1 else None
        stack = blocks.stack(header, opened_on_line=True)
        header_start = blocks.content_start(header, stack) if stack else 0
        delimiter_start = blocks.content_start(header + 1, stack) if stack else 0
        if header_start is None or delimiter_start is None:
            return None
        row = blocks.lines[header][header_start:].replace(TABLE_SEAM, "")
        indent = row[: len(row) - len(row.lstrip(" "))]
        openers = blocks.openers(stack, indent=indent) if stack else indent
        if openers is None:
            return None
        row = row.lstrip(" ")
        seam_at = 1 if row.startswith("|") else 0
        row = row[:seam_at] + TABLE_SEAM + row[seam_at:]
        delimiter = blocks.lines[header + 1][delimiter_start:].lstrip(" ")
        return _Cut(pos, f"{openers}{row}\n{blank(openers.rpartition(chr(10))[2])}{delimiter}\n")

    def _as_text(self, pos: int, line: int) -> _Cut:
        """Last resort inside a block that cannot be continued (a heading longer than the budget...)."""
        stack = self.blocks.stack(line, opened_on_line=True)
        return _Cut(pos, (self.blocks.openers(stack) or "") + SEAM)

    def _text_start(self, line: int, stack: list[Container]) -> int:
        """Index in ``line``'s text where its own text starts (after container markers and indentation)."""
        text = self.blocks.lines[line]
        start = self.blocks.content_start(line, stack) if stack else 0
        if start is None:  # a lazy continuation line: whatever markers it has come first
            return len(text) - len(text.lstrip(" \t>"))
        return start + len(text[start:]) - len(text[start:].lstrip(" \t"))

    def _head_stays_text(self, pos: int, line: int, first: int, text_start: int) -> bool:
        """Does the line cut at ``pos`` still end the head as paragraph text? (``--- x`` is text, ``--- `` is
        a rule; ``=== x`` under a paragraph line is text, ``===`` turns it into a heading.)"""
        fragment = self.markdown[self.blocks.line_starts[line] + text_start : pos]
        if not fragment or fragment[0] not in BLOCK_START_CHARS:
            return True
        tokens = PARSER.parse(fragment if line == first else "x\n" + fragment)
        return bool(tokens) and tokens[0].type == "paragraph_open" and tokens[-1].type == "paragraph_close"

    def _starts_block(self, pos: int, line: int) -> bool:
        """Would the text from ``pos`` to the end of its line, starting a part, be anything but paragraph text?"""
        blocks = self.blocks
        tail = self.markdown[pos : blocks.content_end(line)]
        if not tail or tail[0] not in BLOCK_START_CHARS:
            return False
        following = blocks.lines[line + 1] if line + 1 < len(blocks.lines) else ""
        tokens = PARSER.parse(tail + "\n" + following if following.strip() else tail)
        return not tokens or tokens[0].type != "paragraph_open"

    # --- ranking

    def _rank_candidates(self) -> dict[int, list[int]]:
        text = self.text
        blocks = self.blocks
        best: dict[int, int] = {}

        def add(pos: int, rank: int) -> None:
            if rank > best.get(pos, 0):
                best[pos] = rank

        for match in _CJK_GAP_RE.finditer(text):
            pos = match.start()
            if text[pos] not in _NO_LINE_START and text[pos - 1] not in _NO_LINE_END:
                add(pos, _CJK_GAP)
        for match in _WORD_RE.finditer(text):
            add(match.end(), _WORD)
        for match in _SENTENCE_RE.finditer(text):
            line_start = blocks.line_starts[blocks.line_of(match.start())]
            if not _LIST_NUMBER_RE.fullmatch(text, line_start, match.start()):  # "1. " is a list marker
                add(match.end(), _SENTENCE)
        for match in _CJK_SENTENCE_RE.finditer(text):
            add(match.end(), _SENTENCE)
        for match in _LINE_RE.finditer(text):
            add(match.end(), _LINE)
        for match in _PARAGRAPH_RE.finditer(text):
            add(match.end(), _PARAGRAPH)
        for pos, rank in list(best.items()):
            if rank >= _LINE:
                best[pos] = self._adjust_line_rank(pos, rank)
        by_rank: dict[int, list[int]] = {rank: [] for rank in range(_CJK_GAP, _PARAGRAPH + 1)}
        for pos in sorted(best):
            by_rank[best[pos]].append(pos)
        return by_rank

    def _adjust_line_rank(self, pos: int, rank: int) -> int:
        blocks = self.blocks
        line = blocks.line_of(pos)
        previous = line - 1
        while previous > 0 and not blocks.lines[previous].strip():
            previous -= 1
        previous_leaf = blocks.leaf_of[previous] if previous >= 0 else None
        if previous_leaf is not None and previous_leaf.kind == "heading":
            return _SENTENCE  # do not leave a heading alone at the end of a message
        if self.fence_at(line) is not None:
            return _LINE  # a blank line inside code is not the end of a paragraph
        return rank

    def choose(self, upto: int, *, last_resort: bool = True) -> _Cut | None:
        """The preferred cut at or before ``upto`` (see the module docstring for the order)."""
        upto = min(upto, len(self.markdown) - 1, len(self.text))
        if upto <= self.floor:
            return None
        region_start = max(self.floor + 1, upto - int(upto * _PREFERRED_REGION))
        for rank in range(_PARAGRAPH, _CJK_GAP - 1, -1):
            cut = self._latest(self.candidates[rank], region_start, upto)
            if cut is not None:
                return cut
        latest: _Cut | None = None
        for rank in range(_PARAGRAPH, _CJK_GAP - 1, -1):
            cut = self._latest(self.candidates[rank], self.floor + 1, region_start - 1)
            if cut is not None and (latest is None or cut.pos > latest.pos):
                latest = cut
        if latest is not None:
            return latest
        for allow_protected in (False, True):
            for pos in range(upto, self.floor, -1):
                cut = self.usable(pos, allow_protected=allow_protected)
                if cut is not None:
                    return cut
        return self.last_resort(upto) if last_resort else None

    def _latest(self, positions: Sequence[int], low: int, high: int) -> _Cut | None:
        index = bisect.bisect_right(positions, high) - 1
        while index >= 0 and positions[index] >= low:
            cut = self.usable(positions[index])
            if cut is not None:
                return cut
            index -= 1
        return None

    def last_resort(self, upto: int) -> _Cut | None:
        """Any cluster boundary at or before ``upto`` that makes progress, cutting through any block."""
        for pos in range(min(upto, len(self.markdown) - 1), self.floor, -1):
            cut = self.make_cut(pos, forced=True)
            if cut is not None:
                return cut
        return None

    def cut(self, cut: _Cut) -> tuple[str, str]:
        return self.markdown[: cut.pos] + cut.close, cut.insert + self.markdown[cut.pos :]


def _fence_runs(text: str, char: str) -> list[str]:
    """Runs of ``char`` that start a line of ``text`` (after up to three spaces): what could close a fence."""
    return re.findall(rf"^ {{0,3}}({re.escape(char)}+)", text, re.MULTILINE)


def _protected_spans(text: str) -> list[tuple[int, int]]:
    spans = sorted(
        [(match.start(), match.end()) for pattern in _PROTECTED_RES for match in pattern.finditer(text)]
        + list(find_urls(text))
    )
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


# ---------------------------------------------------------------------------------------- public API


def split_markdown(
    markdown: str,
    limit: int,
    *,
    render: Callable[[str], str] = to_mrkdwn,
    reserve: int = 0,
    max_source: int | None = None,
) -> tuple[str, str]:
    """Return ``(head, rest)``: the longest good head whose rendered length + ``reserve`` <= ``limit``.

    If the whole text fits (and is not longer than ``max_source``), return ``(markdown, "")``; a text that
    is blank apart from what an earlier split inserted is never split. Otherwise ``head`` and ``rest`` are
    non-empty, ``slack_length(render(head)) + reserve <= limit``, ``head`` has at most ``max_source``
    characters of the model's text, and ``join_parts([head, rest]) == markdown``; ``rest`` may start with
    Markdown the splitter inserted so that it means what it meant in the whole (see the module docstring).
    "Longest" is up to the boundary preferences in the module docstring. Texts of up to twice the budget
    are rendered as a whole first; longer texts are assumed not to fit (they could only if rendering
    halved them, e.g. pages of link reference definitions) and are split, which keeps each call
    O(budget) instead of O(n).

    Raises ``ValueError`` if ``limit - reserve`` is not positive or no non-empty head fits.
    """
    budget = limit - reserve
    if budget <= 0:
        raise ValueError(f"limit ({limit}) must be larger than reserve ({reserve})")

    def measure(text: str) -> int:
        return slack_length(render(text))

    if not markdown:
        return "", ""
    own = markdown[inserted_length(markdown) :]
    size = len(markdown.rstrip())  # trailing whitespace never needs a part of its own
    cap = len(markdown) if max_source is None else max(1, max_source)
    if not own.strip():
        return markdown, ""
    if size <= 2 * budget and len(markdown) <= cap:
        probe, probe_length = size, measure(markdown)
        if probe_length <= budget:
            return markdown, ""
    else:
        probe = min(budget, cap)
        probe_length = measure(markdown[:probe])
        if 2 * probe_length < probe and len(markdown) <= cap and measure(markdown) <= budget:
            return markdown, ""  # it renders far shorter than it is (long fences, link definitions...)
    estimate = min(size - 1, cap, probe * budget // max(probe_length, 1))
    window = _Window(markdown, estimate)

    upto = estimate
    failed_at = min(size, cap + 1)
    for _ in range(_MAX_ESTIMATES):
        cut = window.choose(upto, last_resort=False)
        if cut is None:
            break
        head, rest = window.cut(cut)
        length = measure(head)
        if length <= budget:
            return head, rest
        failed_at = min(failed_at, cut.pos)
        upto = min(cut.pos - 1, cut.pos * budget // length)

    # Estimates kept failing (rendering is far from proportional here): binary search over positions, first
    # for a proper cut, then for a last resort.
    for last_resort in (False, True):
        best: tuple[str, str] | None = None
        low, high = 1, failed_at - 1
        while low <= high:
            middle = (low + high) // 2
            cut = window.choose(middle, last_resort=last_resort)
            if cut is None:
                low = middle + 1
                continue
            head, rest = window.cut(cut)
            if measure(head) <= budget:
                best = (head, rest)
                low = max(middle, cut.pos) + 1
            else:
                high = min(middle, cut.pos) - 1
        if best is not None:
            return best
    raise ValueError(f"no non-empty head of the text renders within {budget} characters")


def split_all(markdown: str, limit: int, *, render: Callable[[str], str] = to_mrkdwn) -> list[str]:
    """Split ``markdown`` into parts that each render within ``limit`` (repeated :func:`split_markdown`).

    Every part is non-empty, ``slack_length(render(part)) <= limit`` for each part, and
    ``join_parts(result) == markdown``. An empty text gives an empty list.
    """
    parts: list[str] = []
    rest = markdown
    while rest:
        head, rest = split_markdown(rest, limit, render=render)
        parts.append(head)
    return parts
