"""The one classifier of Slack failures, table-driven over the exceptions slack_sdk and urllib raise."""

from __future__ import annotations

import http.client
import socket
import urllib.error

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.slack_response import SlackResponse

from bot.slack.errors import Fault, Kind, classify


def api_error(status: int, error: str | None, headers: dict[str, str] | None = None) -> SlackApiError:
    data = {"ok": False, "error": error} if error is not None else {}
    response = SlackResponse(client=None, http_verb="POST", api_url="https://slack.com/api/chat.update",
                             req_args={}, data=data, headers=headers or {}, status_code=status)
    return SlackApiError("failed", response)


@pytest.mark.parametrize(("exc", "expected"), [
    # rate limits: by status or by error string, Retry-After in either casing
    (api_error(429, "ratelimited", {"Retry-After": "7"}), Fault(Kind.RATE_LIMITED, "ratelimited", retry_after=7.0)),
    (api_error(429, None, {"retry-after": "3"}), Fault(Kind.RATE_LIMITED, "http_429", retry_after=3.0)),
    (api_error(200, "rate_limited"), Fault(Kind.RATE_LIMITED, "rate_limited", retry_after=1.0)),
    (api_error(429, "ratelimited", {"Retry-After": "soon"}), Fault(Kind.RATE_LIMITED, "ratelimited", retry_after=1.0)),
    # the message, thread or channel is gone
    (api_error(200, "message_not_found"), Fault(Kind.DELETED, "message_not_found")),
    (api_error(200, "cant_update_message"), Fault(Kind.DELETED, "cant_update_message")),
    (api_error(200, "channel_not_found"), Fault(Kind.DELETED, "channel_not_found")),
    (api_error(200, "is_archived"), Fault(Kind.DELETED, "is_archived")),
    (api_error(200, "thread_not_found"), Fault(Kind.DELETED, "thread_not_found")),
    # the bot may not write there
    (api_error(200, "not_in_channel"), Fault(Kind.REFUSED, "not_in_channel")),
    (api_error(200, "restricted_action"), Fault(Kind.REFUSED, "restricted_action")),
    (api_error(200, "token_revoked"), Fault(Kind.REFUSED, "token_revoked")),
    (api_error(200, "missing_scope"), Fault(Kind.REFUSED, "missing_scope")),
    # the message itself
    (api_error(200, "msg_too_long"), Fault(Kind.TOO_LONG, "msg_too_long")),
    (api_error(200, "metadata_too_large"), Fault(Kind.METADATA, "metadata_too_large")),
    (api_error(200, "invalid_metadata_format"), Fault(Kind.METADATA, "invalid_metadata_format")),
    # Slack's side failed: may have been applied
    (api_error(500, None), Fault(Kind.TRANSIENT, "http_500", ambiguous=True)),
    (api_error(503, "service_unavailable"), Fault(Kind.TRANSIENT, "service_unavailable", ambiguous=True)),
    (api_error(200, "fatal_error"), Fault(Kind.TRANSIENT, "fatal_error", ambiguous=True)),
    (api_error(200, "internal_error"), Fault(Kind.TRANSIENT, "internal_error", ambiguous=True)),
    (api_error(200, "request_timeout"), Fault(Kind.TRANSIENT, "request_timeout", ambiguous=True)),
    # the network: the request may or may not have reached Slack
    (TimeoutError("timed out"), Fault(Kind.TRANSIENT, "TimeoutError", ambiguous=True)),
    (ConnectionResetError(104, "reset"), Fault(Kind.TRANSIENT, "ConnectionResetError", ambiguous=True)),
    (http.client.RemoteDisconnected("closed"), Fault(Kind.TRANSIENT, "RemoteDisconnected", ambiguous=True)),
    (urllib.error.URLError(TimeoutError("timed out")), Fault(Kind.TRANSIENT, "TimeoutError", ambiguous=True)),
    (urllib.error.URLError(ConnectionResetError(104, "reset")),
     Fault(Kind.TRANSIENT, "ConnectionResetError", ambiguous=True)),
    # no connection at all: Slack cannot have seen the call
    (urllib.error.URLError(ConnectionRefusedError(111, "refused")),
     Fault(Kind.TRANSIENT, "ConnectionRefusedError", ambiguous=False)),
    (urllib.error.URLError(socket.gaierror(-2, "Name or service not known")),
     Fault(Kind.TRANSIENT, "gaierror", ambiguous=False)),
    # a body that is not JSON (a proxy's error page): slack_sdk's sentence is not an error code
    (api_error(503, "Received a response in a non-JSON format: <html>"),
     Fault(Kind.TRANSIENT, "http_503", ambiguous=True)),
    (api_error(200, "Received a response in a non-JSON format: <html>"),
     Fault(Kind.TRANSIENT, "http_200", ambiguous=True)),
    # anything else: retrying the same call will not help
    (api_error(200, "invalid_blocks"), Fault(Kind.UNKNOWN, "invalid_blocks")),
    (api_error(400, None), Fault(Kind.UNKNOWN, "http_400")),
    (ValueError("boom"), Fault(Kind.UNKNOWN, "ValueError")),
])
def test_classify(exc: BaseException, expected: Fault) -> None:
    assert classify(exc) == expected
