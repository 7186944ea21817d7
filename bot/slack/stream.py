"""The native route of an answer (pure): its messages as Slack streams, and the next stream call to make.

On this route Slack renders the model's Markdown itself: each message is a stream — `chat.startStream` creates
it, `chat.appendStream` adds text (at most `APPEND_LIMIT` characters a call), `chat.stopStream` finishes it with
the marks (message metadata) and, on the last message, the feedback buttons. Text once appended can never be
taken back, so:

* a message is cut (`bot.slack.native_cut`) at or after what it already shows, before `NATIVE_LIMIT`, where
  the next message means what its text meant; the open message only shows text up to `HOLD_BACK`
  characters below that limit until the cut is known, so the cut can still be made at a good boundary; a
  code block cut between two messages is closed and reopened, a table cut between rows shows its header
  again (shown only: the marks hold the model's Markdown exactly);
* a stream Slack ended (`message_not_in_streaming_state`: streams expire after about five minutes) is
  finished with `chat.update` (the text it shows, as a `markdown` block) and the answer goes on in a new
  message;
* a stream the person stopped (`stopped_by_user`) keeps what it shows; the answer ends there, without a note.

`NativeLayout` holds the answer's Markdown and where its messages end; `next_stream_call` compares it with
what Slack shows (`StreamMessage`) and names the one call that brings Slack closer.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass

from bot.slack.native_cut import cut, fits, open_fence, reopening, utf16_len

NATIVE_LIMIT = 11_000  # UTF-16 units of one streamed message (Slack: markdown_text ≤ 12,000; markdown blocks
# ≤ 12,000 together, refused at about 11,300 with other blocks: a streamed message may have to be redone as one)
HOLD_BACK = 1_000  # the open message shows text up to this far below the limit until its cut is decided
APPEND_LIMIT = 12_000  # characters of markdown_text per stream call
EMPTY_ANSWER = "The model returned an empty answer."


def _closing(opener: str, shown: str) -> str:
    """The line that closes the code block `opener` opened, after `shown`."""
    run = opener.lstrip()
    fence = run[: len(run) - len(run.lstrip(run[0]))]
    return ("" if shown.endswith("\n") else "\n") + fence


def format_note(note: str) -> str:
    """A note under a streamed answer, as Markdown: visibly not the model's words."""
    return "\n\n> ⚠️ " + " ".join(note.split())


@dataclass(frozen=True)
class NativePart:
    """One streamed message: `md` is the model's Markdown it holds; it shows `prefix` + md[:sendable] and, once
    `closed`, `suffix` after it."""

    md: str
    prefix: str = ""
    suffix: str = ""
    closed: bool = False
    sendable: int = 0

    @property
    def target(self) -> str:
        """What the message should show now."""
        return self.prefix + self.md[: self.sendable] + (self.suffix if self.closed else "")


class NativeLayout:
    """The answer's Markdown → streamed messages. Not thread-safe: its owner serialises access."""

    def __init__(self, *, limit: int = NATIVE_LIMIT, hold_back: int = HOLD_BACK) -> None:
        self.limit = limit
        self.hold_back = min(hold_back, limit // 2)
        self._sealed: list[NativePart] = []
        self._tail = ""
        self._prefix = ""
        self.has_text = False

    @property
    def count(self) -> int:
        """Messages the answer has now (the open one included)."""
        return len(self._sealed) + 1

    @property
    def open_prefix(self) -> str:
        """What the open message shows before its Markdown (a reopened code block)."""
        return self._prefix

    def append(self, markdown: str) -> None:
        self._tail += markdown
        self.has_text = self.has_text or bool(markdown.strip())

    def _seal(self, head: str) -> None:
        """Close the open message after `head` (of its Markdown); the rest opens the next one, reopening the
        code block or table the cut is in."""
        opener = open_fence(self._prefix + head)
        suffix = _closing(opener, self._prefix + head) if opener else ""
        self._sealed.append(NativePart(head, self._prefix, suffix, closed=True, sendable=len(head)))
        self._tail = self._tail[len(head):]
        self._prefix = reopening(self._prefix + head, self._tail)

    def seal_at(self, shown: int) -> None:
        """Slack ended the open message's stream showing `shown` characters of its Markdown: it ends there."""
        self._seal(self._tail[:shown])

    def truncate(self, shown: int) -> None:
        """The person stopped the stream: the answer is what the open message shows (`shown` characters)."""
        self._tail = self._tail[:shown]

    def snapshot(self, *, final: bool, note: str | None = None, floor: int = 0) -> list[NativePart]:
        """The messages as they should look now; `floor` is how many characters the open message already shows
        (a cut never goes before them)."""
        floor = max(0, floor - len(self._prefix))
        while utf16_len(self._prefix + self._tail) > self.limit:
            head, rest = cut(self._tail, self.limit - utf16_len(self._prefix), floor=floor, shown=self._prefix)
            if not rest:
                break
            self._seal(head)
            floor = 0
        parts = list(self._sealed)
        if final:
            if not self.has_text and not note:
                note = EMPTY_ANSWER
            opener = open_fence(self._prefix + self._tail)
            suffix = _closing(opener, self._prefix + self._tail) if opener else ""
            suffix += format_note(note) if note else ""
            if not (self._prefix + self._tail).strip():
                suffix = suffix.lstrip("\n")  # a message that only holds the note
            if self._tail.strip() or note or not parts:
                parts.append(NativePart(self._tail, self._prefix, suffix, closed=True, sendable=len(self._tail)))
            elif parts:  # only whitespace after the last cut: it belongs to the last message
                last = parts[-1]
                parts[-1] = NativePart(last.md + self._tail, last.prefix, last.suffix, True, len(last.md + self._tail))
            return parts
        room = max(0, self.limit - self.hold_back - utf16_len(self._prefix))
        sendable = max(floor, fits(self._tail, room))
        if self._tail.strip() or not parts:
            parts.append(NativePart(self._tail, self._prefix, "", closed=False, sendable=sendable))
        return parts

    def restore(self, parts: Sequence[tuple[str, bool]]) -> None:
        """Continue an answer whose streamed messages already exist (after a restart): (Markdown, still streaming)
        of each. A stopped one stays as it is; the last one, if it still streams, goes on (Slack may end it: then
        it is finished there and the answer goes on in a new message)."""
        *done, (tail, still) = parts
        if not still:
            done, tail = [*done, (tail, still)], ""
        self._sealed = [NativePart(md, closed=True, sendable=len(md)) for md, _open in done]
        self._tail = tail
        self._prefix = ""
        self.has_text = any(md.strip() for md, _open in parts)


class StreamState(enum.Enum):
    STREAMING = "streaming"  # started; appends and the stop go to it
    CLOSED = "closed"  # stopped (or finished with chat.update): never changes again
    EXPIRED = "expired"  # Slack ended the stream before it was stopped: finish it with chat.update
    USER_STOPPED = "user_stopped"  # the person stopped it: finish it with chat.update (marks, buttons)


@dataclass
class StreamMessage:
    """What Slack shows of one streamed message."""

    ts: str
    sent: str  # the text appended so far (prefix included)
    state: StreamState = StreamState.STREAMING

    @property
    def open(self) -> bool:
        return self.state is StreamState.STREAMING


class Op(enum.Enum):
    START = "start"
    APPEND = "append"
    STOP = "stop"
    FINISH = "finish"  # chat.update of a stream Slack ended


@dataclass(frozen=True)
class StreamCall:
    op: Op
    index: int
    text: str  # the markdown_text to send (START, APPEND, STOP); the whole message for FINISH
    part: NativePart
    last: bool  # the answer's last message


def md_shown(part: NativePart, message: StreamMessage) -> int:
    """How much of the part's Markdown the message shows."""
    return max(0, min(len(part.md), len(message.sent) - len(part.prefix)))


def next_stream_call(parts: Sequence[NativePart], messages: Sequence[StreamMessage], *,
                     final: bool) -> StreamCall | None:
    """The first message whose Slack state differs from what it should be, and the call that fixes it."""
    for index, part in enumerate(parts):
        last = final and index == len(parts) - 1
        if index >= len(messages):
            if index > 0 and not part.target:
                return None  # a rollover message starts with its first text
            return StreamCall(Op.START, index, part.target[:APPEND_LIMIT], part, last)
        message = messages[index]
        if message.state is StreamState.CLOSED:
            continue
        if message.state in (StreamState.EXPIRED, StreamState.USER_STOPPED):
            if part.closed:
                return StreamCall(Op.FINISH, index, part.target, part, last)
            return None  # the layout is sealed at what it shows before anything else is written
        target = part.target
        delta = target[len(message.sent):] if target.startswith(message.sent) else ""
        if part.closed:
            if len(delta) > APPEND_LIMIT:
                return StreamCall(Op.APPEND, index, delta[:APPEND_LIMIT], part, last)
            return StreamCall(Op.STOP, index, delta, part, last)
        if delta:
            return StreamCall(Op.APPEND, index, delta[:APPEND_LIMIT], part, last)
    return None
