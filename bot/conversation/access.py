"""Who may use the bot: channel and user allow-lists, Slack Connect (external) users, a per-user rate.

`Access.check(request)` runs before any Bedrock call or placeholder. Outside the rules the bot either stays
silent (a channel not on the allow-list: nobody asked it there) or replies once per conversation with a
polite refusal (a DM from someone not allowed, an external user), so a refused person is not spammed
with the same note on every message ("already told" is a claim in the state store, so it holds across
restarts and processes). Only telling an external user apart in a shared channel may need Slack
(`users.info`); `needs_lookup` says so, and the caller then runs `check` on its own threads, never in a
Bolt listener.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.config import Settings
from bot.state import keys
from bot.state.store import Store

logger = logging.getLogger(__name__)

NOT_ENABLED = "Sorry, this assistant is not enabled for you here. Please ask your Slack admins if you need it."
EXTERNAL = ("Sorry, this assistant only answers members of this workspace, not people from other "
            "organisations in shared channels.")
RATE_LIMITED = "You are asking faster than this assistant allows ({limit} questions a minute). Please wait a moment."


@dataclass(frozen=True)
class Verdict:
    """`allowed`, or why not: `note` is None for a silent refusal."""

    allowed: bool
    reason: str = ""
    note: str | None = None


ALLOWED = Verdict(True)


class Access:
    """Applies ALLOWED_CHANNEL_IDS, ALLOWED_USER_IDS, ALLOW_EXTERNAL_USERS and USER_RATE_LIMIT_PER_MINUTE."""

    def __init__(self, settings: Settings, store: Store, *,
                 user_team: Callable[[str], str | None] = lambda user: None) -> None:
        self._channels = settings.allowed_channel_ids
        self._users = settings.allowed_user_ids
        self._external_ok = settings.allow_external_users
        self._per_minute = settings.user_rate_limit_per_minute
        self._user_team = user_team
        self._store = store

    def _once(self, request: Any, reason: str, note: str) -> Verdict:
        """Refuse with `note` the first time in this conversation (a DM counts as one), silently after."""
        where = request.channel if request.channel_type == "im" else f"{request.channel}:{request.thread_ts}"
        first = self._store.claim(keys.refusal(request.team_id, where, request.user, reason), keys.REFUSAL_TTL)
        return Verdict(False, reason, note if first else None)

    def needs_lookup(self, request: Any) -> bool:
        """True if `check` would have to ask Slack whose user this is (a shared channel, no team in the event)."""
        team = request.user_team
        return not self._external_ok and request.ext_shared and (not team or team == request.team_id)

    def _external(self, request: Any) -> bool:
        team = request.user_team
        if (not team or team == request.team_id) and request.ext_shared:
            team = self._user_team(request.user) or team  # a shared channel: ask Slack whose user it is
        return bool(team) and team != request.team_id

    def check(self, request: Any) -> Verdict:
        dm = request.channel_type == "im"
        if self._channels and not dm and request.channel not in self._channels:
            return Verdict(False, "channel not allowed")
        if not self._external_ok and self._external(request):
            return self._once(request, "external user", EXTERNAL)
        if self._users and request.user not in self._users:
            return self._once(request, "user not allowed", NOT_ENABLED) if dm else Verdict(False, "user not allowed")
        if self._per_minute and not self._take(request.team_id, request.user):
            return Verdict(False, "user rate limit", RATE_LIMITED.format(limit=self._per_minute))
        return ALLOWED

    def _take(self, team_id: str, user: str) -> bool:
        """Count one question of `user` in the current minute (a fixed window in the state store, so the limit
        holds across restarts and processes); False once the limit is reached."""
        return self._store.bump(keys.rate(team_id, user), 60.0) <= self._per_minute
