"""How an answer in progress maps onto Slack messages (pure).

The answer is the model's Markdown. Messages that are full are *sealed*: their Markdown and text never
change again. The last message holds the rest (the *tail*), shown with a "still writing" marker while the
model writes, and with a note (if any) once it has finished. Before a message's text would pass Slack's
limit — counted as sent: rendered, escaped, marker and note included — the tail is split at a good
boundary and the head sealed, so no edit is ever refused for length and no text is lost or repeated. The
same happens when the tail holds more than `SOURCE_FACTOR` times the limit of Markdown, whatever it renders
to. A part's `md` may start with Markdown the splitter inserted to reopen a code block, table, quote or list
item; `Renderer.join` of all parts' `md` gives back the answer exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

MARKER = "\n\n_… still writing_"
PLACEHOLDER = "_Thinking…_"
EMPTY_ANSWER = "The model returned an empty answer."
LIMIT = 3900  # chat.update refuses text over 4,000 characters; keep a margin
MIN_LIMIT = 500
SOURCE_FACTOR = 3  # a message holds at most this many times its limit of the model's Markdown


class Renderer(Protocol):
    """Markdown → Slack text, and where to cut Markdown so that the rendered head fits a limit."""

    def render(self, markdown: str, *, streaming: bool) -> str: ...

    def render_growing(
        self, markdown: str, state: object | None, *, streaming: bool, lazy: bool
    ) -> tuple[str, int, object]:
        """Like `render` for a text that only grows, given the state returned for a shorter version of it:
        (text, how much of `markdown` the text shows, state for the next call). With `lazy` the text may show
        a shorter prefix than `markdown` when rendering again would cost more than the growth warrants."""
        ...

    def split(self, markdown: str, limit: int, *, reserve: int, max_source: int | None) -> tuple[str, str]:
        """(head, rest): the head renders within `limit - reserve` and holds at most `max_source` characters
        of the Markdown; (markdown, "") if all of it fits."""
        ...

    def join(self, parts: Sequence[str]) -> str:
        """The Markdown the parts were split from (what the splitter inserted removed)."""
        ...

    def length(self, text: str) -> int: ...


def format_note(note: str) -> str:
    """A note as shown under the answer: escaped for Slack, visibly not the model's words."""
    escaped = note.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f":warning: _{escaped}_"


@dataclass(frozen=True)
class Part:
    """One Slack message of the answer: `md` is the model's Markdown it shows, `text` what is sent."""

    md: str
    text: str
    sealed: bool


class AnswerLayout:
    """The answer so far → the messages it needs. Not thread-safe: its owner serialises access."""

    def __init__(self, renderer: Renderer, *, limit: int = LIMIT) -> None:
        self._renderer = renderer
        self.limit = limit
        self._sealed: list[Part] = []
        self._tail = ""
        self._growing: object | None = None  # the renderer's state for the tail, which only grows
        self.has_text = False

    def append(self, markdown: str) -> None:
        self._tail += markdown
        self.has_text = self.has_text or bool(markdown.strip())

    def shrink(self, index: int) -> None:
        """Slack refused message `index` as too long: re-open it and lower the limit by a fifth."""
        reopened = self._sealed[index:]
        self._tail = self._renderer.join([p.md for p in reopened] + [self._tail])
        self._growing = None
        del self._sealed[index:]
        self.limit = max(MIN_LIMIT, self.limit * 4 // 5)

    def _seal_overflow(self, suffix: str, streaming: bool, lazy: bool) -> tuple[str, int]:
        """Seal heads of the tail until the rest plus `suffix` fits; return the rest's text and how much of the
        tail it shows (all of it unless `lazy`). A tail longer than `SOURCE_FACTOR` times the limit is sealed
        too, whatever it renders to, so that no message carries unbounded Markdown and rendering the tail
        again costs a bounded amount."""
        r = self._renderer
        reserve = r.length(suffix)
        max_source = SOURCE_FACTOR * self.limit
        while True:
            text, shown, self._growing = r.render_growing(self._tail, self._growing, streaming=streaming, lazy=lazy)
            if r.length(text) + reserve <= self.limit and len(self._tail) <= max_source:
                return text, shown
            head, rest = r.split(self._tail, self.limit, reserve=0, max_source=max_source)
            if not rest:  # the head alone fits but not with the suffix: cut again, leaving room for it
                head, rest = r.split(self._tail, self.limit, reserve=reserve, max_source=max_source)
            if not head or not rest:
                raise AssertionError("the splitter made no progress")  # a renderer bug, not user input
            self._sealed.append(Part(head, r.render(head, streaming=False), sealed=True))
            self._tail = rest
            self._growing = None

    def snapshot(self, *, final: bool, note: str | None = None, status: str | None = None) -> list[Part]:
        """The messages as they should look now. While nothing is written, one placeholder (or `status`).
        A `note` while not final replaces the "still writing" marker (an answer paused by a restart).

        The number of parts never decreases between snapshots: a tail is shown only once it has visible
        text, the renderer shows any Markdown with visible characters as some text, and sealing turns the
        tail into sealed parts (never empty) followed by a new tail with visible text. An interim snapshot
        may show the newest Markdown a little later when rendering it again would cost more than the growth
        warrants (a single block of thousands of characters); its `md` is then the Markdown its text shows.
        """
        if not self.has_text and not final:
            return [Part("", status or PLACEHOLDER, sealed=False)]
        if final and not self.has_text and not note:
            note = EMPTY_ANSWER
        suffix = ("\n\n" + format_note(note) if note else "") if final or note else MARKER
        text, shown = self._seal_overflow(suffix, streaming=not final, lazy=not final and not note)
        parts = list(self._sealed)
        if text.strip():
            parts.append(Part(self._tail[:shown], text + suffix, sealed=final))
        elif final and note:
            parts.append(Part(self._tail, format_note(note), sealed=True))
        elif final and parts:  # only whitespace after the last cut: it belongs to the last message
            last = parts[-1]
            parts[-1] = Part(last.md + self._tail, last.text, sealed=True)
        return parts

    def restore(self, parts: Sequence[tuple[str, str]]) -> None:
        """Continue an answer whose messages already exist (after a restart): `parts` are the (Markdown, text)
        of each message as Slack has it. All but the last are sealed as they are; the last one's Markdown is
        the tail the model's continuation is appended to."""
        *sealed, (tail_md, _text) = parts
        self._sealed = [Part(md, text, sealed=True) for md, text in sealed]
        self._tail = tail_md
        self.has_text = any(md.strip() for md, _ in parts)
