"""One answer as the writer sees it (`AnswerHandle`): the responder appends model text and finishes it; the
writer asks it for the next Slack call (`next_call`) and tells it what Slack now shows.

An answer goes one of two routes (`bot.slack.scheduler.Route`): edit (a placeholder, then `chat.update`, with
`AnswerLayout` deciding the messages) or native (streams, with `NativeLayout`). Its marks (`metadata`) name the
answer and the part on every message, so a restart or another process can pick it up. What it delivered, its
counters (`WriteStats`) and how it ended (`Outcome`) are read by the responder for the answer's log line.
"""

from __future__ import annotations

import enum
import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from bot.render.layout import PLACEHOLDER, AnswerLayout, Part
from bot.slack.marks import answer_metadata
from bot.slack.scheduler import Method, Route
from bot.slack.stream import NativeLayout, Op, StreamCall, StreamMessage, StreamState, next_stream_call

if TYPE_CHECKING:
    from bot.slack.writer import SlackWriter

logger = logging.getLogger(__name__)


class Outcome(enum.Enum):
    PENDING = "pending"
    DELIVERED = "delivered"  # the final text is in Slack
    DELETED = "reply_deleted"  # the reply, thread or channel went away
    REFUSED = "refused"  # Slack does not let the bot write there
    UNDELIVERED = "undelivered"  # Slack kept failing for longer than retry_seconds
    TAKEN_OVER = "taken_over"  # another process answers it now; this one writes nothing more
    STOPPED = "stopped_by_user"  # the person stopped the stream: what it showed is the answer


@dataclass(frozen=True)
class AnswerRef:
    """Where an answer goes: `reply_to` is the ts of the message it answers, `answer_id` names it."""

    team_id: str
    channel: str
    thread_ts: str
    reply_to: str
    answer_id: str
    recipient_user: str = ""  # chat.startStream's recipient_user_id and recipient_team_id: the person asking
    recipient_team: str = ""
    dm: bool = False  # a direct message: a status shows before the first message


@dataclass
class Delivered:
    ts: str
    text: str
    buttons: bool = False  # sent with the feedback buttons


@dataclass
class WriteStats:
    edits: int = 0
    posts: int = 0
    rate_limited: int = 0
    failures: int = 0
    adopted: int = 0  # posts whose response was lost, found in the thread instead of posted again
    statuses: int = 0  # assistant.threads.setStatus calls
    starts: int = 0
    appends: int = 0
    stops: int = 0
    expired: int = 0  # streams Slack ended before they were stopped (finished with chat.update)
    placeholder_visible: float | None = None
    first_visible: float | None = None
    final_visible: float | None = None


def metadata(ref: AnswerRef, index: int, part: Part, state: str, *, with_md: bool,
             parts: int | None = None, route: Route = Route.EDIT) -> dict[str, Any]:
    """The marks of message `index` of an answer (`bot.slack.marks`); `parts` is set on final messages."""
    return answer_metadata(answer_id=ref.answer_id, reply_to=ref.reply_to, part=index, state=state,
                           md=part.md if with_md else None, parts=parts,
                           route=route.value if route is Route.NATIVE else None)


def status_text(status: str) -> str:
    """A placeholder's text as a status line ("_Thinking…_" → "is thinking…")."""
    plain = status.strip().strip("_").strip()
    return "is thinking…" if plain == PLACEHOLDER.strip("_") else plain


@dataclass(frozen=True)
class Call:
    method: Method
    index: int
    part: Part
    state: str  # "thinking" | "streaming" | "final"
    count: int  # how many messages the answer has now
    stream: StreamCall | None = None  # the native route's call
    buttons: bool = False  # the answer's final message: send the feedback buttons


class AnswerHandle:
    """The responder's side of one answer. Thread-safe."""

    def __init__(self, writer: SlackWriter, ref: AnswerRef, layout: AnswerLayout, *, status: str,
                 delivered: Sequence[Delivered] = (), fixed: str | None = None,
                 on_parts: Callable[[tuple[str, ...]], None] | None = None, route: Route | None = Route.EDIT,
                 status_mode: bool = False, native: NativeLayout | None = None,
                 streams: Sequence[StreamMessage] = ()) -> None:
        self.ref = ref
        self.route = route  # None: decided by the scheduler when the first message is created
        self._native = native or NativeLayout()
        self.streams: list[StreamMessage] = list(streams)
        self.status_mode = status_mode and fixed is None and not delivered  # a DM: a status, not a placeholder
        self.status_shown: str | None = None
        self.status_failed = False
        self.stopped_by_user = False
        self._writer = writer
        self._lock = threading.Lock()
        self._layout = layout
        self._final = fixed is not None
        self._suspended = False
        self._fixed = fixed
        self._note: str | None = None
        self._status: str | None = status
        self._on_parts = on_parts
        self._on_end: list[Callable[[], None]] = []
        self.delivered: list[Delivered] = list(delivered)
        self.to_delete: list[str] = []
        self.lookups: set[int] = set()  # parts whose post may have landed although its response was lost
        self.with_md = True
        self.failures = 0
        self.failing_since: float | None = None
        self.hold = False  # write nothing until the final text (see `abandon_from`)
        self.rescued = False  # the text was posted anew once after edits failed for good
        self.stats = WriteStats()
        self.outcome = Outcome.PENDING
        self.error: str | None = None  # Slack's error that ended the answer
        self.settled = threading.Event()  # the first message exists, or the answer ended
        self.done = threading.Event()  # nothing more will be written
        if self.delivered:
            self.settled.set()

    @property
    def key(self) -> str:
        return self.ref.answer_id

    @property
    def cancelled(self) -> bool:
        """The reply can no longer be written (deleted, refused, or given up)."""
        return self.outcome in (Outcome.DELETED, Outcome.REFUSED, Outcome.UNDELIVERED)

    # -- the responder's calls -------------------------------------------------------------------------
    def append(self, markdown: str) -> None:
        with self._lock:
            if self.stopped_by_user:
                return
            self._layout.append(markdown)
            self._native.append(markdown)
        self._writer.dirty(self)

    def set_status(self, status: str) -> None:
        with self._lock:
            self._status = status
        self._writer.dirty(self)

    def finish(self, note: str | None = None) -> None:
        with self._lock:
            self._final = True
            self._note = None if self.stopped_by_user else note
        self._writer.dirty(self, final=True)

    def suspend(self, note: str) -> None:
        """Show the text so far with `note` in place of the "still writing" marker and write nothing after that:
        the answer stays unfinished in Slack's marks, so that the next start (or another process) resumes it."""
        with self._lock:
            self._suspended = True
            self._note = note
            self._status = note
        self._writer.dirty(self, final=True)

    def on_end(self, callback: Callable[[], None]) -> None:
        """Run `callback` (once, from a writer thread) if the answer ends before it is delivered."""
        run = False
        with self._lock:
            if self.cancelled:
                run = True
            else:
                self._on_end.append(callback)
        if run:
            callback()

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    @property
    def shown(self) -> bool:
        with self._lock:
            return self._layout.has_text

    def set_route(self, route: Route) -> None:
        with self._lock:
            if self.route is None:
                self.route = route

    def fall_back_to_edit(self) -> None:
        """Slack refused a stream here before any was started: this answer takes the edit route."""
        with self._lock:
            if not self.streams:
                self.route = Route.EDIT

    # -- the writer's side -----------------------------------------------------------------------------
    def next_call(self) -> Call | None:
        """The first message whose Slack state differs from what it should be."""
        with self._lock:
            if (self.status_mode and not self.status_failed and not self.delivered and not self._final
                    and not self._suspended and not self._layout.has_text):
                status = status_text(self._status or PLACEHOLDER)  # a DM: a status says the bot is working
                if status == self.status_shown:
                    return None
                return Call(Method.STATUS, -1, Part("", status, sealed=False), "thinking", 0)
            if self._fixed is None and self.route is Route.NATIVE:
                return self._stream_call_locked()
            if self._fixed is not None:
                parts = [Part("", self._fixed, sealed=True)]
                state = "final"
            else:
                parts = self._layout.snapshot(final=self._final, note=self._note, status=self._status)
                state = "final" if self._final else ("streaming" if self._layout.has_text else "thinking")
            delivered = list(self.delivered)
            to_delete = bool(self.to_delete)
        with_buttons = state == "final" and self._fixed is None and self._layout.has_text and not self._suspended
        for index, part in enumerate(parts):
            buttons = with_buttons and index == len(parts) - 1
            if index >= len(delivered):
                return Call(Method.POST, index, part, state, len(parts), buttons=buttons)
            if delivered[index].text != part.text or (buttons and not delivered[index].buttons):
                return Call(Method.UPDATE, index, part, state, len(parts), buttons=buttons)
        if to_delete:  # a placeholder replaced by a new message: remove it once the text is out
            return Call(Method.DELETE, -1, Part("", "", sealed=True), state, len(parts))
        return None

    def _stream_call_locked(self) -> Call | None:
        final = self._final or self._suspended
        if self.stopped_by_user and len(self.streams) == self._native.count:
            last = self.streams[-1]
            if last.state is StreamState.USER_STOPPED:  # the answer is what the stopped message shows
                self._native.truncate(max(0, len(last.sent) - len(self._native.open_prefix)))
        floor = 0
        if self.streams and self.streams[-1].open and len(self.streams) == self._native.count:
            floor = len(self.streams[-1].sent)
        parts = self._native.snapshot(final=final, note=self._note, floor=floor)
        call = next_stream_call(parts, self.streams, final=final)
        if call is None:
            return None
        state = "final" if self._final else ("streaming" if self._native.has_text or self._suspended else "thinking")
        method = {Op.START: Method.START, Op.APPEND: Method.APPEND, Op.STOP: Method.STOP,
                  Op.FINISH: Method.UPDATE}[call.op]
        buttons = call.last and self._final and self._native.has_text
        return Call(method, call.index, Part(call.part.md, call.text, sealed=call.part.closed), state, len(parts),
                    stream=call, buttons=buttons)

    def started(self, index: int, ts: str, text: str) -> None:
        """Stream `index` exists in Slack as `ts`, showing `text`."""
        with self._lock:
            if index >= len(self.streams):
                self.streams.append(StreamMessage(ts, text))
        self.record(index, ts, text)

    def appended(self, index: int, text: str, *, closed: bool = False) -> None:
        with self._lock:
            message = self.streams[index]
            message.sent += text
            if closed:
                message.state = StreamState.CLOSED

    def stream_ended(self, index: int, state: StreamState) -> None:
        """Slack ended stream `index` (EXPIRED) or the person stopped it (USER_STOPPED): it keeps what it shows;
        an expired one is sealed there (the answer goes on in a new message), a stopped one ends the answer."""
        callbacks: list[Callable[[], None]] = []
        with self._lock:
            if index >= len(self.streams) or not self.streams[index].open:
                return
            message = self.streams[index]
            message.state = state
            if index == self._native.count - 1 and state is StreamState.EXPIRED:  # the open message ends here
                self._native.seal_at(max(0, len(message.sent) - len(self._native.open_prefix)))
            # a stop is cut where the message stands when the next call is chosen (`_stream_call_locked`): a stop
            # event may come while an append is in flight, whose text then shows too
            if state is StreamState.USER_STOPPED and not self.stopped_by_user:
                self.stopped_by_user = True
                self._final = True
                self._note = None
                callbacks = list(self._on_end)
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("an end-of-answer callback failed")

    def finished_stream(self, index: int) -> None:
        with self._lock:
            self.streams[index].state = StreamState.CLOSED

    def reopen_stream(self, index: int) -> None:
        """chat.update said the message still streams: stop it first."""
        with self._lock:
            self.streams[index].state = StreamState.STREAMING

    def shrink(self, index: int) -> None:
        with self._lock:
            self._layout.shrink(index)

    @property
    def final(self) -> bool:
        with self._lock:
            return self._final

    def record(self, index: int, ts: str, text: str, *, replace: bool = False, buttons: bool = False) -> None:
        """Message `index` now exists in Slack as `ts` showing `text`."""
        with self._lock:
            before = tuple(d.ts for d in self.delivered)
            if index < len(self.delivered):
                if replace and self.delivered[index].ts != ts:
                    self.to_delete.append(self.delivered[index].ts)
                self.delivered[index] = Delivered(ts, text, buttons)
            else:
                self.delivered.append(Delivered(ts, text, buttons))
            parts = tuple(d.ts for d in self.delivered)
        self.settled.set()
        if self._on_parts is not None and parts != before:
            self._on_parts(parts)

    def abandon_from(self, index: int, *, until_final: bool) -> None:
        """Stop editing messages `index`… (they stay as they are in Slack); their text is posted anew — only
        once the answer is final if `until_final`."""
        with self._lock:
            del self.delivered[index:]
            self.hold = until_final and not self._final

    @property
    def holding(self) -> bool:
        """Nothing is written until the final text (after an unknown refusal of an edit)."""
        with self._lock:
            return self.hold and not self._final

    def end(self, outcome: Outcome, error: str | None = None) -> None:
        with self._lock:
            if self.outcome is not Outcome.PENDING:
                return
            self.outcome = outcome
            self.error = error
            callbacks = [] if outcome is Outcome.DELIVERED else list(self._on_end)
            self._on_end.clear()
        self.settled.set()
        for callback in callbacks:
            try:
                callback()
            except Exception:
                logger.exception("an end-of-answer callback failed")
        self.done.set()
