"""Every Slack write an answer makes: its placeholder, edits, continuation messages, notes.

`SlackWriter` owns one `Scheduler` (the workspace's budgets) and a dispatcher thread that hands turns to a
small pool of I/O threads. Each answer is an `AnswerHandle` (`bot.slack.answer`): the responder appends model
text to it and finishes it; the writer decides when Slack sees what. One call per answer at a time, always with the
answer's latest text, so edits never go backwards and a waiting answer never sends stale text.

What a failed call means is decided in one place (`bot.slack.errors.classify`):

* deleted (the reply, thread or channel is gone) or refused (the bot may not write there): the answer ends,
  and its `on_end` callbacks run (the responder stops the model);
* rate limited: that method pauses (posts: in that channel) and the call is made again afterwards;
* transient (Slack or the network failed): retried with backoff, with the newest text each time, for as long
  as `retry_seconds` allows; then the final text is posted as new messages, and only if that fails too is the
  answer given up (`undelivered`). A post whose response was lost may have landed: before posting again, the
  writer looks in the thread for a message carrying the same marks (answer id and part) and adopts it;
* anything else (an unknown refusal): the answer's final text is posted as new messages, once.

The writer's own threads are supervised: an unexpected exception is logged and the turn retried later; the
dispatcher loop restarts itself; nothing queued is lost.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_sdk import WebClient

from bot.render.layout import AnswerLayout, Part, Renderer
from bot.slack import feedback
from bot.slack.answer import AnswerHandle, AnswerRef, Call, Delivered, Outcome, metadata
from bot.slack.budget import Budget
from bot.slack.errors import Fault, Kind, classify, fix_for
from bot.slack.marks import read_marks
from bot.slack.reader import SlackReader
from bot.slack.scheduler import Method, Route, Scheduler
from bot.slack.stream import NativeLayout, Op, StreamMessage, StreamState

logger = logging.getLogger(__name__)

IO_THREADS = 8  # Slack calls in flight at once, for all answers
LOADING_MESSAGES = ("Thinking…", "Reading the conversation…", "Writing the answer…")  # a DM's rotating status
FALLBACK_TEXT = 3000  # characters of `text` beside the blocks of a stream finished with chat.update
# errors of chat.startStream that mean "no streams here": the answer goes the edit route instead
NO_STREAM_ERRORS = frozenset({"unknown_method", "method_not_supported_for_channel_type", "not_allowed",
                              "feature_not_enabled", "missing_recipient_user_id", "missing_recipient_team_id",
                              "invalid_arguments", "not_supported"})
BACKOFF_CAP = 5.0  # seconds between two attempts of a failing call: after an outage the text lands this soon




class SlackWriter:
    """Runs the scheduler's turns against Slack. `start()` it once; `drain()` then `close()` at shutdown."""

    def __init__(
        self,
        client: WebClient,
        edit_client: WebClient,
        reader: SlackReader,
        renderer: Renderer,
        *,
        interval: float,
        edits_per_minute: float,
        edit_burst: int,
        posts_per_second: float,
        post_burst: int,
        retry_seconds: float,
        shared: Budget | None = None,
        backoff: Callable[[int], float] = lambda n: min(BACKOFF_CAP, 0.5 * 2 ** (n - 1)),
        mode: str = "edit",
        streams_per_minute: float = 20.0,
        stream_burst: int = 5,
        appends_per_minute: float = 100.0,
        append_burst: int = 20,
        dm_status: bool = True,
    ) -> None:
        """`client` posts and deletes; `edit_client` (a short timeout: an edit is cheap to redo with newer text)
        edits; `reader` looks for posts whose response was lost; `shared` is the workspace's budget when several
        processes write (None: this process alone). `mode` is STREAMING_MODE: `edit`, `native` or `auto` (the
        scheduler picks each answer's route); `dm_status`: a DM shows a status instead of a placeholder."""
        self._client = client
        self._edit_client = edit_client
        self._reader = reader
        self._renderer = renderer
        self._clock = time.monotonic
        self._backoff = backoff
        self._retry_seconds = retry_seconds
        self._cond = threading.Condition()
        self._sched = Scheduler(interval=interval, edits_per_minute=edits_per_minute, edit_burst=edit_burst,
                                posts_per_second=posts_per_second, post_burst=post_burst, now=self._clock(),
                                shared=shared is not None, streams_per_minute=streams_per_minute,
                                stream_burst=stream_burst, appends_per_minute=appends_per_minute,
                                append_burst=append_burst)
        self._mode = mode
        self._dm_status = dm_status
        self._no_streams: set[str] = set()  # channels where Slack refused a stream: the edit route there
        self._shared = shared
        self._handles: dict[str, AnswerHandle] = {}
        self._pool = ThreadPoolExecutor(max_workers=IO_THREADS, thread_name_prefix="slack-write")
        self._stopped = False
        self._thread = threading.Thread(target=self._dispatch_forever, name="slack-scheduler", daemon=True)
        self._refused = set[tuple[str, str]]()  # (channel, error) already logged at ERROR

    def start(self) -> None:
        self._thread.start()

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._stopped

    def pending(self) -> int:
        with self._cond:
            return len(self._handles)

    def drain(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds until every answer's last text has landed (or ended). True if so."""
        deadline = self._clock() + timeout
        with self._cond:
            while self._handles:
                left = deadline - self._clock()
                if left <= 0:
                    return False
                self._cond.wait(min(left, 0.5))
        return True

    def close(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify_all()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    # -- answers ------------------------------------------------------------------------------------------
    def route_for(self, channel: str) -> Route | None:
        """The route of a new answer in `channel` (None: the scheduler decides when its first message is due)."""
        if self._mode == "edit" or channel in self._no_streams:
            return Route.EDIT
        return Route.NATIVE if self._mode == "native" else None

    def open(self, ref: AnswerRef, *, status: str, limit: int, restored: Sequence[tuple[str, str, str]] = (),
             on_parts: Callable[[tuple[str, ...]], None] | None = None,
             native: Sequence[tuple[str, str, bool]] = ()) -> AnswerHandle:
        """An answer whose first message is posted at once showing `status` (in a DM: a status, and the first
        message when text is there), unless `restored`: the (ts, text, Markdown) of the messages it already has in
        Slack, after a restart — or `native`: the (ts, Markdown, still streaming) of its streamed messages."""
        layout = AnswerLayout(self._renderer, limit=limit)
        if native:
            stream_layout = NativeLayout()
            stream_layout.restore([(md, still) for _ts, md, still in native])
            streams = [StreamMessage(ts, md, StreamState.STREAMING if still else StreamState.CLOSED)
                       for ts, md, still in native]
            handle = AnswerHandle(self, ref, layout, status=status, on_parts=on_parts, route=Route.NATIVE,
                                  native=stream_layout, streams=streams,
                                  delivered=[Delivered(ts, md) for ts, md, _open in native])
            self._add(handle)
            return handle
        if restored:
            layout.restore([(md, text) for _ts, text, md in restored])
        route = Route.EDIT if restored else self.route_for(ref.channel)
        handle = AnswerHandle(self, ref, layout, status=status, on_parts=on_parts, route=route,
                              status_mode=ref.dm and self._dm_status and not restored,
                              delivered=[Delivered(ts, text) for ts, text, _md in restored])
        self._add(handle)
        return handle

    def post_note(self, ref: AnswerRef, text: str) -> AnswerHandle:
        """A reply that is only `text` (a refusal, "too busy"): posted once, through the same budgets."""
        handle = AnswerHandle(self, ref, AnswerLayout(self._renderer), status="", fixed=text)
        self._add(handle)
        return handle

    def side_call(self, method: Method, channel: str, call: Callable[[WebClient], Any], attempt: int = 1) -> None:
        """A one-off call that is not part of an answer (an ephemeral message, a title, suggested prompts): made on
        the writer's I/O threads within its budget (`Scheduler.take`, and the shared budget); a 429 or a transient
        failure is retried (three attempts), any other refusal logged once per method and error."""
        with self._cond:
            wait, shared = self._sched.take(method, channel, self._clock())
        if wait <= 0 and shared is not None and self._shared is not None:
            wait = self._shared.take(*shared)
            if wait > 0:
                with self._cond:
                    self._sched.hold(shared[0], self._clock(), wait)
        if wait > 0:
            timer = threading.Timer(min(wait, 60.0), self.side_call, (method, channel, call, attempt))
            timer.daemon = True
            timer.start()
            return
        self._pool.submit(self._side, method, channel, call, attempt)

    def _side(self, method: Method, channel: str, call: Callable[[WebClient], Any], attempt: int) -> None:
        try:
            call(self._client)
        except Exception as exc:  # noqa: BLE001 - classified
            fault = classify(exc)
            if fault.kind is Kind.RATE_LIMITED:
                with self._cond:
                    key = self._sched.pause(method, self._clock() + fault.retry_after, channel)
                if self._shared is not None:
                    self._shared.pause(key, fault.retry_after)
            if fault.kind in (Kind.RATE_LIMITED, Kind.TRANSIENT) and attempt < 3:
                delay = fault.retry_after or self._backoff(attempt)
                timer = threading.Timer(delay, self.side_call, (method, channel, call, attempt + 1))
                timer.daemon = True
                timer.start()
                return
            first = (method.value, fault.code) not in self._refused
            self._refused.add((method.value, fault.code))
            logger.log(logging.WARNING if first else logging.DEBUG, "Slack refused %s in %s: %s. %s", method.value,
                       channel, fault.code, fix_for(fault.code))

    def stream_stopped(self, channel: str, ts: str) -> None:
        """Slack says the person stopped the stream `ts` (a stop event): the answer writing it stops now."""
        with self._cond:
            found = [(h, i) for h in self._handles.values() if h.ref.channel == channel
                     for i, m in enumerate(h.streams) if m.ts == ts or (not ts and m.open)]
        for handle, index in found:
            logger.info("answer %s: the person stopped its stream", handle.key)
            handle.stream_ended(index, StreamState.USER_STOPPED)
            self.dirty(handle, final=True)

    def deleted(self, channel: str, ts: str) -> None:
        """Slack says one of the bot's messages was deleted: the answer writing into it (if any) ends now, and
        its `on_end` callbacks stop the model, even while the model says nothing."""
        with self._cond:
            gone = [h for h in self._handles.values()
                    if h.ref.channel == channel and any(d.ts == ts for d in h.delivered) and ts not in h.to_delete]
        for handle in gone:
            logger.info("answer %s stopped: its reply was deleted", handle.key)
            self._end(handle, Outcome.DELETED, "message_deleted")

    def forget(self, handle: AnswerHandle) -> None:
        """Write nothing more for this answer (another process took it over)."""
        self._end(handle, Outcome.TAKEN_OVER, None)

    def _add(self, handle: AnswerHandle) -> None:
        with self._cond:
            self._handles[handle.key] = handle
            self._sched.add(handle.key, handle.ref.channel, posted=bool(handle.delivered), route=handle.route)
            nxt = handle.next_call()
            if nxt is not None:
                self._sched.mark_dirty(handle.key, self._clock(), method=nxt.method, final=handle.final)
            self._cond.notify_all()

    def dirty(self, handle: AnswerHandle, *, final: bool = False) -> None:
        if not final and handle.holding:
            return
        with self._cond:
            slot = self._sched.slots.get(handle.key)
            if slot is None:
                return
            was_dirty = slot.dirty
            self._sched.mark_dirty(handle.key, self._clock(), method=slot.next_method, final=final)
            if final or not was_dirty:
                self._cond.notify_all()

    # -- the dispatcher -------------------------------------------------------------------------------------
    def _dispatch_forever(self) -> None:
        while not self._stopped:
            try:
                self._dispatch()
            except Exception:  # a bug must not stop every answer's writes: log it and carry on
                logger.exception("the Slack write scheduler failed; restarting it")
                time.sleep(0.1)

    def _dispatch(self) -> None:
        while not self._stopped:
            with self._cond:
                turn, wait = self._sched.next_turn(self._clock())
                if turn is None:
                    self._cond.wait(timeout=wait if wait is not None else 5.0)
                    continue
                handle = self._handles.get(turn.key)
                if handle is None:  # defensive: a slot without its handle
                    self._sched.remove(turn.key)
                    continue
            if turn.shared is not None and self._shared is not None:  # asked without holding the lock
                shared_wait = self._shared.take(*turn.shared)
                if shared_wait > 0:
                    with self._cond:
                        self._sched.denied(turn, self._clock(), shared_wait)
                    continue
            self._pool.submit(self._run, handle, turn.method, turn.replace)

    def _run(self, handle: AnswerHandle, granted: Method, replace: bool) -> None:
        try:
            self._run_call(handle, granted, replace)
        except Exception as exc:  # a bug in one turn: log it, retry the answer later, lose nothing
            logger.exception("a Slack write of answer %s failed unexpectedly", handle.key)
            self._retry(handle, granted, Fault(Kind.TRANSIENT, type(exc).__name__))

    def _run_call(self, handle: AnswerHandle, granted: Method, replace: bool) -> None:
        call = handle.next_call()
        if call is None:
            self._finish_turn(handle, refund=granted)
            return
        if handle.route is None and call.method is Method.POST and granted in (Method.START, Method.POST):
            handle.set_route(Route.NATIVE if granted is Method.START else Route.EDIT)  # the scheduler chose
            call = handle.next_call()
            if call is None:
                self._finish_turn(handle, refund=granted)
                return
        method = call.method
        if replace and method is Method.UPDATE and call.index == 0 and call.state == "final":
            method = Method.POST  # post the final text as a new message; the placeholder goes later
        if method is not granted:  # the text changed shape since the turn was granted: ask again
            with self._cond:
                self._sched.slots[handle.key].next_method = method
            self._finish_turn(handle, retry_in=0.0, refund=granted)
            return
        if method is Method.DELETE:
            self._delete(handle)
            return
        if method is Method.STATUS:
            self._set_status(handle, call)
            return
        if call.stream is not None:
            self._stream(handle, call)
            return
        if method is Method.POST and call.index in handle.lookups:
            found = self._adopt(handle, call, replace=replace)
            if found is None:  # the look-up itself failed; _failed has scheduled the retry
                return
            if found:
                self._finish_turn(handle, shown=call.state != "thinking", refund=granted)
                return
        meta = metadata(handle.ref, call.index, call.part, call.state, with_md=handle.with_md,
                        parts=call.count if call.state == "final" else None)
        blocks = feedback.edit_blocks(call.part.text, handle.key) if call.buttons else None
        try:
            if method is Method.UPDATE:
                self._edit_client.chat_update(channel=handle.ref.channel, ts=handle.delivered[call.index].ts,
                                              text=call.part.text, metadata=meta, blocks=blocks)
                handle.stats.edits += 1
                ts = handle.delivered[call.index].ts
            else:
                response = self._client.chat_postMessage(channel=handle.ref.channel, thread_ts=handle.ref.thread_ts,
                                                         text=call.part.text, metadata=meta, blocks=blocks)
                handle.stats.posts += 1
                ts = str(response["ts"])
        except Exception as exc:  # noqa: BLE001 - every failure is classified in one place
            fault = classify(exc)
            if method is Method.POST and fault.ambiguous:
                handle.lookups.add(call.index)
            self._failed(handle, method, call, fault)
            return
        handle.lookups.discard(call.index)
        handle.record(call.index, ts, call.part.text, replace=replace and call.index == 0, buttons=call.buttons)
        self._written(handle, call)

    # -- the DM's status and the native route ---------------------------------------------------------------
    def _set_status(self, handle: AnswerHandle, call: Call) -> None:
        """assistant.threads.setStatus: the DM shows that the bot is working, with rotating loading messages. A
        refusal (an app without the agent features or the scope, an older workspace) falls back to a
        placeholder message."""
        try:
            self._client.assistant_threads_setStatus(channel_id=handle.ref.channel, thread_ts=handle.ref.thread_ts,
                                                     status=call.part.text, loading_messages=list(LOADING_MESSAGES))
        except Exception as exc:  # noqa: BLE001 - classified
            fault = classify(exc)
            if fault.kind in (Kind.RATE_LIMITED, Kind.TRANSIENT):
                self._failed(handle, Method.STATUS, call, fault)
                return
            if (handle.ref.channel, "status:" + fault.code) not in self._refused:
                self._refused.add((handle.ref.channel, "status:" + fault.code))
                logger.info("no status in %s (%s): a placeholder message instead", handle.ref.channel, fault.code)
            handle.status_failed = True
            self._finish_turn(handle, retry_in=0.0)
            return
        handle.stats.statuses += 1
        handle.status_shown = call.part.text
        handle.settled.set()
        self._written(handle, call)

    def _stream(self, handle: AnswerHandle, call: Call) -> None:
        """One call of the native route (`bot.slack.stream`): start, append, stop, or finish with chat.update."""
        stream = call.stream
        assert stream is not None
        ref = handle.ref
        meta = metadata(ref, call.index, call.part, call.state, with_md=handle.with_md, route=Route.NATIVE,
                        parts=call.count if call.state == "final" else None)
        blocks = [feedback.buttons(handle.key)] if call.buttons else None
        try:
            if stream.op is Op.START:
                response = self._client.chat_startStream(channel=ref.channel, thread_ts=ref.thread_ts,
                                                         markdown_text=stream.text or None,
                                                         recipient_user_id=ref.recipient_user,
                                                         recipient_team_id=ref.recipient_team)
                handle.stats.starts += 1
                handle.started(call.index, str(response["ts"]), stream.text)
            elif stream.op is Op.APPEND:
                self._edit_client.chat_appendStream(channel=ref.channel, ts=handle.streams[call.index].ts,
                                                    markdown_text=stream.text)
                handle.stats.appends += 1
                handle.appended(call.index, stream.text)
            elif stream.op is Op.STOP:
                self._client.chat_stopStream(channel=ref.channel, ts=handle.streams[call.index].ts,
                                             markdown_text=stream.text or None, metadata=meta, blocks=blocks)
                handle.stats.stops += 1
                handle.appended(call.index, stream.text, closed=True)
            else:  # FINISH: Slack ended the stream; the message keeps its text as a markdown block, with its marks
                fallback = stream.part.md[:FALLBACK_TEXT] or stream.text[:FALLBACK_TEXT] or "…"
                self._edit_client.chat_update(channel=ref.channel, ts=handle.streams[call.index].ts, text=fallback,
                                              blocks=[{"type": "markdown", "text": stream.text}, *(blocks or [])],
                                              metadata=meta)
                handle.stats.edits += 1
                handle.finished_stream(call.index)
        except Exception as exc:  # noqa: BLE001 - every failure is classified in one place
            self._stream_failed(handle, call, classify(exc))
            return
        if call.buttons and handle.delivered:
            handle.delivered[call.index].buttons = True
        self._written(handle, call)

    def _stream_failed(self, handle: AnswerHandle, call: Call, fault: Fault) -> None:
        stream = call.stream
        assert stream is not None
        code = fault.code
        if code == "message_not_in_streaming_state" and stream.op in (Op.APPEND, Op.STOP):
            logger.info("answer %s: Slack ended the stream of message %d; finishing it with chat.update",
                        handle.key, call.index)
            handle.stats.expired += 1
            handle.stream_ended(call.index, StreamState.EXPIRED)
            self._finish_turn(handle, retry_in=0.0)
        elif code == "stopped_by_user":
            logger.info("answer %s: the person stopped its stream", handle.key)
            handle.stream_ended(call.index, StreamState.USER_STOPPED)
            self._finish_turn(handle, retry_in=0.0)
        elif code == "streaming_state_conflict" and stream.op is Op.FINISH:
            handle.reopen_stream(call.index)  # it still streams after all: stop it instead
            self._finish_turn(handle, retry_in=0.0)
        elif stream.op is Op.START and call.index == 0 and not handle.streams and (
                code in NO_STREAM_ERRORS or fault.kind is Kind.UNKNOWN):
            if handle.ref.channel not in self._no_streams:
                logger.warning("Slack refused a stream in %s (%s): answers there take the edit route",
                               handle.ref.channel, code)
            self._no_streams.add(handle.ref.channel)
            handle.fall_back_to_edit()
            with self._cond:
                slot = self._sched.slots.get(handle.key)
                if slot is not None:
                    slot.route = Route.EDIT
            self._finish_turn(handle, retry_in=0.0)
        elif fault.kind is Kind.UNKNOWN and stream.op in (Op.APPEND, Op.STOP):
            logger.error("Slack refused a stream call of answer %s (%s); finishing the message with chat.update",
                         handle.key, code)
            handle.stream_ended(call.index, StreamState.EXPIRED)
            self._finish_turn(handle, retry_in=0.0)
        elif fault.kind is Kind.UNKNOWN and stream.op is Op.FINISH:
            logger.error("Slack refused to finish message %d of answer %s (%s); it keeps what it shows",
                         call.index, handle.key, code)
            handle.finished_stream(call.index)
            self._finish_turn(handle, retry_in=0.0)
        elif fault.kind is Kind.TOO_LONG and stream.op is not Op.START:
            handle.stream_ended(call.index, StreamState.EXPIRED)  # end the message there; go on in a new one
            self._finish_turn(handle, retry_in=0.0)
        else:
            self._failed(handle, call.method, call, fault)

    def _written(self, handle: AnswerHandle, call: Call) -> None:
        handle.failures = 0
        handle.failing_since = None
        now = self._clock()
        if handle.stats.placeholder_visible is None:
            handle.stats.placeholder_visible = now
        if call.state != "thinking" and handle.stats.first_visible is None:
            handle.stats.first_visible = now
        self._finish_turn(handle, shown=call.state != "thinking")

    def _adopt(self, handle: AnswerHandle, call: Call, *, replace: bool) -> bool | None:
        """A post of this part may have landed although its response was lost: look for it in the thread.
        True: found and adopted; False: not there (post it); None: the look-up failed (retried later)."""
        known = {d.ts for d in handle.delivered}
        try:
            messages = self._reader.fetch_since(handle.ref.channel, handle.ref.thread_ts, handle.ref.reply_to)
        except Exception as exc:  # noqa: BLE001 - can't look now: try again later, post nothing meanwhile
            self._failed(handle, Method.POST, call, classify(exc))
            return None
        for message in messages:
            marks = read_marks(message)
            ts = str(message.get("ts") or "")
            if (marks is not None and marks.get("answer") == handle.key and marks.get("part") == call.index
                    and ts and ts not in known):
                logger.info("answer %s: part %d had landed although its post failed; adopting it", handle.key,
                            call.index)
                handle.stats.adopted += 1
                handle.lookups.discard(call.index)
                handle.record(call.index, ts, str(message.get("text") or ""), replace=replace and call.index == 0)
                if handle.stats.placeholder_visible is None:
                    handle.stats.placeholder_visible = self._clock()
                handle.failures = 0
                handle.failing_since = None
                return True
        handle.lookups.discard(call.index)
        return False

    def _delete(self, handle: AnswerHandle) -> None:
        try:
            self._client.chat_delete(channel=handle.ref.channel, ts=handle.to_delete[0])
        except Exception as exc:  # noqa: BLE001 - classified
            fault = classify(exc)
            if fault.kind not in (Kind.DELETED, Kind.REFUSED):  # a placeholder already gone is fine
                call = Call(Method.DELETE, -1, Part("", "", sealed=True), "final", 0)
                self._failed(handle, Method.DELETE, call, fault)
                return
        handle.to_delete.pop(0)
        self._finish_turn(handle, shown=True)

    # -- failures -----------------------------------------------------------------------------------------
    def _failed(self, handle: AnswerHandle, method: Method, call: Call, fault: Fault) -> None:
        try:
            self._handle_failure(handle, method, call, fault)
        finally:
            if method in (Method.POST, Method.START, Method.STATUS) and call.index <= 0:
                handle.settled.set()  # the placeholder was tried (its outcome is known): the answer may go on

    def _handle_failure(self, handle: AnswerHandle, method: Method, call: Call, fault: Fault) -> None:
        kind = fault.kind
        if kind is Kind.RATE_LIMITED:
            handle.stats.rate_limited += 1
            with self._cond:
                shared_key = self._sched.pause(method, self._clock() + fault.retry_after, handle.ref.channel)
                self._cond.notify_all()
            if self._shared is not None:
                self._shared.pause(shared_key, fault.retry_after)
            logger.warning("Slack rate-limited %s%s; pausing it for %.0fs", method.value,
                           f" in {handle.ref.channel}" if method is Method.POST else " for every answer",
                           fault.retry_after)
            self._finish_turn(handle, retry_in=0.0)
        elif kind is Kind.TOO_LONG:
            logger.warning("Slack refused message %d of answer %s as too long; splitting smaller", call.index,
                           handle.key)
            handle.shrink(call.index)
            self._finish_turn(handle, retry_in=0.0)
        elif kind is Kind.METADATA and handle.with_md:
            logger.warning("Slack refused the answer's metadata (%s); sending marks without the text", fault.code)
            handle.with_md = False
            self._finish_turn(handle, retry_in=0.0)
        elif kind is Kind.DELETED and not (method is Method.POST and call.index == 0):
            logger.info("answer %s stopped: Slack says %s (the reply or thread is gone)", handle.key, fault.code)
            self._end(handle, Outcome.DELETED, fault.code)
        elif kind in (Kind.REFUSED, Kind.DELETED):  # (also: the first post in a channel that is gone)
            first = (handle.ref.channel, fault.code) not in self._refused
            self._refused.add((handle.ref.channel, fault.code))
            logger.log(logging.ERROR if first else logging.INFO, "cannot write in channel %s: %s. %s",
                       handle.ref.channel, fault.code, fix_for(fault.code))
            self._end(handle, Outcome.REFUSED, fault.code)
        elif kind is Kind.TRANSIENT:
            self._retry(handle, method, fault)
        else:  # an unknown refusal: retrying the same call won't help; post the final text anew, once
            logger.error("Slack refused a write of answer %s: %s", handle.key, fault.code)
            self._give_up_edits(handle, method, call, fault)

    def _retry(self, handle: AnswerHandle, method: Method, fault: Fault) -> None:
        now = self._clock()
        handle.failures += 1
        handle.stats.failures += 1
        if handle.failing_since is None:
            handle.failing_since = now
        if now - handle.failing_since >= self._retry_seconds and handle.final:
            if handle.rescued:
                logger.error("answer %s undelivered: Slack kept failing for %.0fs (%s)", handle.key,
                             now - handle.failing_since, fault.code)
                self._end(handle, Outcome.UNDELIVERED, fault.code)
                return
            logger.error("answer %s: Slack kept failing for %.0fs (%s); posting the final text as new messages",
                         handle.key, now - handle.failing_since, fault.code)
            self._rescue(handle, method)
            self._finish_turn(handle, retry_in=0.0)
            return
        delay = self._backoff(handle.failures)
        logger.warning("a Slack write of answer %s failed (%s); retrying in %.1fs", handle.key, fault.code, delay)
        self._finish_turn(handle, retry_in=delay)

    def _give_up_edits(self, handle: AnswerHandle, method: Method, call: Call, fault: Fault) -> None:
        if method is Method.DELETE:  # the old placeholder stays; the answer itself is out
            handle.to_delete.pop(0)
            self._finish_turn(handle, shown=True)
            return
        if handle.rescued:
            self._end(handle, Outcome.UNDELIVERED, fault.code)
            return
        self._rescue(handle, method, index=call.index, until_final=True)
        if handle.holding:  # nothing more until the final text, which then goes out as new messages
            with self._cond:
                slot = self._sched.slots.get(handle.key)
                if slot is not None:
                    slot.dirty = False
        self._finish_turn(handle, retry_in=0.0)

    def _rescue(self, handle: AnswerHandle, method: Method, *, index: int | None = None,
                until_final: bool = False) -> None:
        """The message(s) that cannot be edited are left as they are and the text is posted anew (once)."""
        handle.rescued = True
        if method is Method.UPDATE and handle.route is not Route.NATIVE:
            first = index if index is not None else self._first_stale(handle)
            handle.abandon_from(first, until_final=until_final)

    @staticmethod
    def _first_stale(handle: AnswerHandle) -> int:
        call = handle.next_call()
        return call.index if call is not None and call.index >= 0 else len(handle.delivered)

    def _end(self, handle: AnswerHandle, outcome: Outcome, error: str | None) -> None:
        with self._cond:
            self._sched.remove(handle.key)
            self._handles.pop(handle.key, None)
            self._cond.notify_all()
        handle.end(outcome, error)

    # -- bookkeeping ----------------------------------------------------------------------------------------
    def _finish_turn(self, handle: AnswerHandle, *, retry_in: float | None = None, shown: bool = False,
                     refund: Method | None = None) -> None:
        """End a turn: `retry_in` retries it later, otherwise it was written (or had nothing to write)."""
        nxt: Call | None = None
        marks = 0
        if retry_in is None:
            with self._cond:
                slot = self._sched.slots.get(handle.key)
                marks = slot.marks if slot is not None else 0
            nxt = handle.next_call()  # outside the lock: rendering takes time
        finished = False
        give_back: tuple[str, float, float] | None = None
        with self._cond:
            now = self._clock()
            if refund is not None:
                give_back = self._sched.refund(refund, handle.ref.channel, now)
            slot = self._sched.slots.get(handle.key)
            if slot is None:
                pass
            elif retry_in is not None:
                self._sched.failed(handle.key, now, retry_in=retry_in)
            else:
                self._sched.written(handle.key, now, shown=shown, more=nxt.method if nxt else None, marks=marks)
                if not slot.dirty and slot.final:
                    if handle.stats.final_visible is None:
                        handle.stats.final_visible = now
                    self._sched.remove(handle.key)
                    self._handles.pop(handle.key, None)
                    finished = True
            self._cond.notify_all()
        if give_back is not None and self._shared is not None:
            self._shared.give(*give_back)
        if finished:
            handle.end(Outcome.DELIVERED)
