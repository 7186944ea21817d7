"""Convert the Markdown that Claude writes into Slack ``mrkdwn`` for the ``text`` field of a message.

The input is parsed by :mod:`bot.render.parsing` (markdown-it-py: CommonMark plus the GFM ``table`` and
``strikethrough`` rules, and our own rules for Slack sequences, bare URLs, emphasis next to CJK text and after
a label such as ``**Note:**This``, and the splitter's seams), and the token tree is rendered by the functions
in this module. No regular expression converts Markdown syntax; the few regular expressions here only
recognise Slack sequences and runs of backticks, each documented where it is defined.

Invariants of :func:`to_mrkdwn` (checked by the unit and property tests):

* Pure: no I/O, no shared mutable state (the parser is configured once at import and only read); the same
  input always gives the same output.
* Escaping: outside the sequences listed below, every ``<`` and ``>`` in the output is written as
  ``&lt;``/``&gt;`` and every ``&`` starts one of ``&amp;``, ``&lt;``, ``&gt;``. The only raw ``<…>``
  sequences are links produced from Markdown links/autolinks/bare URLs (``<url>``, ``<url|label>``), the
  literal-character tokens ``<!date^00000000^{_}|…>`` of :mod:`bot.render.slack_text`, and the Slack
  sequences the model wrote on purpose: ``<@U…>``, ``<#C…>``/``<#C…|name>``, ``<!subteam^S…>``,
  ``<https://…|label>``, ``<mailto:…>``. Broadcasts (``<!here>``, ``<!channel>``, ``<!everyone>``) and any
  other ``<!…>`` are escaped, so they show as text and never ping anybody. The only other raw ``>`` is the
  ``> `` prefix of block-quote lines. Inside code (spans, blocks, tables) Slack sequences are shown as text.
* What the model wrote literally stays literal: a ``*``, ``_``, ``~`` or backtick that is text in Markdown
  (escaped, an entity, unmatched, inside raw HTML) is never sent where Slack could read it as formatting
  (see :mod:`bot.render.slack_text`), so a stray ```` ``` ```` cannot pair with a real code block.
* No visible text is dropped. The documented lossy conversions are: Markdown syntax characters become
  mrkdwn syntax (or disappear), a heading loses its level (and inner bold), code languages are dropped, a
  ``|`` inside a link label or a table cell becomes ``∣`` (U+2223), a backtick inside inline code becomes
  ``ˋ`` (U+02CB) because Slack has no way to escape it, marker characters that Slack could act on inside a
  link label become look-alikes (``∗ˍ∼ˋ``), runs of three or more backticks inside code blocks get U+200B
  between them so that they cannot end the Slack code block, relative links become ``label (url)``,
  formatting inside link labels and table cells is dropped (their text is kept; links in cells become
  ``label (url)``), nested same-kind emphasis is flattened, and raw HTML is shown as escaped text.
* U+200B (zero-width space) is inserted only on the outside of a ``*``/``_``/``~``/`` ` `` marker that
  touches a letter or digit (any script) or the same marker, because Slack only honours markers at word
  boundaries; and in front of a text line starting with ``&gt;`` so that it is not taken for a quote.
* Blocks are separated by exactly one blank line (tight list items by none); the output has no trailing
  whitespace and no leading blank lines.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, Final

from markdown_it.token import Token

from bot.render.blocks import PARSER as BLOCK_PARSER
from bot.render.graphemes import display_width
from bot.render.parsing import MAX_NESTING, PARSER, SLACK_SEQUENCE_RE
from bot.render.seams import SEAM, TABLE_SEAM, seam_line
from bot.render.slack_text import ZWSP, Piece, join_pieces, literal_label

__all__ = ["HR_LINE", "LAG_FROM", "ZWSP", "Growing", "display_width", "render_growing", "to_mrkdwn"]

HR_LINE: Final = "─" * 10
"""What a Markdown thematic break (``---``) becomes."""

_BULLETS: Final = ("•", "◦", "▪")
_LIST_INDENT: Final = "    "
_LABEL_PIPE: Final = "∣"  # U+2223 stands in for "|" inside <url|label>: Slack would end the url there
_CODE_BACKTICK: Final = "ˋ"  # U+02CB stands in for "`" inside inline code: Slack cannot escape it
_CELL_PIPE: Final = "∣"  # U+2223 stands in for "|" inside a table cell: the columns are separated by " | "

# An "&" that does not already start one of the three entities Slack understands.
_BARE_AMP_RE: Final = re.compile(r"&(?!amp;|lt;|gt;)")
# Three or more backticks would end a Slack code block early.
_BACKTICK_RUN_RE: Final = re.compile(r"`{3,}")
_ABSOLUTE_URL_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_NEWLINE_RE: Final = re.compile(r"\r\n?|\n")  # how markdown-it splits lines
_TABLE_ALIGN_RE: Final = re.compile(r"text-align:\s*(left|right|center)")


# --------------------------------------------------------------------------------------------- helpers


def _escape(text: str) -> str:
    """Escape the three characters Slack treats specially."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _shown_as_text(text: str) -> str:
    """Raw text (HTML, a fallback) shown as it is: escaped, Slack sequences kept, marker characters literal."""
    pieces: list[Piece] = []
    pos = 0
    for match in SLACK_SEQUENCE_RE.finditer(text):
        pieces.append(Piece(_escape(text[pos : match.start()]), literal=True))
        pieces.append(Piece(_BARE_AMP_RE.sub("&amp;", match.group(0))))
        pos = match.end()
    pieces.append(Piece(_escape(text[pos:]), literal=True))
    return join_pieces(pieces)


def _break_backtick_runs(text: str) -> str:
    """Put U+200B between the backticks of every run of three or more (it would close a Slack code block)."""
    return _BACKTICK_RUN_RE.sub(lambda m: ZWSP.join(m.group(0)), text)


# ------------------------------------------------------------------------------------------- token tree


@dataclass(slots=True)
class _Node:
    """A token plus, for ``*_open`` tokens, the tokens up to the matching ``*_close``."""

    token: Token
    children: list[_Node] = field(default_factory=list)


def _tree(tokens: Sequence[Token]) -> list[_Node]:
    root: list[_Node] = []
    stack: list[list[_Node]] = [root]
    for token in tokens:
        if token.nesting == 1:
            node = _Node(token)
            stack[-1].append(node)
            stack.append(node.children)
        elif token.nesting == -1:
            if len(stack) > 1:
                stack.pop()
        else:
            stack[-1].append(_Node(token))
    return root


# --------------------------------------------------------------------------------------------- inline


class _Mode(Enum):
    RICH = "rich"  # paragraphs and headings: mrkdwn markers, links, escaping
    LABEL = "label"  # link labels and image alt text: raw text only (escaped by the caller)
    PRE = "pre"  # table cells (inside a code block): raw text, links as "label (url)" (escaped later)


@dataclass(slots=True)
class _InlineState:
    mode: _Mode
    pieces: list[Piece] = field(default_factory=list)
    open_markers: dict[str, int] = field(default_factory=dict)
    break_text: str = "\n"


_MARKERS: Final = {"strong_open": "*", "em_open": "_", "s_open": "~"}


def _plain(nodes: Sequence[_Node], mode: _Mode) -> str:
    """Raw (unescaped) text of inline nodes, without any markers."""
    state = _InlineState(mode=mode, break_text=" ")
    _collect(nodes, state)
    return "".join(piece.text for piece in state.pieces)


def _link(href: str, label: str, state: _InlineState) -> None:
    """Emit a link in the current mode; ``label`` is raw text."""
    label = " ".join(label.split("\n")).strip()
    same = label in (href, PARSER.normalizeLinkText(href))
    if state.mode is _Mode.LABEL:
        state.pieces.append(Piece(label or href))
    elif state.mode is _Mode.PRE:
        if same or not label:
            state.pieces.append(Piece(href))
        else:
            state.pieces.append(Piece(f"{label} ({href})" if href else label))
    elif not href:
        state.pieces.append(Piece(_escape(label), literal=True))
    elif _ABSOLUTE_URL_RE.match(href) is None:  # relative link: Slack cannot follow it, show it as text
        text = _escape(href) if same or not label else f"{_escape(label)} ({_escape(href)})"
        state.pieces.append(Piece(text, literal=True))
    elif same or not label:
        state.pieces.append(Piece(f"<{_escape(href)}>"))
    else:
        safe_label = literal_label(_escape(label)).replace("|", _LABEL_PIPE)
        state.pieces.append(Piece(f"<{_escape(href)}|{safe_label}>"))


def _collect(nodes: Iterable[_Node], state: _InlineState) -> None:
    mode = state.mode
    for node in nodes:
        token = node.token
        kind = token.type
        if kind in ("text", "text_special"):
            if mode is _Mode.RICH:
                state.pieces.append(Piece(_escape(token.content), literal=True))
            else:
                state.pieces.append(Piece(token.content))
        elif kind in ("softbreak", "hardbreak"):
            state.pieces.append(Piece(state.break_text))
        elif kind == "code_inline":
            if mode is _Mode.RICH:
                body = _escape(token.content.replace("`", _CODE_BACKTICK))
                state.pieces.append(Piece(f"`{body}`", opens=True, closes=True))
            else:
                state.pieces.append(Piece(token.content))
        elif kind in _MARKERS:
            marker = _MARKERS[kind]
            depth = state.open_markers.get(marker, 0)
            emit = mode is _Mode.RICH and depth == 0  # nested same-kind markers would close the outer one
            state.open_markers[marker] = depth + 1
            if emit:
                state.pieces.append(Piece(marker, opens=True))
            _collect(node.children, state)
            state.open_markers[marker] = depth
            if emit:
                state.pieces.append(Piece(marker, closes=True))
        elif kind == "link_open":
            _link(str(token.attrGet("href") or ""), _plain(node.children, _Mode.LABEL), state)
        elif kind == "image":
            alt = _plain(_tree(token.children or []), _Mode.LABEL)
            _link(str(token.attrGet("src") or ""), alt, state)
        elif kind == "bare_url":
            url = token.content
            state.pieces.append(Piece(f"<{_escape(url)}>" if mode is _Mode.RICH else url))
        elif kind == "slack_sequence":
            if mode is _Mode.RICH:
                state.pieces.append(Piece(_BARE_AMP_RE.sub("&amp;", token.content)))
            else:
                state.pieces.append(Piece(token.content))
        else:  # html_inline and anything unknown: show the source text, escaped
            content = token.content if state.break_text == "\n" else " ".join(token.content.split("\n"))
            state.pieces.append(Piece(_escape(content), literal=True) if mode is _Mode.RICH else Piece(content))
            _collect(node.children, state)


def _rich_inline(inline: Token, *, heading: bool = False) -> str:
    state = _InlineState(mode=_Mode.RICH, break_text=" " if heading else "\n")
    if heading:
        state.open_markers["*"] = 1
        state.pieces.append(Piece("*", opens=True))
    _collect(_tree(inline.children or []), state)
    if heading:
        state.pieces.append(Piece("*", closes=True))
    return join_pieces(state.pieces)


# ---------------------------------------------------------------------------------------------- blocks


@dataclass(frozen=True, slots=True)
class _Line:
    text: str
    verbatim: bool = False  # code/table content: list nesting must not re-indent it


def _text_lines(text: str) -> list[_Line]:
    # A line that starts with "&gt;" would still be shown as a Slack quote; U+200B keeps it literal.
    return [_Line(ZWSP + line if line.startswith("&gt;") else line) for line in text.split("\n")]


def _code_lines(content: str) -> list[_Line]:
    body = content[:-1] if content.endswith("\n") else content
    lines = [_Line("```")]
    if body:
        lines.extend(_Line(_break_backtick_runs(_escape(line)), verbatim=True) for line in body.split("\n"))
    else:
        lines.append(_Line(" ", verbatim=True))  # Slack does not render an empty code block
    lines.append(_Line("```"))
    return lines


def _pad(text: str, width: int, align: str) -> str:
    gap = max(0, width - display_width(text))
    if align == "right":
        return " " * gap + text
    if align == "center":
        return " " * (gap // 2) + text + " " * (gap - gap // 2)
    return text + " " * gap


def _table_lines(table: _Node) -> list[_Line]:
    rows: list[list[tuple[str, str]]] = []
    header_rows = 0
    for section in table.children:
        for row_node in section.children:
            cells: list[tuple[str, str]] = []
            for cell in row_node.children:
                style = str(cell.token.attrGet("style") or "")
                align_match = _TABLE_ALIGN_RE.search(style)
                inline = next((child.token for child in cell.children if child.token.type == "inline"), None)
                text = _plain(_tree(inline.children or []), _Mode.PRE) if inline is not None else ""
                cell_text = text.strip().replace("|", _CELL_PIPE)
                cells.append((cell_text, align_match.group(1) if align_match else "left"))
            rows.append(cells)
        if section.token.type == "thead_open":
            header_rows = len(rows)
    columns = max((len(row) for row in rows), default=0)
    widths = [1] * columns
    for row in rows:
        for index, (text, _align) in enumerate(row):
            widths[index] = max(widths[index], display_width(text))

    def format_row(row: list[tuple[str, str]]) -> _Line:
        padded = [_pad(text, widths[index], align) for index, (text, align) in enumerate(row)]
        return _Line(_break_backtick_runs(_escape(" | ".join(padded).rstrip())), verbatim=True)

    lines = [_Line("```")]
    lines.extend(format_row(row) for row in rows[:header_rows])
    if header_rows:
        lines.append(_Line("-+-".join("-" * width for width in widths), verbatim=True))
    lines.extend(format_row(row) for row in rows[header_rows:])
    lines.append(_Line("```"))
    return lines


def _is_tight(list_node: _Node) -> bool:
    for item in list_node.children:
        for child in item.children:
            if child.token.type == "paragraph_open":
                return child.token.hidden
    return True


def _list_lines(list_node: _Node, depth: int) -> list[_Line]:
    ordered = list_node.token.type == "ordered_list_open"
    start = int(str(list_node.token.attrGet("start") or 1)) if ordered else 1
    tight = _is_tight(list_node)
    lines: list[_Line] = []
    for index, item in enumerate(list_node.children):
        if ordered:
            delimiter = item.token.markup if item.token.markup in (".", ")") else "."
            marker = f"{start + index}{delimiter}"
        else:
            marker = _BULLETS[min(depth, len(_BULLETS)) - 1]
        body = _block_lines(item.children, depth + 1, tight=tight)
        if item.token.meta.get("continued"):
            # The item began in the previous message, which showed its bullet: only its text continues here.
            lines.extend(line if line.verbatim or not line.text else _Line(_LIST_INDENT + line.text) for line in body)
            continue
        if lines and not tight:
            lines.append(_Line(""))
        first = body[0].text if body else ""
        lines.append(_Line(f"{marker} {first}".rstrip()))
        for line in body[1:]:
            if line.verbatim or not line.text:
                lines.append(line)
            else:
                lines.append(_Line(_LIST_INDENT + line.text))
    return lines


def _quote_lines(body: list[_Line]) -> list[_Line]:
    return [_Line(f"> {line.text}" if line.text else ">", line.verbatim) for line in body]


def _one_block(node: _Node, depth: int) -> list[_Line]:
    token = node.token
    kind = token.type
    if kind == "paragraph_open":
        inline = next((child.token for child in node.children if child.token.type == "inline"), None)
        text = _rich_inline(inline) if inline is not None else ""
        return _text_lines(text) if text.strip() else []
    if kind == "heading_open":
        inline = next((child.token for child in node.children if child.token.type == "inline"), None)
        if inline is None or not inline.content.strip():
            return []
        return _text_lines(_rich_inline(inline, heading=True))
    if kind in ("bullet_list_open", "ordered_list_open"):
        return _list_lines(node, depth)
    if kind == "blockquote_open":
        return _quote_lines(_block_lines(node.children, depth, tight=False))
    if kind in ("fence", "code_block"):
        return _code_lines(token.content)
    if kind == "hr":
        return [_Line(HR_LINE)]
    if kind == "table_open":
        return _table_lines(node)
    if kind == "html_block":
        return _text_lines(_shown_as_text(token.content.rstrip("\n")))
    if kind == "inline":
        return _text_lines(_rich_inline(token))
    if node.children:
        return _block_lines(node.children, depth, tight=False)
    return _text_lines(_shown_as_text(token.content.rstrip("\n"))) if token.content.strip() else []


def _block_lines(nodes: Sequence[_Node], depth: int, *, tight: bool) -> list[_Line]:
    lines: list[_Line] = []
    for node in nodes:
        block = _one_block(node, depth)
        if not block:
            continue
        if lines and not tight:
            lines.append(_Line(""))
        lines.extend(block)
    return lines


def _is_unclosed_fence(fence: Token, source_lines: int) -> bool:
    """True if a ``fence`` token has no closing line (its content then runs to the end of its container)."""
    if fence.map is None:
        return False
    start, end = fence.map
    content = fence.content
    content_lines = content.count("\n") + (0 if content.endswith("\n") or not content else 1)
    return content_lines == end - start - 1 and end >= source_lines


def _drop_partial_closing_fence(tokens: Sequence[Token], markdown: str) -> None:
    """Streaming: hide a closing fence that is still being typed (``\\`\\```) at the end of an open fence."""
    fences = [token for token in tokens if token.type == "fence"]
    if not fences:
        return
    fence = fences[-1]
    newlines = len(_NEWLINE_RE.findall(markdown))
    source_lines = newlines + (0 if not markdown or markdown.endswith(("\n", "\r")) else 1)
    if not _is_unclosed_fence(fence, source_lines) or fence.content.endswith("\n"):
        return
    head, _, last = fence.content.rpartition("\n")
    fence_char = fence.markup[:1]
    stripped = last.strip(" ")
    if stripped and stripped == fence_char * len(stripped) and len(stripped) < len(fence.markup):
        fence.content = head + "\n" if head else ""


def _blocks(
    markdown: str, env: dict[str, Any], *, streaming: bool
) -> tuple[list[list[_Line]], list[tuple[int, int]]] | None:
    """The top-level blocks of ``markdown``, rendered, and the lines each spans (None if nested too deeply)."""
    tokens = PARSER.parse(markdown, env)
    if any(token.level >= MAX_NESTING - 1 for token in tokens):
        return None  # markdown-it dropped what is nested deeper
    if streaming:
        _drop_partial_closing_fence(tokens, markdown)
    inserted = seam_line(markdown)
    if inserted is not None:  # list items the splitter reopened were shown (with their bullets) already
        for token in tokens:
            if token.type == "list_item_open" and token.map is not None and token.map[0] <= inserted[0]:
                token.meta["continued"] = True
    blocks: list[list[_Line]] = []
    spans: list[tuple[int, int]] = []
    for node in _tree(tokens):
        blocks.append(_one_block(node, 1))
        spans.append((node.token.map[0], node.token.map[1]) if node.token.map else (0, 0))
    return blocks, spans


def _glue(lines: list[str], blocks: Iterable[list[_Line]]) -> list[str]:
    """``lines`` followed by ``blocks``, one blank line between blocks (as :func:`_block_lines` does)."""
    for block in blocks:
        if not block:
            continue
        if lines:
            lines.append("")
        lines.extend(line.text for line in block)
    return lines


def to_mrkdwn(markdown: str, *, streaming: bool = False) -> str:
    """Render Claude's Markdown as Slack mrkdwn (see the module docstring for the full invariants).

    Blocks are separated by one blank line, soft line breaks stay newlines, and the result has no trailing
    whitespace. ``streaming=True`` is for interim text that is still growing: unclosed inline markers stay
    literal (CommonMark already guarantees that), an unclosed code fence is rendered as a code block that is
    closed at the end of the output (also true without ``streaming``), and additionally a closing fence that
    is only partly typed (a last line of one or two backticks inside an open fence) is hidden instead of
    flashing up as code content. Markdown that renders to nothing (only link reference definitions, an empty
    heading) and Markdown nested too deeply for the parser are shown as their source text.
    """
    rendered = _blocks(markdown, {}, streaming=streaming)
    if rendered is None:
        return _as_text(markdown)
    text = "\n".join(_glue([], rendered[0])).rstrip()
    if not text and markdown.strip():
        # Only invisible Markdown: Slack needs some text, and the model's own characters are the honest choice.
        return _as_text(markdown)
    return text


LAG_FROM: Final = 400
"""Unsettled Markdown longer than this is rendered again only once it has grown by an eighth (lazy mode)."""


@dataclass(frozen=True, slots=True)
class Growing:
    """What :func:`render_growing` keeps between calls for one text that only grows."""

    settled: str = ""  # a prefix (whole top-level blocks) whose rendering nothing appended to it can change
    settled_lines: tuple[str, ...] = ()  # its rendering, line by line
    references: tuple[tuple[str, Any], ...] = ()  # the link reference definitions in the settled prefix
    shown: int = 0  # how much of the text the last rendering was of
    text: str = ""  # that rendering
    streaming: bool = True


def render_growing(
    markdown: str, state: Growing | None, *, streaming: bool, lazy: bool = False
) -> tuple[str, int, Growing]:
    """Render a text that grows by appending, cheaply: ``(text, how much of markdown it shows, new state)``.

    Top-level blocks that another block follows (whose first two lines are complete) can no longer change;
    only a link reference definition could, and one that the settled text may use starts over. Their
    rendering is kept and only the last block is parsed and rendered again, so ``text ==
    to_mrkdwn(markdown, streaming=streaming)`` whenever all of ``markdown`` is shown. With ``lazy``, when
    the unsettled rest is longer than :data:`LAG_FROM` and has grown by less than an eighth since the last
    call, the last text is returned again and shows only the ``markdown`` it was made from; this bounds
    the cost per appended character for any input (a single huge block included). Pass the returned state
    to the next call; ``None`` starts over.
    """
    if state is None or not markdown.startswith(state.settled):
        state = Growing()
    if lazy and state.text and state.streaming == streaming and state.shown <= len(markdown):
        pending = len(markdown) - state.shown
        unsettled = len(markdown) - len(state.settled)
        if pending == 0 or (unsettled > LAG_FROM and 8 * pending < unsettled):
            return state.text, state.shown, state
    suffix = markdown[len(state.settled) :]
    known = dict(state.references)
    env: dict[str, Any] = {"references": dict(known)}
    rendered = _blocks(suffix, env, streaming=streaming)
    defined = set(env.get("references", {}))
    if rendered is None or (state.settled and _mentions(state.settled, defined - set(known))):
        if state.settled:
            return render_growing(markdown, None, streaming=streaming)
        text = to_mrkdwn(markdown, streaming=streaming)
        return text, len(markdown), Growing(shown=len(markdown), text=text, streaming=streaming)
    blocks, spans = rendered
    lines = _glue(list(state.settled_lines), blocks)
    text = "\n".join(lines).rstrip()
    if not text and markdown.strip():
        text = _as_text(markdown)
    settled, settled_lines, settled_references = state.settled, state.settled_lines, known
    line_starts = [0, *(match.end() for match in _NEWLINE_RE.finditer(suffix))]
    last = spans[-1][0] if spans else 0
    # The blocks before the last one are final once the last one's first two lines are (until then "*" may
    # still become "**", or a table row its header, either continuing the block before it), if nothing but
    # a blank line or that block itself comes before it (not a link definition whose title may follow).
    if (
        len(blocks) >= 2
        and last + 2 < len(line_starts)
        and (spans[-2][1] >= last or not suffix[line_starts[last - 1] : line_starts[last]].strip())
    ):
        chunk = suffix[: line_starts[last]]
        # Only definitions in the settled text are final (one still being written may change its URL); the
        # settled text must not depend on any other.
        chunk_env: dict[str, Any] = {"references": dict(known)}
        BLOCK_PARSER.parse(chunk, chunk_env)
        chunk_references = chunk_env.get("references", {})
        if not _mentions(chunk, defined - set(chunk_references)):
            settled = state.settled + chunk
            settled_lines = tuple(_glue(list(state.settled_lines), blocks[:-1]))
            settled_references = chunk_references
    new_state = Growing(settled, settled_lines, tuple(settled_references.items()), len(markdown), text, streaming)
    return text, len(markdown), new_state


def _mentions(text: str, labels: set[str]) -> bool:
    """Could ``text`` use one of these link reference labels (compared as CommonMark compares them)?"""
    if not labels:
        return False
    folded = " ".join(text.casefold().split())
    return any(f"[{' '.join(label.casefold().split())}]" in folded for label in labels)


def _as_text(markdown: str) -> str:
    """The Markdown source itself, shown as plain text (escaped, marker characters literal)."""
    source = markdown.replace(SEAM, "").replace(TABLE_SEAM, "").strip("\r\n")
    return "\n".join(line.text for line in _text_lines(_shown_as_text(source))).rstrip()
