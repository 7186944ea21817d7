"""One answer end to end: admission, placeholder, history, model, Slack, journal; the single error boundary.

`Responder.answer(job)` runs in a worker of the answer pool. Whatever fails, the reply ends with the text
written so far and a short note, never on the placeholder, and the worker goes on to the next job. The job
stays in the journal until its final text is in Slack; a job read back from the journal after a restart is
resumed from the text its reply already shows (its messages' marks hold the model's Markdown).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.conversation import attachments, history, threads
from bot.conversation.access import Access
from bot.conversation.pool import Job
from bot.conversation.recent_files import RecentFiles
from bot.conversation.request import Request
from bot.conversation.threads import ThreadRegistry
from bot.errors import NOTES, Kind, ModelError
from bot.model.bedrock import ConverseStreamClient
from bot.model.generation import Generation, ModelCapabilities, ModelRequest, Policy
from bot.ops.recorder import NullRecorder, Recorder
from bot.render.layout import LIMIT, PLACEHOLDER
from bot.slack.answer import AnswerHandle, AnswerRef
from bot.slack.marks import read_marks
from bot.slack.reader import SlackReader
from bot.slack.writer import SlackWriter
from bot.state import keys
from bot.state.leases import LeaseKeeper
from bot.state.store import JobRecord, Store, StoreError

logger = logging.getLogger(__name__)

BASE_PROMPT = (
    "You are a helpful assistant answering in a Slack workspace. Reply in the language of the question. "
    "Use Markdown for structure where it helps (it is converted for Slack); keep answers focused."
)
QUEUED = "_Queued — I'll answer as soon as I can…_"
EMPTY_MENTION_HINT = ("Ask me something after the mention, for example: "
                      "“@bot how do I rotate IAM keys?”")
TRIMMED_NOTE = "Older messages of this thread were left out to fit the model's context."
SHUTDOWN_NOTE = "The bot restarted before it could finish this answer. Please ask again."
PAUSED_NOTE = "The bot is restarting; this answer continues when it is back."
TOO_OLD_NOTE = "The bot was down for too long to finish this answer. Please ask again."
READING_FILES = "_Reading the attached files…_"
WAIT_FOR_DELIVERY = 900.0  # the writer retries an outage for SLACK_RETRY_SECONDS, then gives up itself
WAIT_FOR_PLACEHOLDER = 60.0  # the placeholder's first attempt waits for the channel's post budget at most
TURN_POLL = 0.25  # seconds between two looks at whether an earlier answer of the thread (elsewhere) is done
EARLIER_GRACE = 5.0  # seconds an earlier unanswered message of the thread may still be on its way to a process
EARLIER_POLL = 1.0  # seconds between two reads of the thread while waiting for it (one conversations.replies each)


@dataclass(frozen=True)
class Identity:
    team_id: str
    bot_user_id: str
    bot_id: str


def inference_config(settings: Settings) -> dict[str, Any]:
    """Bedrock's `inferenceConfig` from the settings (the bot's answers and `python -m bot ask` alike)."""
    config: dict[str, Any] = {"maxTokens": settings.bedrock_max_tokens}
    if settings.bedrock_temperature is not None:
        config["temperature"] = settings.bedrock_temperature
    if settings.bedrock_top_p is not None:
        config["topP"] = settings.bedrock_top_p
    return config


class Responder:
    """Answers jobs. Long-lived collaborators are injected once; each `answer` call is independent."""

    def __init__(
        self,
        *,
        settings: Settings,
        store: Store,
        leases: LeaseKeeper,
        reader: SlackReader,
        writer: SlackWriter,
        model: ConverseStreamClient,
        capabilities: ModelCapabilities,
        registry: ThreadRegistry,
        access: Access,
        identity: Identity,
        join_markdown: Callable[[list[str]], str],
        policy: Policy,
        recorder: Recorder | None = None,
        cost: Callable[[Mapping[str, int]], float | None] = lambda usage: None,
        files: attachments.FileSource | None = None,
        titles: Callable[[str, str, str], None] | None = None,
        trigger_of: Callable[[Mapping[str, Any], Request], str | None] | None = None,
    ) -> None:
        self._settings = settings
        self._store = store
        self._leases = leases
        self._reader = reader
        self._writer = writer
        self._model = model
        self._caps = capabilities
        self.registry = registry
        self._access = access
        self._identity = identity
        self._join = join_markdown
        self._clock = time.monotonic
        self._policy = policy
        self._recorder: Recorder = recorder or NullRecorder()
        self._cost = cost  # estimated USD of a usage (bot.ops.prices), None for a model without a known price
        self._files = files  # None: files are only named
        self._titles = titles  # (channel, thread_ts, question): a new DM conversation's title
        self._trigger_of = trigger_of  # how a message of the job's thread would be routed (handlers.routing)
        self._recent_files = RecentFiles()  # what earlier answers prepared, so follow-ups need not download it
        self.shutting_down = threading.Event()  # set from the shutdown path, read by the workers
        self._lock = threading.Lock()
        self._running: dict[str, Generation] = {}

    # -- admission and the reply ---------------------------------------------------------------------------
    @staticmethod
    def ref(job: Job) -> AnswerRef:
        r = job.record
        return AnswerRef(team_id=r.team, channel=r.channel, thread_ts=r.thread_ts, reply_to=r.ts, answer_id=r.id,
                         recipient_user=r.user, recipient_team=r.user_team or r.team, dm=r.channel_type == "im")

    def admit(self, job: Job) -> str | None:
        """Apply the access rules; None if the job may be answered, else what was decided (the job is done)."""
        verdict = self._access.check(job.request)
        if verdict.allowed:
            return None
        r = job.request
        logger.info("not answering %s in %s (user %s): %s", r.ts, r.channel, r.user, verdict.reason)
        if verdict.note:
            self._writer.post_note(self.ref(job), verdict.note)
        self._store.finish_job(job.record.id)
        return "refused" if verdict.note else "not_allowed"

    def open(self, job: Job, restored: Sequence[tuple[str, str, str]] = (),
             native: Sequence[tuple[str, str, bool]] = ()) -> AnswerHandle:
        """Open the job's reply: the writer posts its placeholder at once (unless `restored` messages exist)."""
        job_id = job.record.id

        def journal(parts: tuple[str, ...]) -> None:
            try:
                self._store.update_job(job_id, owner=self._leases.owner, parts=parts)
            except Exception:  # the marks in Slack still say where the answer is; only a look-up is lost
                logger.warning("could not record the messages of answer %s", job_id, exc_info=True)

        handle = self._writer.open(self.ref(job), status=QUEUED if job.queued else PLACEHOLDER, limit=LIMIT,
                                   restored=restored, on_parts=journal, native=native)
        job.handle = handle
        return handle

    def reject(self, job: Job, note: str) -> None:
        """The pool is full: say so in the reply (or a note) and forget the job."""
        if job.handle is not None:
            job.handle.finish(note.removeprefix(":hourglass: "))
        else:
            self._writer.post_note(self.ref(job), note)
        self._store.finish_job(job.record.id)

    def stop(self) -> None:
        """Shutdown: every answer stops asking the model now (even a silent stream is shut)."""
        self.shutting_down.set()
        with self._lock:
            running = list(self._running.values())
        for generation in running:
            generation.abort()

    # -- the answer ------------------------------------------------------------------------------------
    def answer(self, job: Job) -> float | None:
        """Answer the job (in a pool worker). Returns seconds to wait before trying again when an earlier message
        of its thread is still being answered by another process, else None."""
        record = self._take(job)
        if record is None:
            if job.handle is not None:
                self._writer.forget(job.handle)  # its reply is another process's to write now
            self._leases.remove(job.record.id)
            return None
        job.record = record
        self._leases.add(record.id, job.lost.set)
        done = True
        try:
            if self._store.info.shared:
                turn = self._turn(job)
                if turn is None:
                    turn = self._earlier_in_flight(job)
                if turn is not None:
                    done = turn < 0
                    return None if done else turn
            self._answer(job, job.lost)
        except StoreError:
            logger.exception("answer %s: the state store failed; another start resumes it", record.id)
        finally:
            if done:
                self._leases.remove(record.id)
        return None

    def _take(self, job: Job) -> JobRecord | None:
        """The job's lease for this process (retried while the store is away); None if another process has it."""
        delay = 0.5
        while True:
            try:
                record = self._store.acquire(job.record.id, self._leases.owner, self._leases.lease,
                                             force=not self._store.info.shared)
                if record is None:
                    logger.info("job %s is held by another process; leaving it", job.record.id)
                return record
            except StoreError as error:
                if self.shutting_down.is_set():
                    return None
                logger.warning("cannot take job %s yet (%s); retrying in %.1fs", job.record.id, error, delay)
                time.sleep(delay)
                delay = min(5.0, delay * 2)

    def _turn(self, job: Job) -> float | None:
        """Several processes: one answer at a time per thread, in the order of its messages. None: this job's turn
        (the thread's earlier answers are done, so they are in its history). Else seconds to wait (an earlier
        message of the thread is being answered by another process), or -1 if it must not go on (taken over, or
        the process is stopping: the journal keeps it for whoever comes next)."""
        r = job.record
        if job.lost.is_set():
            return -1.0
        head = self._store.thread_head(r.team, r.channel, r.thread_ts)
        if head is None or head == r.id:
            if job.queued_for_turn and job.handle is not None:
                job.handle.set_status(PLACEHOLDER)
            return None
        if self.shutting_down.is_set():
            self._store.release(r.id, self._leases.owner)
            return -1.0
        if not job.queued_for_turn and job.handle is not None:
            job.handle.set_status(QUEUED)  # the thread's previous answer is being written elsewhere
        job.queued_for_turn = True
        return TURN_POLL

    def _earlier_in_flight(self, job: Job) -> float | None:
        """Several processes, a message in a thread: None if no earlier message of the thread that the bot answers
        is still unanswered and may not be journaled yet (`threads.unanswered_before`), else seconds to wait
        for it. The thread read here is the one the answer uses."""
        r = job.request
        if self._trigger_of is None or r is None or job.resumed or not r.in_thread:
            return None
        raw, pages = self._reader.fetch_thread(r.channel, r.thread_ts)
        ident = self._identity
        started = r.channel_type == "im" or (bool(raw) and threads.started_for_bot(
            raw[0], raw, bot_user_id=ident.bot_user_id, bot_id=ident.bot_id))
        trigger_of = self._trigger_of
        earlier = threads.unanswered_before(raw, r.ts, trigger_of=lambda message: trigger_of(message, r),
                                            started_for_bot=started, now=time.time(), within=EARLIER_GRACE)
        if earlier is None:
            job.thread, job.thread_pages = raw, pages
            return None
        logger.debug("answer %s waits for the earlier message %s of its thread", job.record.id, earlier)
        return EARLIER_POLL

    def _answer(self, job: Job, lost: threading.Event) -> None:
        durable = self._store.info.durable
        if self.shutting_down.is_set() and job.handle is None and durable:
            self._store.release(job.record.id, self._leases.owner)  # never started: the next start answers it
            return
        log: dict[str, Any] = {"trigger": job.record.trigger, "outcome": "complete", "attempt": job.record.attempts}
        thread, job.thread = job.thread, None  # read just now, when the thread's order was checked (or None)
        if thread is not None:
            log["history_pages"] = job.thread_pages
        shown = ""
        if job.request is None:
            job.request = Request.from_record(job.record)
        if job.resumed:
            resumed = self._restore(job, log)
            if resumed is None:
                return
            thread, shown = resumed
        must_qualify = job.deferred or (job.resumed and job.handle is None
                                        and (job.record.qualify or self._access.needs_lookup(job.request)))
        if must_qualify and not self._qualify(job):
            return
        if job.handle is None:
            self.open(job)
        handle = job.handle
        assert handle is not None
        if self.shutting_down.is_set():  # accepted before the shutdown began, never started
            self._close_for_shutdown(job, handle, durable, None)
            return
        if job.queued:
            handle.set_status(PLACEHOLDER)
        r = job.request
        if self._titles is not None and r.channel_type == "im" and not r.in_thread and not job.resumed and r.text:
            self._titles(r.channel, r.thread_ts, r.text)  # a new conversation in the Messages tab
        handle.settled.wait(WAIT_FOR_PLACEHOLDER)
        if handle.cancelled:  # the placeholder was refused (the writer logged why) or the thread is gone
            self._store.finish_job(job.record.id)
            log["outcome"] = handle.outcome.value
            self._log(job, handle, None, log)
            return
        generation: Generation | None = None
        note: str | None = None
        try:
            messages, notes, system = self._conversation(job, handle, log, thread)
            if not messages:
                note = EMPTY_MENTION_HINT
                log["outcome"] = "empty_question"
            else:
                generation = self._generation(job, handle, messages, system, shown, lost)
                for piece in generation:
                    handle.append(piece)
                if generation.outcome.history_shrunk and TRIMMED_NOTE not in notes:
                    notes.append(TRIMMED_NOTE)
                notes.extend(n for n in [generation.outcome.note] if n)
                note = " ".join(notes) or None
                if generation.outcome.error is not None:
                    log["outcome"] = "error"
                elif generation.outcome.note:
                    log["outcome"] = "complete_with_note"
        except Exception as exc:
            logger.exception("answer %s failed", handle.key)
            note = exc.note if isinstance(exc, ModelError) else NOTES[Kind.UNKNOWN]
            log["outcome"] = "error"
        finally:
            with self._lock:
                self._running.pop(job.record.id, None)
        if lost.is_set():  # another process took the job over: it writes from now on
            log["outcome"] = "taken_over"
            self._writer.forget(handle)
            self._log(job, handle, generation, log)
            return
        if generation is not None and generation.outcome.cancelled and self.shutting_down.is_set() \
                and not handle.cancelled:
            log["outcome"] = self._close_for_shutdown(job, handle, durable, generation)
            self._log(job, handle, generation, log)
            return
        if not handle.cancelled:
            handle.finish(note)
            handle.wait(WAIT_FOR_DELIVERY)
        if handle.cancelled:
            log["outcome"] = handle.outcome.value
        elif handle.stopped_by_user:  # the person pressed Stop: what was shown is the answer
            log["outcome"] = "stopped_by_user"
        self._store.finish_job(job.record.id)
        self._log(job, handle, generation, log)

    def _close_for_shutdown(self, job: Job, handle: AnswerHandle, durable: bool,
                            generation: Generation | None) -> str:
        """The process is stopping before this answer is done: with a durable journal, show what is written
        with a note and leave the job for the next start; otherwise end it with a note."""
        if durable:
            handle.suspend(PAUSED_NOTE)
            handle.wait(10.0)
            self._store.release(job.record.id, self._leases.owner)
            return "suspended"
        handle.finish(SHUTDOWN_NOTE)
        handle.wait(10.0)
        self._store.finish_job(job.record.id)
        return "shutdown"

    # -- resuming ----------------------------------------------------------------------------------------
    def _restore(self, job: Job, log: dict[str, Any]) -> tuple[list[dict[str, Any]], str] | None:
        """A job read back from the journal: find its reply in Slack. Returns the thread and the answer's text
        shown so far, or None when nothing is left to do (already complete, or too old: closed with a note)."""
        record = job.record
        thread, pages = self._reader.fetch_thread(record.channel, record.thread_ts)
        log["history_pages"] = pages
        ours = sorted(((m, marks) for m in thread if (marks := read_marks(m)) is not None
                       and marks.get("answer") == record.id), key=lambda pair: int(pair[1].get("part", 0)))
        by_part: dict[int, tuple[dict[str, Any], dict[str, Any]]] = {}
        for message, marks in ours:  # a part posted twice (its response lost): keep the first
            by_part.setdefault(int(marks.get("part", 0)), (message, marks))
        known = set(record.parts)
        unmarked = [m for m in thread if str(m.get("ts")) in known and read_marks(m) is None]
        if unmarked or any(marks.get("route") == "native" for _m, marks in ours):
            return self._restore_native(job, log, thread, pages, by_part, unmarked)
        parts = [by_part[i] for i in sorted(by_part)]
        last = parts[-1][1] if parts else None
        if last is not None and last.get("state") == "final" and last.get("parts") == len(parts):
            logger.info("answer %s was already complete in Slack", record.id)
            self._store.finish_job(record.id)
            return None
        bot = self._identity.bot_user_id
        restored = [(str(m.get("ts")), str(m.get("text") or ""),
                     str(marks["md"]) if "md" in marks
                     else history.visible_answer_text(str(m.get("text") or ""), bot_user_id=bot))
                    for m, marks in parts]
        if time.time() - record.created > self._settings.resume_max_age_seconds:
            logger.info("answer %s is too old to resume; closing it", record.id)
            if restored:
                handle = self.open(job, restored)
                handle.finish(TOO_OLD_NOTE)
            else:
                handle = self._writer.post_note(self.ref(job), f":warning: _{TOO_OLD_NOTE}_")
            handle.wait(WAIT_FOR_DELIVERY)
            self._store.finish_job(record.id)
            log["outcome"] = "closed_stale"
            self._log(job, handle, None, log)
            return None
        shown = ""
        if restored and any(marks.get("state") != "thinking" for _m, marks in parts):
            shown = self._join([md for _ts, _text, md in restored])
            self.open(job, restored)
        elif restored:
            self.open(job, restored[:1])  # only the placeholder exists
        log["resumed"] = True
        return thread, shown

    def _restore_native(self, job: Job, log: dict[str, Any], thread: list[dict[str, Any]], pages: int,
                        by_part: dict[int, tuple[dict[str, Any], dict[str, Any]]],
                        unmarked: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], str] | None:
        """`_restore` for an answer Slack streamed: its stopped messages carry marks; one still streaming (or
        ended by Slack before it was stopped) has none yet, and is known by its ts in the journal. Its text is the
        Markdown streamed into it."""
        record = job.record
        order = {ts: index for index, ts in enumerate(record.parts)}
        messages: dict[int, tuple[str, str, bool, dict[str, Any] | None]] = {}  # part -> (ts, md, open, marks)
        for index, (message, marks) in by_part.items():
            md = str(marks["md"]) if "md" in marks else str(message.get("text") or "")
            messages[index] = (str(message.get("ts")), md, False, marks)
        for message in unmarked:
            ts = str(message.get("ts"))
            messages.setdefault(order[ts], (ts, str(message.get("text") or ""), True, None))
        parts = [messages[i] for i in sorted(messages)]
        last = parts[-1][3] if parts else None
        if last is not None and last.get("state") == "final" and last.get("parts") == len(parts):
            logger.info("answer %s was already complete in Slack", record.id)
            self._store.finish_job(record.id)
            return None
        native = [(ts, md, still) for ts, md, still, _marks in parts]
        if time.time() - record.created > self._settings.resume_max_age_seconds:
            logger.info("answer %s is too old to resume; closing it", record.id)
            handle = self.open(job, native=native) if native else self._writer.post_note(
                self.ref(job), f":warning: _{TOO_OLD_NOTE}_")
            if native:
                handle.finish(TOO_OLD_NOTE)
            handle.wait(WAIT_FOR_DELIVERY)
            self._store.finish_job(record.id)
            log["outcome"] = "closed_stale"
            self._log(job, handle, None, log)
            return None
        if native:
            self.open(job, native=native)
        log["resumed"] = True
        return thread, self._join([md for _ts, md, _open in native])

    def _qualify(self, job: Job) -> bool:
        """What needed Slack before answering: is the thread the bot's, and may this person ask?"""
        r = job.request
        if r.needs_qualification:
            def ask() -> bool:  # one conversations.replies call, more only for a deleted root (threads.settled)
                who = {"bot_user_id": self._identity.bot_user_id, "bot_id": self._identity.bot_id}
                messages = self._reader.fetch_thread_until(r.channel, r.thread_ts,
                                                           lambda got: threads.settled(got, **who)) or []
                return bool(messages) and threads.started_for_bot(messages[0], messages, **who)

            if not self.registry.resolve(r.team_id, r.channel, r.thread_ts, ask):
                self._store.unclaim(keys.message(r.team_id, r.channel, r.ts))
                self._store.finish_job(job.record.id)
                logger.debug("thread %s in %s was not started for the bot", r.thread_ts, r.channel)
                return False
        return self.admit(job) is None

    # -- history and model --------------------------------------------------------------------------------
    def _conversation(self, job: Job, handle: AnswerHandle, log: dict[str, Any],
                      thread: list[dict[str, Any]] | None
                      ) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
        """The Bedrock messages for this job, notes to show, and the system prompt."""
        r = job.request
        ident = self._identity
        if thread is not None:
            raw = thread
        elif r.in_thread or job.resumed:
            raw, pages = self._reader.fetch_thread(r.channel, r.thread_ts)
            log["history_pages"] = pages
        else:
            log["history_pages"] = 0
            raw = [{"type": "message", "user": r.user, "text": r.text, "ts": r.ts, "files": list(r.files),
                    "attachments": list(r.attachments), "blocks": list(r.blocks)}]
        if r.in_thread and raw:
            started_for_bot = r.channel_type == "im" or threads.started_for_bot(
                raw[0], raw, bot_user_id=ident.bot_user_id, bot_id=ident.bot_id)
            self.registry.set(r.team_id, r.channel, r.thread_ts, started_for_bot)
        turns = history.thread_turns(raw, bot_user_id=ident.bot_user_id, bot_id=ident.bot_id, upto_ts=r.ts,
                                     skip_answers={handle.key}, join_markdown=self._join)
        if not turns or turns[-1].role != "user" or turns[-1].anchor[0] != history.ts_key(r.ts):
            return [], [], []  # the message being answered says nothing (e.g. only "@bot")
        multi = len(history.speakers(turns)) > 1
        attached = self._attach(job, turns, handle)
        messages = history.to_bedrock(turns, prefix_speakers=multi, files=attached.turns if attached else None)
        messages, dropped = history.trim_to_budget(messages, self._settings.context_budget_tokens)
        log["turns"] = len(messages)
        notes = [TRIMMED_NOTE] if dropped else []
        if attached is not None:
            log.update(files_sent=attached.sent, files_left_out=len(attached.left_out),
                       file_bytes=attached.sent_bytes, file_tokens=attached.tokens)
            notes.extend(n for n in [attached.note()] if n)
        prompt = "\n\n".join(p for p in (BASE_PROMPT, self._settings.system_prompt,
                                         history.MULTI_USER_PROMPT if multi else "") if p)
        return messages, notes, [{"text": prompt}]

    def _attach(self, job: Job, turns: Sequence[history.Turn], handle: AnswerHandle) -> attachments.Attached | None:
        """The conversation's files as content blocks (downloaded now), or None when there are none to read."""
        if self._files is None or not any(t.files or t.forwarded for t in turns):
            return None
        r, s = job.request, self._settings
        rules = attachments.Rules(team_id=r.team_id, channel=r.channel, allow_external=s.allow_external_users,
                                  image_max_edge=s.image_max_edge, download_max_bytes=s.file_download_max_mb * 10**6,
                                  budget_tokens=s.context_budget_tokens)
        return attachments.attach(turns, source=self._files, rules=rules, recent=self._recent_files,
                                  downloading=lambda: handle.set_status(READING_FILES))

    def _generation(self, job: Job, handle: AnswerHandle, messages: list[dict[str, Any]],
                    system: list[dict[str, Any]], shown: str, lost: threading.Event) -> Generation:
        request = ModelRequest(model_id=self._settings.bedrock_model_id, messages=messages, system=system,
                               inference_config=inference_config(self._settings), cache=True)

        def shrink(current: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | None:
            budget = sum(history.message_tokens(m) for m in current) // 2  # at least one pair goes
            smaller, dropped = history.trim_to_budget(current, budget)
            return smaller if dropped else None

        generation = Generation(self._model, request, self._caps, self._policy, on_wait=handle.set_status,
                                cancelled=lambda: handle.cancelled or lost.is_set() or self.shutting_down.is_set(),
                                shrink=shrink, shown=shown)
        with self._lock:
            self._running[job.record.id] = generation
        handle.on_end(generation.abort)  # the reply was deleted: stop the model at once, even mid-silence
        if self.shutting_down.is_set():
            generation.abort()
        return generation

    def _log(self, job: Job, handle: AnswerHandle, generation: Generation | None, log: dict[str, Any]) -> None:
        r = job.record
        outcome = generation.outcome if generation else None
        stats = handle.stats

        def since(t: float | None) -> float | None:
            return None if t is None else round(t - job.received, 3)

        line = {
            "team": r.team, "channel": r.channel, "thread_ts": r.thread_ts, "ts": r.ts, "user": r.user,
            **log,
            "bedrock_calls": outcome.calls if outcome else 0,
            "continuations": outcome.continuations if outcome else 0,
            "stream_retries": outcome.stream_retries if outcome else 0,
            "input_tokens": outcome.usage.get("inputTokens", 0) if outcome else 0,
            "output_tokens": outcome.usage.get("outputTokens", 0) if outcome else 0,
            "cache_read_tokens": outcome.usage.get("cacheReadInputTokens", 0) if outcome else 0,
            "cache_write_tokens": outcome.usage.get("cacheWriteInputTokens", 0) if outcome else 0,
            "stop_reason": outcome.stop_reason if outcome else None,
            "error": outcome.error.code if outcome and outcome.error else handle.error,
            "t_placeholder": since(stats.placeholder_visible), "t_first_text": since(stats.first_visible),
            "t_final": since(stats.final_visible), "slack_edits": stats.edits, "slack_posts": stats.posts,
            "slack_429": stats.rate_limited, "slack_failures": stats.failures, "slack_adopted": stats.adopted,
            "messages": len(handle.delivered),
            "route": (handle.route.value if handle.route else "edit"), "slack_statuses": stats.statuses,
            "slack_stream_starts": stats.starts, "slack_stream_appends": stats.appends,
            "slack_stream_stops": stats.stops, "streams_expired": stats.expired,
            "guardrail_intervened": bool(outcome and outcome.stop_reason == "guardrail_intervened"),
            "cost_usd": self._cost(outcome.usage) if outcome else None,
        }
        logger.info("answer %s", json.dumps(line, ensure_ascii=False, sort_keys=False),
                    extra={"fields": line, "event": "answer"})
        self._recorder.answer(line)


