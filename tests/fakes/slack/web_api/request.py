"""Reading a Web API request the way Slack does, and the shape of a method.

Parameters may come from the query string and from a form, multipart or JSON body (later ones win);
the token from an ``Authorization: Bearer`` header, or else a ``token`` parameter in the query string or a
form body (never from JSON). Slack is lenient about types: booleans may be ``1``, ``true`` or ``yes``;
blocks, attachments and metadata may be JSON strings or already-decoded values.
"""

from __future__ import annotations

import email.parser
import email.policy
import json
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs

from ..workspace import Json, opt_str

Method = Callable[[dict[str, Any]], Json]
"""A Web API method: parameters in, response body out. It runs with the fake's lock held."""


def err(error: str) -> Json:
    """Slack's answer to a call that failed: HTTP 200 with ``ok: false``."""
    return {"ok": False, "error": error}


def truthy(value: Any) -> bool:
    """A boolean parameter as Slack reads it."""
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        return value.strip().lower() in {"1", "true", "yes", "on"}
    return False


def ts_decimal(value: Any) -> Decimal | None:
    """A ts parameter as a number, or None if it is not one."""
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def parse_json_list(value: Any) -> tuple[list[Any] | None, bool]:
    """Parse blocks/attachments that may arrive as a list or as a JSON string."""
    if value is None:
        return None, True
    if isinstance(value, str):
        if not value.strip():
            return None, True
        try:
            value = json.loads(value)
        except ValueError:
            return None, False
    return (value, True) if isinstance(value, list) else (None, False)


def parse_metadata(value: Any) -> tuple[Json | None, bool]:
    """Validate message metadata: an object with a string event_type and an object event_payload."""
    if value is None:
        return None, True
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return None, False
    if not isinstance(value, dict):
        return None, False
    if not isinstance(value.get("event_type"), str) or not value["event_type"]:
        return None, False
    if not isinstance(value.get("event_payload"), dict):
        return None, False
    return value, True


def _parse_multipart(content_type: str, raw: bytes) -> dict[str, Any]:
    header = b"Content-Type: " + content_type.encode("latin-1") + b"\r\n\r\n"
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + raw)
    out: dict[str, Any] = {}
    for part in message.iter_parts():  # type: ignore[attr-defined]
        name = part.get_param("name", header="content-disposition")
        if not name:
            continue
        payload = part.get_payload(decode=True) or b""
        out[str(name)] = payload if part.get_filename() else payload.decode("utf-8", "replace")
    return out


def parse_request_params(query: str, content_type: str, raw: bytes) -> tuple[dict[str, Any], str | None]:
    """Merge query string and body parameters; return them and a ``token`` parameter if one was sent.

    Raises ValueError for a JSON body that is not an object.
    """
    params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
    token = params.pop("token", None)
    ctype = content_type.split(";")[0].strip().lower()
    if raw:
        if ctype == "application/json":
            data = json.loads(raw.decode("utf-8"))
            if not isinstance(data, dict):
                raise ValueError("JSON body must be an object")
            data.pop("token", None)  # Slack does not read tokens from JSON bodies
            params.update(data)
        else:
            if ctype == "multipart/form-data":
                form = _parse_multipart(content_type, raw)
            else:
                form = {k: v[-1] for k, v in parse_qs(raw.decode("utf-8"), keep_blank_values=True).items()}
            body_token = form.pop("token", None)
            token = opt_str(body_token) or token
            params.update(form)
    return params, token


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer ...`` header."""
    if header and header.lower().startswith("bearer "):
        return header[7:].strip() or None
    return None


def checked_metadata(value: Any, limit: int | None) -> tuple[Json | None, str | None]:
    """A request's message metadata, or Slack's error code for it (invalid_metadata_format, or
    metadata_too_large past ``limit`` bytes of JSON; None: no limit)."""
    metadata, ok = parse_metadata(value)
    if not ok:
        return None, "invalid_metadata_format"
    if metadata is not None and limit is not None and len(json.dumps(metadata).encode()) > limit:
        return None, "metadata_too_large"
    return metadata, None
