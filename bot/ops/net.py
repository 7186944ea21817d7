"""Why a URL could not be reached, in a few words (`name not resolved`, `connection refused`…), for startup
and `check` messages. Pure: it only reads the exception and its causes."""

from __future__ import annotations

import socket
import ssl
from urllib.error import URLError


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        reason = current.reason if isinstance(current, URLError) else None
        current = reason if isinstance(reason, BaseException) else (current.__cause__ or current.__context__)
    return seen


def cause(exc: BaseException) -> str:
    """`name not resolved`, `connection refused`, `timed out`, `connection reset`, `TLS: …`, or the error's
    own words."""
    for error in _chain(exc):
        if isinstance(error, socket.gaierror):
            return "name not resolved"
        if isinstance(error, ConnectionRefusedError):
            return "connection refused"
        if isinstance(error, TimeoutError | socket.timeout):
            return "timed out"
        if isinstance(error, ConnectionResetError):
            return "connection reset"
        if isinstance(error, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({error.verify_message})"
        if isinstance(error, ssl.SSLError):
            return f"TLS error ({error.reason or error})"
    last = _chain(exc)[-1]
    if isinstance(last, URLError) and isinstance(last.reason, str):
        return last.reason
    if isinstance(last, OSError) and last.strerror:
        return last.strerror[0].lower() + last.strerror[1:]
    return type(last).__name__


def unreachable(what: str, url: str, exc: BaseException) -> str:
    """`cannot reach Slack at https://…: name not resolved`."""
    return f"cannot reach {what} at {url}: {cause(exc)}"
