"""Cut a long Markdown answer into parts that each fit into one Slack message once rendered.

Slack rejects a ``text`` longer than 4,000 characters, so a long answer is posted as several messages.
The splitter works on the Markdown source; every part is later rendered on its own (by default with
:func:`bot.render.mrkdwn.to_mrkdwn`).

Invariants (checked by the unit and property tests):

* ``slack_length(render(part)) + reserve <= limit`` for the head returned by :func:`split_markdown` and for
  every part returned by :func:`split_all` (with ``reserve=0``). If no head at all can be made to fit, a
  ``ValueError`` is raised instead of returning an oversized part.
* No part is empty, and ``join_parts(split_all(text, limit)) == text`` for every text.
* A cut never splits a code point pair, a combining sequence, an emoji ZWJ sequence, a flag or CRLF.
* Pure: no I/O and no shared mutable state.

Code fences: when a cut falls inside a fenced code block, the head gets a closing fence line appended
(``<container prefix><fence>``, e.g. ```` ``` ```` or ``>   ~~~~``) and the rest starts with a reopening
line ``<container prefix><fence><info> ⁣split⁣<flag>`` (see :data:`REOPEN_MARK`). The marker sits in the
fence's info string, which ``to_mrkdwn`` drops together with the language, so users never see it. ``<flag>``
is ``1`` when a newline had to be inserted before the closing line (the cut was in the middle of a code
line) and ``0`` otherwise. :func:`join_parts` removes exactly these inserted lines.

Choosing the cut: the splitter finds the window of source positions whose rendered prefix fits and ranks
the boundaries in it: end of a paragraph > end of a line > after a sentence (``。！？`` directly,
``.!?`` followed by a space) > between words > between two CJK characters > anywhere else. It takes the
best kind found in the last 30 % of the window (the latest of that kind); if that region has no boundary of
these kinds, the latest such boundary in the whole window; then any position outside a Slack link ``<…>``,
a Markdown link, a URL, an emoji code ``:name:`` and an inline code span; and only then any position at all.
Rendering costs O(length), so the window is estimated from one rendered probe and the chosen head is
verified by rendering it: about two ``render`` calls per split, at most O(log n) when estimates fail.
Cuts right after a heading, between a table's header and delimiter rows, and before a deeply indented
line (which would start the next part as an indented code block) are ranked lower.

Limitations: every part is rendered on its own, so a part that starts inside a list, quote or table loses
that context (a table continues without its header row; a nested list item continues as a top-level item;
a fence nested four or more columns deep reopens as an indented code block). The rendered length is
assumed to grow roughly with the source length; where it does not (e.g. many link reference definitions,
which render to nothing), heads are still guaranteed to fit but may be shorter than possible.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.render.cjk import CLASS as CJK_CLASS
from bot.render.graphemes import is_cluster_boundary
from bot.render.mrkdwn import to_mrkdwn
from bot.render.urls import find_urls

__all__ = ["REOPEN_MARK", "join_parts", "slack_length", "split_all", "split_markdown"]

REOPEN_MARK: Final = " \u2063split\u2063"
"""Ends (followed by a ``0``/``1`` flag) the fence line that the splitter prepends to a continued code block.

U+2063 (INVISIBLE SEPARATOR) around the word makes an accidental match in model output practically
impossible; the whole marker lives in the fence's info string, which the renderer never shows.
"""

_PARAGRAPH: Final = 5
_LINE: Final = 4
_SENTENCE: Final = 3
_WORD: Final = 2
_CJK_GAP: Final = 1
_PREFERRED_REGION: Final = 0.3  # prefer boundaries in the last 30 % of the window
_LOOKAHEAD: Final = 2048  # characters scanned past the window to see spans that cross its end
_MAX_ESTIMATES: Final = 6

# Block-level parse only (no inline rules): enough to locate fences, indented code and tables.
_BLOCK_PARSER: Final = MarkdownIt("commonmark").enable(["table"]).disable("inline")

_NEWLINE_RE: Final = re.compile(r"\r\n?|\n")  # markdown-it's notion of a line break
_REOPEN_FLAG_RE: Final = re.compile(re.escape(REOPEN_MARK) + r"([01])$")
_FENCE_RUN_RE: Final = re.compile(r"`{3,}|~{3,}")

_ATX_HEADING_RE: Final = re.compile(r" {0,3}#{1,6}(?:[ \t]|\r?\n|\r|$)")
_SETEXT_UNDERLINE_RE: Final = re.compile(r" {0,3}=+[ \t]*(?:\r?\n|\r|$)")
_TABLE_DELIMITER_RE: Final = re.compile(
    r"[ \t]*\|?[ \t]*:?-+:?[ \t]*(?:\|[ \t]*:?-+:?[ \t]*)*\|?[ \t]*(?:\r?\n|\r|$)"
)

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

# Spans that a cut must not enter (unless nothing else is possible).
_PROTECTED_RES: Final = (
    re.compile(r"<[^<>\s][^<>\n]{0,1000}>"),  # Slack link / mention / channel, also HTML tags
    re.compile(  # Markdown link or image, with an optional title and one level of parentheses in the url
        r"!?\[[^\[\]\n]{0,1000}\]\([^()\s]*(?:\([^()\s]*\)[^()\s]*)*(?:[ \t]+\"[^\"\n]*\")?\)"
    ),
    re.compile(r"!?\[[^\[\]\n]{0,1000}\]\[[^\[\]\n]{0,200}\]"),  # reference link
    re.compile(r"(?:ftp://|mailto:|www\.)[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+"),  # other URLs (http: below)
    re.compile(r":[a-z0-9_+\-']{1,64}:"),  # emoji code
    re.compile(r"(?<!`)(`+)(?!`)[^\n]+?(?<!`)\1(?!`)"),  # inline code span
)


def slack_length(text: str) -> int:
    """Length of ``text`` as Slack counts it, conservatively: UTF-16 code units (astral chars count 2)."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


# ------------------------------------------------------------------------------------ window analysis


@dataclass(frozen=True, slots=True)
class _Fence:
    open_line: int
    content_end: int  # first line after the content (the closing line if there is one)
    closed: bool
    markup: str
    prefix: str  # container prefix for continuation lines, e.g. "> " or "   "
    info: str  # the opener's info string, without an earlier REOPEN_MARK


@dataclass(frozen=True, slots=True)
class _Cut:
    """Where to cut and, if the cut is inside a fence, that fence."""

    pos: int
    fence: _Fence | None


_OK: Final = "ok"
_INSIDE: Final = "inside"  # inside fence content: insert closing/reopening fence lines
_POOR: Final = "poor"  # legal but useless (would leave an empty code block)
_NEVER: Final = "never"  # inside a fence's opening or closing line


@dataclass(slots=True)
class _Window:
    """Boundary analysis of ``markdown[:len(text)]``; ``text`` starts where the markdown starts."""

    markdown: str
    text: str
    line_starts: list[int]
    fences: list[_Fence]
    code_lines: set[int]
    poor_line_starts: set[int]
    heading_lines: set[int]
    protected: list[tuple[int, int]]
    fence_opens: list[int] = field(default_factory=list)
    candidates: dict[int, list[int]] = field(default_factory=dict)

    @classmethod
    def build(cls, markdown: str, upto: int) -> _Window:
        line_end = markdown.find("\n", upto)
        end = len(markdown) if line_end < 0 else line_end + 1
        text = markdown[: min(end, upto + _LOOKAHEAD, len(markdown))]
        line_starts = [0, *(match.end() for match in _NEWLINE_RE.finditer(text))]
        lines = [text[line_starts[i] : line_starts[i + 1]] for i in range(len(line_starts) - 1)]
        lines.append(text[line_starts[-1] :])
        fences: list[_Fence] = []
        code_lines: set[int] = set()
        poor: set[int] = set()
        headings: set[int] = set()
        if _FENCE_RUN_RE.search(text) is None:
            # No fence in the window: skip the (list-heavy documents: slow) block parse and find headings
            # and table delimiter rows line by line. Indented code blocks are then not told apart, which
            # only affects the ranking of cuts before deeply indented lines.
            for index, line in enumerate(lines):
                if _ATX_HEADING_RE.match(line) or _SETEXT_UNDERLINE_RE.match(line):
                    headings.add(index)
                elif "|" in line and _TABLE_DELIMITER_RE.match(line):
                    poor.add(index)
        else:
            for token in _BLOCK_PARSER.parse(text):
                if token.map is None:
                    continue
                first, last = token.map
                if token.type == "fence":
                    fences.append(_fence_from_token(token, lines[first]))
                elif token.type == "code_block":
                    code_lines.update(range(first, last))
                elif token.type == "table_open":
                    poor.add(first + 1)  # between the header row and the delimiter row
                elif token.type == "heading_open":
                    headings.add(last - 1)
        protected = _protected_spans(text)
        window = cls(markdown, text, line_starts, fences, code_lines, poor, headings, protected)
        window.fence_opens = [fence.open_line for fence in fences]
        window.candidates = window._rank_candidates()
        return window

    # --- positions

    def line_text(self, line: int) -> str:
        end = self.line_starts[line + 1] if line + 1 < len(self.line_starts) else len(self.text)
        return self.text[self.line_starts[line] : end]

    def line_of(self, pos: int) -> int:
        return bisect.bisect_right(self.line_starts, pos) - 1

    def fence_status(self, pos: int) -> tuple[str, _Fence | None]:
        line = self.line_of(pos)
        at_start = self.line_starts[line] == pos
        index = bisect.bisect_right(self.fence_opens, line) - 1
        if index < 0:
            return _OK, None
        fence = self.fences[index]
        if line == fence.open_line:
            return (_OK, None) if at_start else (_NEVER, None)
        if line < fence.content_end:
            return (_POOR, fence) if line == fence.open_line + 1 and at_start else (_INSIDE, fence)
        if fence.closed and line == fence.content_end:
            return (_POOR, None) if at_start else (_NEVER, None)
        return _OK, None

    def is_protected(self, pos: int) -> bool:
        index = bisect.bisect_right(self.protected, (pos, len(self.text) + 1)) - 1
        return index >= 0 and self.protected[index][0] < pos < self.protected[index][1]

    def usable(self, pos: int, *, allow_protected: bool = False) -> _Cut | None:
        if not 0 < pos < len(self.markdown) or not is_cluster_boundary(self.markdown, pos):
            return None
        status, fence = self.fence_status(pos)
        if status not in (_OK, _INSIDE):
            return None
        if not allow_protected and self.is_protected(pos):
            return None
        return _Cut(pos, fence if status == _INSIDE else None)

    # --- ranking

    def _rank_candidates(self) -> dict[int, list[int]]:
        text = self.text
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
            line_start = self.line_starts[self.line_of(match.start())]
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
        line = self.line_of(pos)
        if line in self.poor_line_starts:
            return _CJK_GAP
        previous = line - 1
        while previous > 0 and not self.line_text(previous).strip():
            previous -= 1
        if previous in self.heading_lines:
            return _SENTENCE  # do not leave a heading alone at the end of a message
        status, _fence = self.fence_status(pos)
        if status == _INSIDE:
            return _LINE  # a blank line inside code is not the end of a paragraph
        line_text = self.line_text(line)
        indent = len(line_text.expandtabs(4)) - len(line_text.expandtabs(4).lstrip(" "))
        if indent >= 4 and line not in self.code_lines:
            # The next part would start with a deeply indented line (e.g. a nested list item), which on its
            # own renders as an indented code block: only take it if nothing better is around.
            return _WORD
        return rank

    def choose(self, upto: int) -> _Cut | None:
        """The preferred cut at or before ``upto`` (see the module docstring for the order)."""
        upto = min(upto, len(self.markdown) - 1)
        if upto < 1:
            return None
        region_start = max(1, upto - int(upto * _PREFERRED_REGION))
        for rank in range(_PARAGRAPH, _CJK_GAP - 1, -1):
            cut = self._latest(self.candidates[rank], region_start, upto)
            if cut is not None:
                return cut
        latest: _Cut | None = None
        for rank in range(_PARAGRAPH, _CJK_GAP - 1, -1):
            cut = self._latest(self.candidates[rank], 1, region_start - 1)
            if cut is not None and (latest is None or cut.pos > latest.pos):
                latest = cut
        if latest is not None:
            return latest
        for allow_protected in (False, True):
            for pos in range(upto, 0, -1):
                cut = self.usable(pos, allow_protected=allow_protected)
                if cut is not None:
                    return cut
        return self.last_resort(upto)

    def _latest(self, positions: Sequence[int], low: int, high: int) -> _Cut | None:
        index = bisect.bisect_right(positions, high) - 1
        while index >= 0 and positions[index] >= low:
            cut = self.usable(positions[index])
            if cut is not None:
                return cut
            index -= 1
        return None

    def last_resort(self, upto: int) -> _Cut | None:
        """Any cluster boundary at or before ``upto`` that makes progress (may be inside a fence line)."""
        first_line = self.line_text(0)
        # Never cut into a reopening line: join_parts must find it whole.
        floor = len(first_line) if _reopen_flag(first_line.rstrip("\r\n")) is not None else 0
        for pos in range(min(upto, len(self.markdown) - 1), floor, -1):
            if not is_cluster_boundary(self.markdown, pos):
                continue
            status, fence = self.fence_status(pos)
            if status != _POOR:
                return _Cut(pos, fence if status == _INSIDE else None)
        return None

    # --- cutting

    def cut(self, cut: _Cut) -> tuple[str, str]:
        markdown, pos, fence = self.markdown, cut.pos, cut.fence
        if fence is None:
            return markdown[:pos], markdown[pos:]
        at_line_start = markdown[pos - 1] in "\r\n"
        closing = fence.prefix + fence.markup
        head = markdown[:pos] + (closing if at_line_start else "\n" + closing)
        reopen = f"{fence.prefix}{fence.markup}{fence.info}{REOPEN_MARK}{'0' if at_line_start else '1'}\n"
        return head, reopen + markdown[pos:]


def _fence_from_token(token: Token, opener: str) -> _Fence:
    """Describe a ``fence`` token; ``opener`` is the source line it starts on."""
    assert token.map is not None
    first, last = token.map
    content, markup = token.content, token.markup
    # A closed fence spans its opening line, its content lines and its closing line.
    content_lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
    closed = content_lines == last - first - 2
    index = opener.find(markup)
    if index < 0:  # not expected; fall back to what markdown-it reports
        prefix, info = "", token.info
    else:
        # Container prefix of the continuation lines: keep ">" and whitespace, blank out list markers.
        prefix = re.sub(r"[^\s>]", " ", opener[:index])
        info = opener[index + len(markup) :].rstrip("\r\n")
    info = _REOPEN_FLAG_RE.sub("", info).rstrip()
    return _Fence(first, last - 1 if closed else last, closed, markup, prefix, info)


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
) -> tuple[str, str]:
    """Return ``(head, rest)``: the longest good head whose rendered length + ``reserve`` <= ``limit``.

    If the whole text fits, return ``(markdown, "")``. Otherwise ``head`` is non-empty, ``rest`` is
    non-empty, ``slack_length(render(head)) + reserve <= limit`` and ``join_parts([head, rest]) ==
    markdown``; when the cut is inside a fenced code block, ``head`` ends with an inserted closing fence
    line and ``rest`` starts with an inserted reopening line carrying :data:`REOPEN_MARK`. "Longest" is
    up to the boundary preferences in the module docstring. Texts of up to twice the budget are rendered
    as a whole first; longer texts are assumed not to fit (they could only if rendering halved them, e.g.
    pages of link reference definitions) and are split, which keeps each call O(budget) instead of O(n).

    Raises ``ValueError`` if ``limit - reserve`` is not positive or no non-empty head fits.
    """
    budget = limit - reserve
    if budget <= 0:
        raise ValueError(f"limit ({limit}) must be larger than reserve ({reserve})")
    size = len(markdown)

    def measure(text: str) -> int:
        return slack_length(render(text))

    if size == 0:
        return "", ""
    if size <= 2 * budget:
        probe, probe_length = size, measure(markdown)
        if probe_length <= budget:
            return markdown, ""
    else:
        probe = budget
        probe_length = measure(markdown[:probe])
    estimate = min(size - 1, probe * budget // max(probe_length, 1))
    window = _Window.build(markdown, estimate)

    upto = estimate
    failed_at = size
    for _ in range(_MAX_ESTIMATES):
        cut = window.choose(upto)
        if cut is None:
            break
        head, rest = window.cut(cut)
        length = measure(head)
        if length <= budget:
            return head, rest
        failed_at = min(failed_at, cut.pos)
        upto = min(cut.pos - 1, cut.pos * budget // length)

    # Estimates kept failing (rendering is far from proportional here): binary search over positions.
    best: tuple[str, str] | None = None
    low, high = 1, failed_at - 1
    while low <= high:
        middle = (low + high) // 2
        cut = window.choose(middle)
        if cut is None:
            low = middle + 1
            continue
        head, rest = window.cut(cut)
        if measure(head) <= budget:
            best = (head, rest)
            low = max(middle, cut.pos) + 1
        else:
            high = min(middle, cut.pos) - 1
    if best is None:
        raise ValueError(f"no non-empty head of the text renders within {budget} characters")
    return best


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


def _reopen_flag(first_line: str) -> str | None:
    match = _REOPEN_FLAG_RE.search(first_line)
    return match.group(1) if match else None


def join_parts(parts: Sequence[str]) -> str:
    """Inverse of :func:`split_all`: drop the inserted fence lines and concatenate the parts.

    A part (other than the first) whose first line ends with :data:`REOPEN_MARK` + flag loses that line,
    and the previous part loses its inserted closing fence line (plus the newline inserted before it when
    the flag is ``1``). Everything else is concatenated unchanged, so ``join_parts(split_all(t, n)) == t``.
    """
    pieces: list[str] = []
    for part in parts:
        newline = part.find("\n")
        flag = _reopen_flag(part[:newline]) if newline >= 0 and pieces else None
        if flag is not None:
            reopen_line = part[:newline]
            fence = _FENCE_RUN_RE.search(reopen_line)
            closing = reopen_line[: fence.end()] if fence else ""
            previous = pieces[-1]
            if closing and previous.endswith(closing):
                previous = previous[: len(previous) - len(closing)]
                if flag == "1" and previous.endswith("\n"):
                    previous = previous[:-1]
                pieces[-1] = previous
                part = part[newline + 1 :]
        pieces.append(part)
    return "".join(pieces)
