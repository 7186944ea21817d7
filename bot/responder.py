"""One answer end to end: placeholder, history, model, Slack; the single error boundary.

`Responder.answer(job)` runs in a worker of the answer pool. Whatever fails, the reply ends with the text
written so far and a short note, never on the placeholder, and the worker goes on to the next job.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.conversation import history, threads
from bot.conversation.pool import Job
from bot.conversation.seen import BoundedSet
from bot.conversation.threads import ThreadRegistry
from bot.errors import NOTES, Kind, ModelError
from bot.model.bedrock import ConverseStreamClient
from bot.model.generation import Generation, ModelCapabilities, ModelRequest, Policy
from bot.render.layout import LIMIT, PLACEHOLDER
from bot.slack.reader import SlackReader
from bot.slack.writer import AnswerHandle, AnswerRef, PostError, SlackWriter

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
WAIT_FOR_DELIVERY = 600.0


@dataclass(frozen=True)
class Identity:
    team_id: str
    bot_user_id: str
    bot_id: str


def _inference_config(settings: Settings) -> dict[str, Any]:
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
        reader: SlackReader,
        writer: SlackWriter,
        model: ConverseStreamClient,
        capabilities: ModelCapabilities,
        registry: ThreadRegistry,
        identity: Identity,
        join_markdown: Callable[[list[str]], str],
        policy: Policy,
    ) -> None:
        self._settings = settings
        self._reader = reader
        self._writer = writer
        self._model = model
        self._caps = capabilities
        self._registry = registry
        self._identity = identity
        self._join = join_markdown
        self._clock = time.monotonic
        self._policy = policy
        self.shutting_down = threading.Event()  # set from the shutdown path, read by the workers
        self._post_failures = BoundedSet(capacity=1000, ttl=3600.0)  # log each channel's problem once an hour

    # -- placeholder -----------------------------------------------------------------------------------
    def ref(self, job: Job) -> AnswerRef:
        r = job.request
        return AnswerRef(team_id=r.team_id, channel=r.channel, thread_ts=r.thread_ts, reply_to=r.ts,
                         answer_id=f"{r.channel}-{r.ts}")

    def post_placeholder(self, job: Job, *, queued: bool = False) -> bool:
        """Post the reply's placeholder now; False (logged once, with the fix) if Slack refuses."""
        try:
            job.placeholder_ts = self._writer.post_placeholder(self.ref(job), QUEUED if queued else PLACEHOLDER)
        except PostError as error:
            first = self._post_failures.add((job.request.channel, error.error))
            logger.log(logging.ERROR if first else logging.DEBUG, "cannot reply in channel %s: %s. %s",
                       job.request.channel, error.error, _post_fix(error.error))
            return False
        job.queued = queued
        job.placeholder_at = self._clock()
        return True

    # -- the answer ------------------------------------------------------------------------------------
    def answer(self, job: Job) -> None:
        if job.placeholder_ts is None and not self.post_placeholder(job):
            return
        assert job.placeholder_ts is not None
        handle = self._writer.open(self.ref(job), job.placeholder_ts, QUEUED if job.queued else PLACEHOLDER,
                                   limit=LIMIT)
        if self.shutting_down.is_set():  # accepted before the shutdown began, never started: say so, ask nothing
            handle.finish(SHUTDOWN_NOTE)
            handle.wait(10.0)
            return
        if job.queued:
            handle.set_status(PLACEHOLDER)
        log: dict[str, Any] = {"trigger": job.request.trigger, "outcome": "complete"}
        generation: Generation | None = None
        note: str | None = None
        try:
            messages, notes, system = self._conversation(job, handle, log)
            if not messages:
                note = EMPTY_MENTION_HINT
                log["outcome"] = "empty_question"
            else:
                generation = self._generate(handle, messages, system)
                if generation.outcome.history_shrunk and TRIMMED_NOTE not in notes:
                    notes.append(TRIMMED_NOTE)
                notes.extend(n for n in [generation.outcome.note] if n)
                note = " ".join(notes) or None
                if generation.outcome.cancelled:
                    log["outcome"] = "reply_deleted"
                elif generation.outcome.error is not None:
                    log["outcome"] = "error"
                elif generation.outcome.note:
                    log["outcome"] = "complete_with_note"
        except Exception as exc:
            logger.exception("answer %s failed", handle.key)
            note = exc.note if isinstance(exc, ModelError) else NOTES[Kind.UNKNOWN]
            log["outcome"] = "error"
        if self.shutting_down.is_set() and generation is not None and generation.outcome.cancelled:
            note = SHUTDOWN_NOTE
        if not handle.cancelled:
            handle.finish(note)
            if not handle.wait(WAIT_FOR_DELIVERY):
                log["outcome"] = "delivery_timeout"
        if handle.cancelled and log["outcome"] == "complete":
            log["outcome"] = "reply_deleted"
        self._log(job, handle, generation, log)

    def _conversation(self, job: Job, handle: AnswerHandle,
                      log: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str], list[dict[str, Any]]]:
        """The Bedrock messages for this job, notes to show, and the system prompt."""
        r = job.request
        ident = self._identity
        if r.in_thread:
            raw, pages = self._reader.fetch_thread(r.channel, r.thread_ts)
            log["history_pages"] = pages
            started_for_bot = r.channel_type == "im" or threads.started_for_bot(
                raw[0] if raw else None, raw, bot_user_id=ident.bot_user_id, bot_id=ident.bot_id)
            self._registry.set(r.team_id, r.channel, r.thread_ts, started_for_bot)
        else:
            log["history_pages"] = 0
            raw = [{"type": "message", "user": r.user, "text": r.text, "ts": r.ts, "files": list(r.files),
                    "attachments": list(r.attachments), "blocks": list(r.blocks)}]
        turns = history.thread_turns(raw, bot_user_id=ident.bot_user_id, bot_id=ident.bot_id, upto_ts=r.ts,
                                     skip_answers={handle.key}, join_markdown=self._join)
        if not turns or turns[-1].role != "user" or turns[-1].anchor[0] != history.ts_key(r.ts):
            return [], [], []  # the message being answered says nothing (e.g. only "@bot")
        multi = len(history.speakers(turns)) > 1
        messages = history.to_bedrock(turns, prefix_speakers=multi)
        messages, dropped = history.trim_to_budget(messages, self._settings.context_budget_tokens)
        log["turns"] = len(messages)
        notes = [TRIMMED_NOTE] if dropped else []
        prompt = "\n\n".join(p for p in (BASE_PROMPT, self._settings.system_prompt,
                                         history.MULTI_USER_PROMPT if multi else "") if p)
        return messages, notes, [{"text": prompt}]

    def _generate(self, handle: AnswerHandle, messages: list[dict[str, Any]],
                  system: list[dict[str, Any]]) -> Generation:
        request = ModelRequest(model_id=self._settings.bedrock_model_id, messages=messages, system=system,
                               inference_config=_inference_config(self._settings), cache=True)

        def shrink(current: Sequence[dict[str, Any]]) -> list[dict[str, Any]] | None:
            budget = sum(history.message_tokens(m) for m in current) // 2  # at least one pair goes
            smaller, dropped = history.trim_to_budget(current, budget)
            return smaller if dropped else None

        generation = Generation(self._model, request, self._caps, self._policy, on_wait=handle.set_status,
                                cancelled=lambda: handle.cancelled or self.shutting_down.is_set(), shrink=shrink)
        for piece in generation:
            handle.append(piece)
        return generation

    def _log(self, job: Job, handle: AnswerHandle, generation: Generation | None, log: dict[str, Any]) -> None:
        r = job.request
        outcome = generation.outcome if generation else None
        stats = handle.stats

        def since(t: float | None) -> float | None:
            return None if t is None else round(t - job.received, 3)

        line = {
            "team": r.team_id, "channel": r.channel, "thread_ts": r.thread_ts, "ts": r.ts, "user": r.user,
            **log,
            "bedrock_calls": outcome.calls if outcome else 0,
            "continuations": outcome.continuations if outcome else 0,
            "stream_retries": outcome.stream_retries if outcome else 0,
            "input_tokens": outcome.usage.get("inputTokens", 0) if outcome else 0,
            "output_tokens": outcome.usage.get("outputTokens", 0) if outcome else 0,
            "cache_read_tokens": outcome.usage.get("cacheReadInputTokens", 0) if outcome else 0,
            "cache_write_tokens": outcome.usage.get("cacheWriteInputTokens", 0) if outcome else 0,
            "stop_reason": outcome.stop_reason if outcome else None,
            "error": outcome.error.code if outcome and outcome.error else None,
            "t_placeholder": since(job.placeholder_at), "t_first_text": since(stats.first_visible),
            "t_final": since(stats.final_visible), "slack_edits": stats.edits, "slack_posts": stats.posts + 1,
            "slack_429": stats.rate_limited, "messages": len(handle.delivered),
        }
        logger.info("answer %s", json.dumps(line, ensure_ascii=False, sort_keys=False))


def _post_fix(error: str) -> str:
    return {
        "not_in_channel": "Invite the bot to the channel (/invite @bot).",
        "channel_not_found": "The channel does not exist or the bot cannot see it.",
        "is_archived": "The channel is archived.",
        "restricted_action": "A workspace setting forbids the bot to post there.",
    }.get(error, "See Slack's documentation for chat.postMessage errors.")
