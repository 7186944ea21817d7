"""One classifier of Slack Web API failures (pure): what a failed call means for the answer that made it.

Every reader and writer asks `classify` and acts on the `Fault` it gets, so that a 429 is a 429 whether Slack
said so with the status or the error string, and "the reply is gone" means the same everywhere.

* DELETED — the message, thread or channel is gone: the answer ends (nothing more is written);
* REFUSED — the bot may not write there at all (not a member, a workspace rule, a revoked token, a missing
  scope): the answer ends, and the log says how to fix it;
* RATE_LIMITED — wait `retry_after` seconds before calling that method again (for posts: in that channel);
* TOO_LONG — `msg_too_long`: split the message smaller and try again;
* METADATA — Slack refused the message metadata: send the marks without the Markdown and try again;
* TRANSIENT — Slack's side failed (5xx, `internal_error`…) or the network did (timeout, reset): retry with
  backoff. `ambiguous` says that Slack may have applied the call anyway (the request was sent; only the
  response is missing or says "server error"), so a post must be looked for before it is sent again;
* UNKNOWN — any other refusal (an unrecognised 4xx or error string): retrying the same call will not help.
"""

from __future__ import annotations

import enum
import socket
import urllib.error
from dataclasses import dataclass
from http.client import HTTPException

from slack_sdk.errors import SlackApiError

DELETED_ERRORS = frozenset({"message_not_found", "cant_update_message", "cant_delete_message",
                            "channel_not_found", "is_archived", "thread_not_found"})
REFUSED_ERRORS = frozenset({"not_in_channel", "restricted_action", "restricted_action_thread_locked",
                            "restricted_action_read_only_channel", "restricted_action_non_threadable_channel",
                            "account_inactive", "invalid_auth", "not_authed", "token_revoked", "token_expired",
                            "missing_scope", "no_permission", "ekm_access_denied", "team_access_not_granted",
                            "org_login_required", "not_allowed_token_type"})
RATE_LIMITED_ERRORS = frozenset({"ratelimited", "rate_limited"})
TRANSIENT_ERRORS = frozenset({"fatal_error", "internal_error", "service_unavailable", "request_timeout"})
METADATA_ERRORS = frozenset({"invalid_metadata_format", "invalid_metadata_schema", "metadata_too_large",
                             "metadata_must_be_sent_from_app"})
DEFAULT_RETRY_AFTER = 1.0


class Kind(enum.Enum):
    DELETED = "deleted"
    REFUSED = "refused"
    RATE_LIMITED = "rate_limited"
    TOO_LONG = "too_long"
    METADATA = "metadata"
    TRANSIENT = "transient"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class Fault:
    kind: Kind
    code: str  # Slack's error string, `http_<status>`, or the exception's type name
    ambiguous: bool = False  # Slack may have applied the call
    retry_after: float = 0.0  # seconds, for RATE_LIMITED


def _retry_after(headers: object) -> float:
    get = getattr(headers, "get", None)
    raw = (get("Retry-After") or get("retry-after")) if get is not None else None
    try:
        return max(0.0, float(raw)) if raw is not None else DEFAULT_RETRY_AFTER
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER


def classify(exc: BaseException) -> Fault:
    """What a failed Slack call means (see the module docstring). Never raises."""
    if isinstance(exc, SlackApiError):
        response = exc.response
        status = int(getattr(response, "status_code", 0) or 0)
        data = getattr(response, "data", None)
        error = str(data.get("error") or "") if isinstance(data, dict) else ""
        if " " in error:  # not an error code: slack_sdk's sentence for a body that is not JSON (a proxy's page)
            if status == 429:
                return Fault(Kind.RATE_LIMITED, "http_429", retry_after=_retry_after(response.headers))
            return Fault(Kind.TRANSIENT, f"http_{status}", ambiguous=True)
        if status == 429 or error in RATE_LIMITED_ERRORS:
            return Fault(Kind.RATE_LIMITED, error or "http_429", retry_after=_retry_after(response.headers))
        if error in DELETED_ERRORS:
            return Fault(Kind.DELETED, error)
        if error in REFUSED_ERRORS:
            return Fault(Kind.REFUSED, error)
        if error == "msg_too_long":
            return Fault(Kind.TOO_LONG, error)
        if error in METADATA_ERRORS:
            return Fault(Kind.METADATA, error)
        if status >= 500 or error in TRANSIENT_ERRORS:
            return Fault(Kind.TRANSIENT, error or f"http_{status}", ambiguous=True)
        return Fault(Kind.UNKNOWN, error or f"http_{status}")
    if isinstance(exc, urllib.error.HTTPError):  # slack_sdk turns these into SlackApiError; kept for safety
        return classify_status(exc.code, type(exc).__name__)
    if isinstance(exc, urllib.error.URLError):
        # urllib wraps what went wrong; when no connection was made (refused, name not resolved) Slack cannot
        # have seen the call, otherwise (a timeout, a reset) it may have
        reason = exc.reason
        refused = isinstance(reason, ConnectionRefusedError | socket.gaierror)
        code = type(reason).__name__ if isinstance(reason, BaseException) else "URLError"
        return Fault(Kind.TRANSIENT, code, ambiguous=not refused)
    if isinstance(exc, TimeoutError | socket.timeout | ConnectionError | HTTPException | OSError):
        return Fault(Kind.TRANSIENT, type(exc).__name__, ambiguous=True)
    return Fault(Kind.UNKNOWN, type(exc).__name__)


def classify_status(status: int, code: str) -> Fault:
    if status == 429:
        return Fault(Kind.RATE_LIMITED, code, retry_after=DEFAULT_RETRY_AFTER)
    if status >= 500:
        return Fault(Kind.TRANSIENT, code, ambiguous=True)
    return Fault(Kind.UNKNOWN, code)


FIXES: dict[str, str] = {
    "not_in_channel": "Invite the bot to the channel (/invite @bot).",
    "channel_not_found": "The channel does not exist or the bot cannot see it.",
    "is_archived": "The channel is archived.",
    "restricted_action": "A workspace setting forbids the bot to post there.",
    "restricted_action_thread_locked": "The thread is locked.",
    "missing_scope": "Add the missing scope to the Slack app and reinstall it.",
    "invalid_auth": "Check SLACK_BOT_TOKEN.",
    "token_revoked": "The bot token was revoked: reinstall the app and update SLACK_BOT_TOKEN.",
    "account_inactive": "The bot user was deactivated: reinstall the app.",
}


def fix_for(code: str) -> str:
    """A one-line hint for the operator, for the log."""
    return FIXES.get(code, "See Slack's documentation of this error.")
