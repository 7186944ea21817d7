"""Every Slack write an answer makes: placeholders, edits and continuation messages.

`SlackWriter` owns one `Scheduler` (the workspace's budgets) and a dispatcher thread that hands turns to a
small pool of I/O threads. Each answer is an `AnswerHandle`: the responder appends model text to it and
finishes it; the writer decides when Slack sees what. One call per answer at a time, always with the
answer's latest text, so edits never go backwards and a waiting answer never sends stale text.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.render.layout import AnswerLayout, Part, Renderer
from bot.slack.marks import answer_metadata
from bot.slack.scheduler import Method, Scheduler

logger = logging.getLogger(__name__)

GONE_ERRORS = frozenset({"message_not_found", "cant_update_message", "channel_not_found", "is_archived",
                         "not_in_channel", "thread_not_found", "restricted_action", "account_inactive",
                         "invalid_auth", "token_revoked", "missing_scope", "restricted_action_thread_locked"})
METADATA_ERRORS = frozenset({"invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
                             "metadata_must_be_sent_from_app"})
MAX_CALL_FAILURES = 8  # transient failures of one call before the answer is given up
IO_THREADS = 8  # Slack calls in flight at once, for all answers


class PostError(Exception):
    """A placeholder could not be posted; `error` is Slack's error code."""

    def __init__(self, error: str) -> None:
        self.error = error
        super().__init__(error)


@dataclass(frozen=True)
class AnswerRef:
    """Where an answer goes: `reply_to` is the ts of the message it answers, `answer_id` names it."""

    team_id: str
    channel: str
    thread_ts: str
    reply_to: str
    answer_id: str


@dataclass
class Delivered:
    ts: str
    text: str


@dataclass
class WriteStats:
    edits: int = 0
    posts: int = 0
    rate_limited: int = 0
    first_visible: float | None = None
    final_visible: float | None = None


def metadata(ref: AnswerRef, index: int, part: Part, state: str, *, with_md: bool,
             parts: int | None = None) -> dict[str, Any]:
    """The marks of message `index` of an answer (`bot.slack.marks`); `parts` is set on final messages."""
    return answer_metadata(answer_id=ref.answer_id, reply_to=ref.reply_to, part=index, state=state,
                           md=part.md if with_md else None, parts=parts)


class AnswerHandle:
    """The responder's side of one answer. Thread-safe."""

    def __init__(self, writer: SlackWriter, ref: AnswerRef, layout: AnswerLayout, placeholder: Delivered) -> None:
        self.ref = ref
        self._writer = writer
        self._lock = threading.Lock()
        self._layout = layout
        self._final = False
        self._note: str | None = None
        self._status: str | None = None
        self.delivered: list[Delivered] = [placeholder]
        self.to_delete: list[str] = []
        self.with_md = True
        self.failures = 0
        self.stats = WriteStats()
        self.cancelled = False
        self.done = threading.Event()

    @property
    def key(self) -> str:
        return self.ref.answer_id

    # -- the responder's calls -------------------------------------------------------------------------
    def append(self, markdown: str) -> None:
        with self._lock:
            self._layout.append(markdown)
        self._writer.dirty(self)

    def set_status(self, status: str) -> None:
        with self._lock:
            self._status = status
        self._writer.dirty(self)

    def finish(self, note: str | None = None) -> None:
        with self._lock:
            self._final = True
            self._note = note
        self._writer.dirty(self, final=True)

    def wait(self, timeout: float | None = None) -> bool:
        return self.done.wait(timeout)

    # -- the writer's calls ----------------------------------------------------------------------------
    def next_call(self) -> tuple[Method, int, Part, str, int] | None:
        """The first message whose Slack state differs from what it should be:
        (method, index, part, state, number of parts)."""
        with self._lock:
            parts = self._layout.snapshot(final=self._final, note=self._note, status=self._status)
            final = self._final
            has_text = self._layout.has_text
        for index, part in enumerate(parts):
            state = "final" if final else ("streaming" if has_text else "thinking")
            if index >= len(self.delivered):
                return Method.POST, index, part, state, len(parts)
            if self.delivered[index].text != part.text:
                return Method.UPDATE, index, part, state, len(parts)
        if self.to_delete:  # a placeholder replaced by a new message: remove it once the text is out
            return Method.DELETE, -1, Part("", "", sealed=True), "final", len(parts)
        return None

    def shrink(self, index: int) -> None:
        with self._lock:
            self._layout.shrink(index)

    @property
    def shown(self) -> bool:
        with self._lock:
            return self._layout.has_text


class SlackWriter:
    """Runs the scheduler's turns against Slack. Start it once; `close()` stops the dispatcher."""

    def __init__(
        self,
        client: WebClient,
        renderer: Renderer,
        *,
        interval: float,
        edits_per_minute: float,
        edit_burst: int,
        posts_per_second: float,
        post_burst: int,
        backoff: Callable[[int], float] = lambda n: min(10.0, 0.5 * 2 ** (n - 1)),
    ) -> None:
        self._client = client
        self._renderer = renderer
        self._clock = time.monotonic
        self._backoff = backoff
        self._cond = threading.Condition()
        self._sched = Scheduler(interval=interval, edits_per_minute=edits_per_minute, edit_burst=edit_burst,
                                posts_per_second=posts_per_second, post_burst=post_burst, now=self._clock())
        self._handles: dict[str, AnswerHandle] = {}
        self._pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="slack-write")
        self._stopped = False
        self._thread = threading.Thread(target=self._dispatch, name="slack-scheduler", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=True, cancel_futures=False)

    # -- placeholders (posted by the caller's thread, within the same budgets) --------------------------
    def post_placeholder(self, ref: AnswerRef, text: str) -> str:
        """Post the reply's first message now (waiting only for the channel's post budget); return its ts.

        Raises PostError for errors that retrying cannot fix (not_in_channel, channel_not_found, …).
        """
        failures = 0
        while True:
            with self._cond:
                wait = self._sched.take_post(ref.channel, self._clock())
            if wait > 0:
                time.sleep(min(wait, 1.0))
                continue
            part = Part("", text, sealed=False)
            try:
                response = self._client.chat_postMessage(
                    channel=ref.channel, thread_ts=ref.thread_ts, text=text,
                    metadata=metadata(ref, 0, part, "thinking", with_md=True),
                )
                return str(response["ts"])
            except SlackApiError as exc:
                error = str(exc.response.get("error", ""))
                if exc.response.status_code == 429:
                    self._paused(Method.POST, exc)
                    continue
                if error in GONE_ERRORS or exc.response.status_code < 500:
                    raise PostError(error or f"http_{exc.response.status_code}") from exc
                failures += 1
            except Exception as exc:  # noqa: BLE001 - connection resets, timeouts
                failures += 1
                logger.warning("posting a placeholder failed (%s)", type(exc).__name__)
            if failures >= MAX_CALL_FAILURES:
                raise PostError("unreachable")
            time.sleep(self._backoff(failures))

    def open(self, ref: AnswerRef, placeholder_ts: str, placeholder_text: str, *, limit: int) -> AnswerHandle:
        handle = AnswerHandle(self, ref, AnswerLayout(self._renderer, limit=limit),
                              Delivered(placeholder_ts, placeholder_text))
        with self._cond:
            self._handles[handle.key] = handle
            self._sched.add(handle.key, ref.channel)
        return handle

    def dirty(self, handle: AnswerHandle, *, final: bool = False) -> None:
        with self._cond:
            if handle.key not in self._sched.slots:
                return
            was_dirty = self._sched.slots[handle.key].dirty
            self._sched.mark_dirty(handle.key, self._clock(), method=self._sched.slots[handle.key].next_method,
                                   final=final)
            if final or not was_dirty:
                self._cond.notify_all()

    # -- the dispatcher ---------------------------------------------------------------------------------
    def _dispatch(self) -> None:
        with self._cond:
            while not self._stopped:
                turn, wait = self._sched.next_turn(self._clock())
                if turn is None:
                    self._cond.wait(timeout=wait if wait is not None else 5.0)
                    continue
                handle = self._handles[turn.key]
                self._pool.submit(self._run, handle, turn.method, turn.replace)

    def _paused(self, method: Method, exc: SlackApiError) -> None:
        retry_after = float(exc.response.headers.get("Retry-After", exc.response.headers.get("retry-after", 1)))
        with self._cond:
            self._sched.pause(method, self._clock() + retry_after)
            self._cond.notify_all()
        logger.warning("Slack rate-limited %s; pausing it for %.0fs for every answer", method.value, retry_after)

    def _finish_turn(self, handle: AnswerHandle, *, retry_in: float | None = None, gone: bool = False,
                     shown: bool = False, refund: Method | None = None) -> None:
        """End a turn: `gone` drops the answer, `retry_in` retries it later, otherwise it was written."""
        if not gone and retry_in is None:
            with self._cond:
                marks = self._sched.slots[handle.key].marks
            nxt = handle.next_call()  # outside the lock: rendering takes time
        with self._cond:
            now = self._clock()
            if refund is not None:
                self._sched.refund(refund, handle.ref.channel, now)
            if gone:
                handle.cancelled = True
                self._sched.remove(handle.key)
                self._handles.pop(handle.key, None)
                handle.done.set()
            elif retry_in is not None:
                self._sched.failed(handle.key, now, retry_in=retry_in)
            else:
                slot = self._sched.slots[handle.key]
                self._sched.written(handle.key, now, shown=shown, more=nxt[0] if nxt else None, marks=marks)
                if not slot.dirty and slot.final:
                    if handle.stats.final_visible is None:
                        handle.stats.final_visible = now
                    self._sched.remove(handle.key)
                    self._handles.pop(handle.key, None)
                    handle.done.set()
            self._cond.notify_all()

    def _run(self, handle: AnswerHandle, granted: Method, replace: bool = False) -> None:
        try:
            self._run_call(handle, granted, replace)
        except Exception:
            logger.exception("writing answer %s failed", handle.key)
            self._finish_turn(handle, gone=True)

    def _run_call(self, handle: AnswerHandle, granted: Method, replace: bool) -> None:
        call = handle.next_call()
        if call is None:
            self._finish_turn(handle, refund=granted)
            return
        method, index, part, state, count = call
        if replace and method is Method.UPDATE and index == 0 and state == "final":
            method = Method.POST  # post the final text as a new message; the placeholder goes later
        if method is Method.DELETE:
            self._delete(handle)
            return
        if method is not granted:  # the text changed shape since the turn was granted: ask again
            with self._cond:
                self._sched.slots[handle.key].next_method = method
            self._finish_turn(handle, retry_in=0.0, refund=granted)
            return
        meta = metadata(handle.ref, index, part, state, with_md=handle.with_md,
                        parts=count if state == "final" else None)
        try:
            if method is Method.UPDATE:
                self._client.chat_update(channel=handle.ref.channel, ts=handle.delivered[index].ts,
                                         text=part.text, metadata=meta)
                handle.stats.edits += 1
            else:
                response = self._client.chat_postMessage(channel=handle.ref.channel, thread_ts=handle.ref.thread_ts,
                                                         text=part.text, metadata=meta)
                if index < len(handle.delivered):  # a replacement of the placeholder
                    handle.to_delete.append(handle.delivered[index].ts)
                    handle.delivered[index] = Delivered(str(response["ts"]), "")
                else:
                    handle.delivered.append(Delivered(str(response["ts"]), ""))
                handle.stats.posts += 1
        except SlackApiError as exc:
            self._handle_error(handle, method, index, exc)
            return
        except Exception as exc:  # noqa: BLE001 - connection resets and timeouts: retry with backoff
            self._transient(handle, type(exc).__name__)
            return
        handle.delivered[index].text = part.text
        handle.failures = 0
        if state != "thinking" and handle.stats.first_visible is None:
            handle.stats.first_visible = self._clock()
        if state == "final" and handle.stats.final_visible is None:
            nxt = handle.next_call()
            if nxt is None or nxt[0] is Method.DELETE:
                handle.stats.final_visible = self._clock()
        self._finish_turn(handle, shown=state != "thinking")

    def _delete(self, handle: AnswerHandle) -> None:
        try:
            self._client.chat_delete(channel=handle.ref.channel, ts=handle.to_delete[0])
        except SlackApiError as exc:
            if exc.response.status_code == 429:
                self._paused(Method.DELETE, exc)
                self._finish_turn(handle, retry_in=0.0)
                return
            if exc.response.get("error") not in ("message_not_found", "cant_delete_message"):
                self._transient(handle, str(exc.response.get("error")))
                return
        except Exception as exc:  # noqa: BLE001 - connection resets and timeouts: retry with backoff
            self._transient(handle, type(exc).__name__)
            return
        handle.to_delete.pop(0)
        self._finish_turn(handle, shown=True)

    def _handle_error(self, handle: AnswerHandle, method: Method, index: int, exc: SlackApiError) -> None:
        error = str(exc.response.get("error", ""))
        status = exc.response.status_code
        if status == 429 or error in ("ratelimited", "rate_limited"):
            handle.stats.rate_limited += 1
            self._paused(method, exc)
            self._finish_turn(handle, retry_in=0.0)
        elif error == "msg_too_long":
            logger.warning("Slack refused message %d of answer %s as too long; splitting smaller", index, handle.key)
            handle.shrink(index)
            self._finish_turn(handle, retry_in=0.0)
        elif error in METADATA_ERRORS and handle.with_md:
            logger.warning("Slack refused the answer's metadata (%s); sending marks without the text", error)
            handle.with_md = False
            self._finish_turn(handle, retry_in=0.0)
        elif error in GONE_ERRORS:
            logger.info("answer %s stopped: Slack says %s (the reply or thread is gone)", handle.key, error)
            self._finish_turn(handle, gone=True)
        elif status >= 500:
            self._transient(handle, f"http_{status}")
        else:
            logger.error("Slack refused a write of answer %s: %s", handle.key, error)
            self._transient(handle, error)

    def _transient(self, handle: AnswerHandle, reason: str) -> None:
        handle.failures += 1
        if handle.failures >= MAX_CALL_FAILURES:
            logger.error("giving up on answer %s after %d failed Slack calls (%s)", handle.key, handle.failures,
                         reason)
            self._finish_turn(handle, gone=True)
            return
        delay = self._backoff(handle.failures)
        logger.warning("a Slack write of answer %s failed (%s); retrying in %.1fs", handle.key, reason, delay)
        self._finish_turn(handle, retry_in=delay)
