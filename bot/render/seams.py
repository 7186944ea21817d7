"""What the splitter inserts where it cuts an answer, and how the parts join back exactly (pure).

Each part of a long answer is rendered on its own, so a part that starts inside a code block, a table or a
list item would lose what it is. The splitter therefore inserts, at the start of the next part, the
Markdown that reopens it, and marks the insertion with invisible characters so that :func:`join_parts`
can remove it again and the converter can hide it. An insertion ends on the first line of a part that
carries a mark; only lines that open containers (``-``, ``3.``, ``>``) may come before it, and a repeated
table header also takes the line after it:

* **Fence** (a cut inside a fenced code block): the previous part ends with an inserted closing line
  ``<prefix><fence>`` (preceded by an inserted newline when the cut was in the middle of a code line), and
  the part starts with ``<openers><fence><language> ⁣split⁣<flag>`` + newline, where :data:`REOPEN_MARK`
  sits in the fence's info string (never shown). When the cut was in the middle of a code line, ``<prefix>``
  follows too, so that the rest of that line stays inside the containers. ``<flag>`` is ``0`` for a cut at
  the start of a line and ``1`` for one in the middle; ``2`` and ``3`` likewise when nothing was appended to
  the previous part (a fence longer than 16 characters is reopened with a shorter one, and left open at
  the end of the previous part, where it ends anyway).
* **Table** (a cut between two body rows): the part starts with the table's header row and delimiter row
  again; :data:`TABLE_SEAM` sits in the header's first cell.
* **Seam** (any other cut that needs one): the part starts with ``<openers>`` + :data:`SEAM`, followed by
  the part's own text on the same line. ``<openers>`` are the markers of the block quotes and list items
  the cut is inside (``> ``, ``- ``, ``3. ``…), each with its original content column, so that the text
  continues inside them (a container indented within a list item goes on the next line, after the item's
  marker alone); the converter shows quotes again but not the bullets or numbers of items opened by the
  insertion (they were shown already). A
  seam alone (no openers) keeps a part from starting with something that would change its meaning: text
  that read ``~~~ four`` in the middle of a paragraph would otherwise open a code block.

``<openers>`` may also precede a fence reopening line or a repeated table header. ``<prefix>`` is
``<openers>`` with everything but ``>`` and whitespace blanked. The marks are made of U+2062–U+2064
(invisible operators), which model output practically never contains at the start of a part.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

REOPEN_MARK: Final = " \u2063split\u2063"
"""Ends (followed by a ``0``–``3`` flag) the fence line that the splitter prepends to a continued code block.

U+2063 (INVISIBLE SEPARATOR) around the word makes an accidental match in model output practically
impossible; the whole marker lives in the fence's info string, which the renderer never shows.
"""

SEAM: Final = "\u2063\u2064\u2063"
"""Ends the inserted openers at the start of a part; the part's own text follows on the same line."""

TABLE_SEAM: Final = "\u2063\u2062\u2063"
"""In the first cell of a repeated table header: this line and the delimiter row after it are inserted."""

_REOPEN_FLAG_RE: Final = re.compile(re.escape(REOPEN_MARK) + r"([0-3])\r?$")
_FENCE_RUN_RE: Final = re.compile(r"`{3,}|~{3,}")
_NEWLINE_RE: Final = re.compile(r"\r\n?|\n")
_OPENER_LINE_RE: Final = re.compile(r"[ \t>]*(?:(?:[-+*]|\d{1,9}[.)])[ \t>]*)*")  # only opens containers
_MAX_OPENER_LINES: Final = 8


def blank(prefix: str) -> str:
    """A container prefix as it continues on later lines: ``>`` and whitespace kept, markers blanked."""
    return re.sub(r"[^\s>]", " ", prefix)


def first_line(text: str) -> str:
    """``text`` up to (not including) its first line break."""
    match = _NEWLINE_RE.search(text)
    return text if match is None else text[: match.start()]


def reopen_flag(line: str) -> str | None:
    """``"0"``/``"1"`` if ``line`` is a fence reopening line, else None."""
    match = _REOPEN_FLAG_RE.search(line)
    return match.group(1) if match else None


def strip_reopen_mark(info: str) -> str:
    """A fence's info string without a reopening mark (and its flag)."""
    return _REOPEN_FLAG_RE.sub("", info).rstrip()


def seam_line(markdown: str) -> tuple[int, int, str] | None:
    """(index, start, text) of the line that ends the splitter's insertion at the start of ``markdown``.

    That is the first line carrying a seam, a table seam or a reopening mark, when every line before it
    only opens containers (``-``, ``3.``, ``>`` and spaces); None if ``markdown`` does not start with an
    insertion.
    """
    start = 0
    for index in range(_MAX_OPENER_LINES + 1):
        end = _line_end(markdown, start)
        line = first_line(markdown[start:end])
        if SEAM in line or TABLE_SEAM in line or reopen_flag(line) is not None:
            return index, start, line
        if end >= len(markdown) or not _OPENER_LINE_RE.fullmatch(line):
            return None
        start = end
    return None


def is_continued(markdown: str) -> bool:
    """True if ``markdown`` starts with an insertion of the splitter (it continues a previous part)."""
    return seam_line(markdown) is not None


def inserted_length(markdown: str) -> int:
    """How many characters at the start of ``markdown`` the splitter inserted (0 if none)."""
    found = seam_line(markdown)
    if found is None:
        return 0
    _index, start, line = found
    flag = reopen_flag(line)
    if flag is not None:
        fence = _FENCE_RUN_RE.search(line)
        continued = blank(line[: fence.start()]) if fence is not None else ""
        end = _line_end(markdown, start)
        return end + len(continued) if flag in ("1", "3") else end
    if TABLE_SEAM in line:
        return _line_end(markdown, _line_end(markdown, start))
    return start + line.index(SEAM) + len(SEAM)


def _line_end(text: str, start: int) -> int:
    """Index just after the line break of the line that starts at ``start`` (or the end of ``text``)."""
    match = _NEWLINE_RE.search(text, start)
    return len(text) if match is None else match.end()


def closing_line(reopen_line: str) -> str | None:
    """The closing fence line the splitter appended to the previous part for this reopening line."""
    fence = _FENCE_RUN_RE.search(reopen_line)
    if fence is None:
        return None
    return blank(reopen_line[: fence.start()]) + fence.group(0)


def join_parts(parts: Sequence[str]) -> str:
    """Inverse of splitting: drop every insertion and concatenate the parts.

    A part other than the first loses its inserted start (see the module docstring); for a fence
    reopening line, the previous part loses its inserted closing line (plus the newline inserted before it
    when the flag is ``1``). Everything else is concatenated unchanged, so ``join_parts(split_all(t, n))
    == t`` for every text ``t``.
    """
    pieces: list[str] = []
    for part in parts:
        found = seam_line(part) if pieces else None
        if found is not None:
            line = found[2]
            flag = reopen_flag(line)
            closing = closing_line(line) if flag in ("0", "1") else None
            if flag in ("2", "3"):
                part = part[inserted_length(part) :]
            elif closing is not None and pieces[-1].endswith(closing):
                previous = pieces[-1][: len(pieces[-1]) - len(closing)]
                if flag == "1" and previous.endswith("\n"):
                    previous = previous[:-1]
                pieces[-1] = previous
                part = part[inserted_length(part) :]
            elif flag is None:
                part = part[inserted_length(part) :]
        pieces.append(part)
    return "".join(pieces)
