"""The block structure of a Markdown text, line by line (pure): what the splitter needs to cut it safely.

markdown-it-py's block parser (CommonMark plus GFM tables, no inline parsing) says, for every line, which
leaf block it belongs to (paragraph, heading, code, table, HTML, thematic break) and inside which block
quotes and list items. From that, :meth:`BlockMap.openers` writes the Markdown that opens the same
containers again at the start of a new part (``> ``, ``- ``, ``3. ``…, with the same content columns), so
that text continued there stays inside them. Reading the containers' markers back from the source lines
is done column by column; a line whose container prefix holds a tab is not reopened (None).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.render.seams import blank, strip_reopen_mark

PARSER: Final = MarkdownIt("commonmark", {"maxNesting": 20}).enable(["table"]).disable("inline")
"""Block-level parse only: enough for leaves, containers and fences (configured once, only read)."""

BLOCK_START_CHARS: Final = frozenset("#>-+*=_~`<|[0123456789 \t")
"""What a line must start with to possibly be something other than paragraph text (checked by parsing)."""

_NEWLINE_RE: Final = re.compile(r"\r\n?|\n")
LEAVES: Final = {
    "paragraph_open": "paragraph",
    "heading_open": "heading",
    "fence": "fence",
    "code_block": "code",
    "table_open": "table",
    "html_block": "html",
    "hr": "hr",
}
"""The parser's token of each kind of leaf block, and that kind's name here."""


@dataclass(frozen=True, slots=True)
class Leaf:
    kind: str  # paragraph, heading, fence, code, table, html, hr
    first: int  # first line
    end: int  # first line after it


@dataclass(frozen=True, slots=True)
class Container:
    kind: str  # "quote" or "item"
    first: int  # the line its marker is on
    end: int  # first line after it
    number: int | None = None  # an ordered item's number as shown (start of its list + its index)
    index: int = 0  # its position among all containers (nested quotes can share everything else)


@dataclass(frozen=True, slots=True)
class Fence:
    open_line: int
    content_end: int  # first line after the content (the closing line if there is one)
    closed: bool
    markup: str
    prefix: str  # the opener's container prefix, blanked: how continuation lines are indented
    info: str  # the opener's info string, without an earlier reopening mark
    stack: tuple[Container, ...] = ()  # the containers the fence is in


@dataclass(slots=True)
class BlockMap:
    """Leaves, containers and fences of ``text`` (line numbers are 0-based)."""

    text: str
    line_starts: list[int]
    lines: list[str]  # without their line breaks
    leaf_of: list[Leaf | None]
    containers: list[Container]
    fences: list[Fence]
    _segments: dict[int, tuple[str, int] | None] = field(default_factory=dict)
    _stacks: dict[tuple[int, bool], list[Container]] = field(default_factory=dict)
    _openers: dict[tuple[tuple[int, ...], str], str | None] = field(default_factory=dict)
    _starts: dict[tuple[int, tuple[int, ...]], int | None] = field(default_factory=dict)

    @classmethod
    def build(cls, text: str) -> BlockMap:
        line_starts = [0, *(match.end() for match in _NEWLINE_RE.finditer(text))]
        ends = [match.start() for match in _NEWLINE_RE.finditer(text)] + [len(text)]
        lines = [text[start:end] for start, end in zip(line_starts, ends, strict=True)]
        leaf_of: list[Leaf | None] = [None] * len(lines)
        containers: list[Container] = []
        fence_tokens: list[tuple[Token, tuple[Container, ...]]] = []
        open_stack: list[Container | None] = []  # None for container tokens we do not track (lists)
        numbers: list[int] = []  # next number of each open ordered list
        for token in PARSER.parse(text):
            if token.nesting == -1:
                if token.type in ("bullet_list_close", "ordered_list_close"):
                    numbers.pop()
                if open_stack and token.type in ("blockquote_close", "list_item_close"):
                    open_stack.pop()
                continue
            if token.type in ("bullet_list_open", "ordered_list_open"):
                numbers.append(int(str(token.attrGet("start") or 1)) if token.type == "ordered_list_open" else -1)
                continue
            if token.map is None:
                continue
            first, last = token.map
            if token.type in ("blockquote_open", "list_item_open"):
                number: int | None = None
                if token.type == "list_item_open" and numbers and numbers[-1] >= 0:
                    number = numbers[-1]
                    numbers[-1] += 1
                container = Container(
                    "quote" if token.type == "blockquote_open" else "item", first, last, number, len(containers)
                )
                containers.append(container)
                open_stack.append(container)
                continue
            leaf_kind = LEAVES.get(token.type)
            if leaf_kind is None:
                continue
            leaf = Leaf(leaf_kind, first, last)
            for line in range(first, min(last, len(lines))):
                leaf_of[line] = leaf
            if token.type == "fence":
                fence_tokens.append((token, tuple(c for c in open_stack if c is not None)))
        block_map = cls(text, line_starts, lines, leaf_of, containers, [])
        block_map.fences = [block_map._fence(token, stack) for token, stack in fence_tokens]
        return block_map

    # --- lines

    def line_of(self, pos: int) -> int:
        """The line that ``pos`` is on (a position just after a line break is on the next line)."""
        low, high = 0, len(self.line_starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.line_starts[middle] <= pos:
                low = middle
            else:
                high = middle - 1
        return low

    def content_end(self, line: int) -> int:
        """Position of the end of ``line``'s text (before its line break)."""
        return self.line_starts[line] + len(self.lines[line])

    def stack(self, line: int, *, opened_on_line: bool) -> list[Container]:
        """The containers ``line`` is inside, outermost first; with ``opened_on_line`` also those whose
        marker is on ``line`` itself (right for a cut in the middle of the line, wrong at its start)."""
        key = (line, opened_on_line)
        if key not in self._stacks:
            self._stacks[key] = [
                c for c in self.containers if (c.first <= line if opened_on_line else c.first < line) and line < c.end
            ]
        return self._stacks[key]

    # --- reopening containers

    def openers(self, stack: list[Container], *, indent: str = "") -> str | None:
        """Markdown that opens ``stack`` again, each container with its original content column, followed by
        ``indent`` (the indentation of what comes next inside the innermost container).

        Containers go on one line (``> - 3. ``) where that keeps every column. Something indented inside a
        list item cannot follow the item's marker on the same line (the spaces would move the item's content
        column), so the marker then ends a line of its own (an item may start with an empty line) and what
        follows goes on the next, indented as it was. When the marker is followed by more than one space it
        is started at the item's content column instead.
        """
        key = (tuple(c.index for c in stack), indent)
        if key not in self._openers:
            self._openers[key] = self._make_openers(stack, indent)
        return self._openers[key]

    def _make_openers(self, stack: list[Container], indent: str) -> str | None:
        pieces: list[tuple[str, str]] = []
        for container in stack:
            segment = self._segment(container, stack)
            if segment is None:
                return None
            pieces.append((segment[0], container.kind))
        if indent:
            pieces.append((indent, "indent"))
        done: list[str] = []
        line = ""
        for index, (text, _kind) in enumerate(pieces):
            lead = len(text) - len(text.lstrip(" "))
            if index and lead and pieces[index - 1][1] == "item":
                if line.endswith(" ") and not line.endswith("  "):
                    done.append(line.rstrip(" "))
                    line = blank(line)
                else:
                    text = text[lead:]
            line += text
        return "\n".join([*done, line])

    def content_start(self, line: int, stack: list[Container]) -> int | None:
        """Index in ``line``'s text where the innermost container of ``stack`` has its content."""
        key = (line, tuple(c.index for c in stack))
        if key not in self._starts:
            self._starts[key] = self._skip(self.lines[line], line, stack)
        return self._starts[key]

    def _segment(self, container: Container, stack: list[Container]) -> tuple[str, int] | None:
        """(marker text, width) of ``container`` as written on its first line; cached."""
        if container.index in self._segments:
            return self._segments[container.index]
        ancestors = stack[: stack.index(container)]
        text = self.lines[container.first]
        pos = self._skip(text, container.first, ancestors)
        segment = None if pos is None else _marker_segment(text, pos, container)
        self._segments[container.index] = segment
        return segment

    def _skip(self, text: str, line: int, stack: list[Container]) -> int | None:
        """Index in ``text`` (line ``line``) after the parts that belong to the containers of ``stack``."""
        pos = 0
        for container in stack:
            if container.kind == "quote":
                start = pos
                while pos < len(text) and pos - start < 3 and text[pos] == " ":
                    pos += 1
                if pos >= len(text) or text[pos] != ">":
                    return None  # a lazy continuation line: no marker to skip
                pos += 1
                if pos < len(text) and text[pos] == " ":
                    pos += 1
            elif container.first == line:
                segment = _marker_segment(text, pos, container)
                if segment is None:
                    return None
                pos += segment[1]
            else:
                width = self._segment(container, stack)
                if width is None or text[pos : pos + width[1]].strip(" ") or "\t" in text[pos : pos + width[1]]:
                    return None
                pos += width[1]
        return pos

    def _fence(self, token: Token, stack: tuple[Container, ...]) -> Fence:
        assert token.map is not None
        first, last = token.map
        content, markup = token.content, token.markup
        # A closed fence spans its opening line, its content lines and its closing line.
        content_lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
        closed = content_lines == last - first - 2
        opener = self.lines[first]
        index = opener.find(markup)
        if index < 0:  # not expected; fall back to what markdown-it reports
            prefix, info = "", token.info
        else:
            prefix = blank(opener[:index])
            info = opener[index + len(markup) :]
        return Fence(first, last - 1 if closed else last, closed, markup, prefix, strip_reopen_mark(info), stack)


def _marker_segment(text: str, pos: int, container: Container) -> tuple[str, int] | None:
    """The marker of ``container`` at ``text[pos:]`` as (text to reopen it, width up to its content)."""
    start = pos
    while pos < len(text) and pos - start < 3 and text[pos] == " ":
        pos += 1
    if container.kind == "quote":
        if pos >= len(text) or text[pos] != ">":
            return None
        end = pos + 1 + (1 if text[pos + 1 : pos + 2] == " " else 0)
        return text[start:end], end - start
    marker_start = pos
    if pos < len(text) and text[pos] in "-+*":
        pos += 1
    else:
        while pos < len(text) and text[pos].isdigit() and pos - marker_start < 9:
            pos += 1
        if pos == marker_start or pos >= len(text) or text[pos] not in ".)":
            return None
        pos += 1
    marker_end = pos
    spaces = 0
    while pos < len(text) and text[pos] == " ":
        pos += 1
        spaces += 1
    if pos < len(text) and text[pos] == "\t":
        return None
    if pos >= len(text) or spaces >= 5:
        content = marker_end + 1
    elif spaces == 0:
        return None
    else:
        content = marker_end + spaces
    width = content - start
    marker = text[marker_start:marker_end]
    if container.number is not None:
        shown = f"{container.number}{marker[-1]}"
        if (marker_start - start) + len(shown) < width:
            marker = shown  # the number as shown, so the items after it keep theirs
    lead = " " * (marker_start - start)
    return (lead + marker).ljust(width), width
