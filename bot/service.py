"""From a routed Slack message to an answer job: qualification, deduplication, placeholder, pool.

Runs in Bolt's listener thread, so it only decides, posts the placeholder and hands over; the answer
itself streams in a worker of the `AnswerPool`.
"""

from __future__ import annotations

import logging
from typing import Any

from bot.conversation import threads
from bot.conversation.access import Access
from bot.conversation.pool import AnswerPool, Job
from bot.conversation.seen import BoundedSet
from bot.conversation.threads import ThreadRegistry
from bot.render.layout import LIMIT
from bot.responder import Identity, Responder
from bot.slack.reader import SlackReader
from bot.slack.writer import AnswerRef, PostError, SlackWriter

logger = logging.getLogger(__name__)

BUSY_NOTE = ":hourglass: I'm answering a lot of questions right now. Please try again in a minute."


class Service:
    """Accepts `Request`s (see `handlers.routing`) and makes sure each message is answered exactly once."""

    def __init__(
        self,
        *,
        reader: SlackReader,
        responder: Responder,
        writer: SlackWriter,
        registry: ThreadRegistry,
        identity: Identity,
        workers: int,
        max_queued: int,
        access: Access,
    ) -> None:
        self._reader = reader
        self._responder = responder
        self._writer = writer
        self._registry = registry
        self._identity = identity
        self._events = BoundedSet()
        self._messages = BoundedSet()
        self._access = access
        self.pool = AnswerPool(responder.answer, workers=workers, max_queued=max_queued)

    def _started_for_bot(self, request: Any) -> bool:
        def ask() -> bool:  # one conversations.replies call, more only for a deleted root (threads.settled)
            who = {"bot_user_id": self._identity.bot_user_id, "bot_id": self._identity.bot_id}
            messages = self._reader.fetch_thread_until(request.channel, request.thread_ts,
                                                       lambda got: threads.settled(got, **who)) or []
            return bool(messages) and threads.started_for_bot(messages[0], messages, **who)

        return self._registry.resolve(request.team_id, request.channel, request.thread_ts, ask)

    def accept(self, request: Any, *, event_id: str | None) -> str:
        """Handle one routed request; returns what was decided (for logs and tests)."""
        if event_id and not self._events.add((request.team_id, event_id)):
            return "duplicate_event"
        if request.needs_qualification and not self._started_for_bot(request):
            return "thread_not_for_bot"
        if not self._messages.add((request.team_id, request.channel, request.ts)):
            return "already_answered"
        verdict = self._access.check(request)
        if not verdict.allowed:
            logger.info("not answering %s in %s (user %s): %s", request.ts, request.channel, request.user,
                        verdict.reason)
            if verdict.note:
                self._post_note(request, verdict.note)
            return "refused" if verdict.note else "not_allowed"
        if request.trigger in ("mention", "dm") and not request.in_thread:
            self._registry.set(request.team_id, request.channel, request.thread_ts, True)
        job = Job(key=(request.team_id, request.channel, request.thread_ts), request=request)
        # a job behind another in the same thread gets its placeholder when its turn comes
        claimed = not self.pool.busy(job.key)
        if claimed and not self._responder.post_placeholder(job, queued=self.pool.claim()):
            self.pool.unclaim()
            return "cannot_post"
        if not self.pool.submit(job, claimed=claimed):
            self._reject(job)
            return "busy"
        return "accepted"

    def _reject(self, job: Job) -> None:
        if job.placeholder_ts is None:
            self._post_note(job.request, BUSY_NOTE)
            return
        handle = self._writer.open(self._responder.ref(job), job.placeholder_ts, "", limit=LIMIT)
        handle.finish(BUSY_NOTE.removeprefix(":hourglass: "))

    def _post_note(self, request: Any, text: str) -> None:
        ref = AnswerRef(team_id=request.team_id, channel=request.channel, thread_ts=request.thread_ts,
                        reply_to=request.ts, answer_id=f"{request.channel}-{request.ts}")
        try:
            self._writer.post_placeholder(ref, text)
        except PostError as error:
            logger.error("cannot reply in channel %s: %s", request.channel, error.error)
