"""The agent surface around answers: suggested prompts, thread titles, feedback clicks.

* **Suggested prompts**: when a person opens the app's Messages tab (`app_home_opened`, tab `messages`), the DM
  gets `SUGGESTED_PROMPTS` (`assistant.threads.setSuggestedPrompts`, without a thread: the agent view), at most
  once an hour per DM (any process), and only for people the bot answers.
* **Thread titles**: a new conversation in a DM (a top-level message: the agent view makes it a thread) gets
  its first question, shortened, as title (`assistant.threads.setTitle`). No model call.
* **Feedback**: a click on an answer's feedback buttons is logged as one `feedback` line (ids only, never text),
  counted in the state store (per answer and kind) and thanked with an ephemeral message. A person the access
  rules would not answer gets only an ephemeral note.

Every call goes through the writer's budgets (`SlackWriter.side_call`). Slack refusing one (an app installed
from an older manifest has no `assistant:write`) is logged once and changes nothing else: these are optional.
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass

from bot.config import Settings
from bot.slack.feedback import Click
from bot.slack.scheduler import Method
from bot.slack.writer import SlackWriter
from bot.state import keys
from bot.state.store import Store

logger = logging.getLogger(__name__)

TITLE_LENGTH = 60
THANKS = "Thanks for the feedback! It helps us improve these answers."
NOT_ALLOWED = "Sorry, feedback on this bot's answers is not enabled for you here."
_MARKUP = re.compile(r"<[@#!][^>]*>|<(https?://[^|>]+)(?:\|([^>]+))?>")


def title_of(question: str, length: int = TITLE_LENGTH) -> str:
    """A thread title from its first question: mentions dropped, links as their label, one line, at most
    `length` characters, cut at a word."""
    text = _MARKUP.sub(lambda m: m.group(2) or m.group(1) or "", question)
    text = " ".join(text.replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">").split())
    if len(text) <= length:
        return text or "New conversation"
    cut = text.rfind(" ", 0, length - 1)
    return text[: cut if cut > length // 2 else length - 1].rstrip(" ,.;:") + "…"


@dataclass(frozen=True)
class Clicker:
    """Who clicked, where."""

    team_id: str  # our workspace (the envelope's)
    user: str
    user_team: str
    channel: str


class Surface:
    """Prompts, titles and feedback (see the module docstring)."""

    def __init__(self, settings: Settings, store: Store, writer: SlackWriter) -> None:
        self._settings = settings
        self._store = store
        self._writer = writer

    def may_use(self, who: Clicker) -> bool:
        """The access rules that need no Slack call: the channel and user lists, other organisations."""
        s = self._settings
        if s.allowed_channel_ids and not who.channel.startswith("D") and who.channel not in s.allowed_channel_ids:
            return False
        if s.allowed_user_ids and who.user not in s.allowed_user_ids:
            return False
        return s.allow_external_users or not who.user_team or who.user_team == who.team_id

    def offer_prompts(self, who: Clicker) -> bool:
        """The Messages tab was opened: set the suggested prompts of that DM (True if asked of Slack)."""
        prompts = self._settings.suggested_prompts
        if not prompts or not self.may_use(who):
            return False
        if not self._store.claim(keys.prompts(who.team_id, who.channel), keys.PROMPTS_TTL):
            return False
        payload = [{"title": title, "message": message} for title, message in prompts]
        self._writer.side_call(Method.PROMPTS, who.channel, lambda client: client.assistant_threads_setSuggestedPrompts(
            channel_id=who.channel, prompts=payload))
        return True

    def set_title(self, channel: str, thread_ts: str, question: str) -> None:
        title = title_of(question)
        self._writer.side_call(Method.TITLE, channel, lambda client: client.assistant_threads_setTitle(
            channel_id=channel, thread_ts=thread_ts, title=title))

    def feedback(self, who: Clicker, click: Click, *, thread_ts: str | None) -> str:
        """A click on an answer's feedback buttons. Returns what was done ("counted" or "refused")."""
        if not self.may_use(who):
            logger.info("feedback from %s in %s not taken: outside the access rules", who.user, who.channel)
            self._ephemeral(who, NOT_ALLOWED, thread_ts)
            return "refused"
        kind = "positive" if click.positive else "negative"
        count = self._store.bump(keys.feedback(who.team_id, click.answer_id, kind), keys.FEEDBACK_TTL)
        line = {"team": who.team_id, "channel": who.channel, "answer": click.answer_id, "user": who.user,
                "feedback": kind, "count": count}
        logger.info("feedback %s", json.dumps(line), extra={"fields": line, "event": "feedback"})
        self._ephemeral(who, THANKS, thread_ts)
        return "counted"

    def _ephemeral(self, who: Clicker, text: str, thread_ts: str | None) -> None:
        self._writer.side_call(Method.EPHEMERAL, who.channel, lambda client: client.chat_postEphemeral(
            channel=who.channel, user=who.user, text=text, thread_ts=thread_ts))
