"""Bedrock Runtime adapter: builds the boto3 client, opens ConverseStream calls and reads their events.

The only module that imports boto3/botocore. Everything it raises is a `bot.errors.ModelError`.
Retries: botocore is told to try each call once (`total_max_attempts=1`); the bot retries throttling
and 5xx itself (see `bot.model.generation`) so that the reply can say it is waiting, and so that a stream that
breaks mid-way (which botocore never retries) is resumed from the text already shown.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.errors import Kind, ModelError, classify_model_error

logger = logging.getLogger(__name__)


class ConverseStreamClient(Protocol):
    """What the bot needs of a boto3 `bedrock-runtime` client."""

    def converse_stream(self, **kwargs: Any) -> Mapping[str, Any]: ...


def make_client(*, region: str, read_timeout: float, max_pool_connections: int) -> ConverseStreamClient:
    """A boto3 bedrock-runtime client. Region, credentials and `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` come from
    boto3's standard chain; nothing here hard-codes an endpoint."""
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=10,
        read_timeout=read_timeout,
        retries={"mode": "standard", "total_max_attempts": 1},
        max_pool_connections=max_pool_connections,
        user_agent_extra="slack-bedrock-bot",
    )
    from botocore.exceptions import NoRegionError

    try:
        return boto3.client("bedrock-runtime", region_name=region or None, config=config)  # type: ignore[no-any-return]
    except NoRegionError:
        raise ModelError(Kind.MODEL_NOT_FOUND, "NoRegionError", "no AWS Region configured") from None


@dataclass(frozen=True)
class TextDelta:
    text: str


@dataclass(frozen=True)
class Progress:
    """The stream is alive but said nothing for the answer (reasoning, block boundaries, metadata)."""


@dataclass(frozen=True)
class StreamEnd:
    """The model stopped. `usage` is the stream's `metadata.usage` (it arrives after `messageStop`)."""

    stop_reason: str
    usage: dict[str, int] = field(default_factory=dict)


StreamEvent = TextDelta | Progress | StreamEnd


def _model_error(exc: BaseException, *, mid_stream: bool) -> ModelError:
    from botocore.exceptions import (
        ClientError,
        NoCredentialsError,
    )
    from botocore.exceptions import (
        ConnectionError as BotoConnectionError,
    )
    from botocore.exceptions import (
        ReadTimeoutError as BotoReadTimeout,
    )

    if isinstance(exc, ClientError):  # EventStreamError is a ClientError too (lowerCamel codes)
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        return ModelError(classify_model_error(code, message), code, message, mid_stream=mid_stream)
    if isinstance(exc, NoCredentialsError):
        return ModelError(Kind.CREDENTIALS, "NoCredentialsError", str(exc), mid_stream=mid_stream)
    if isinstance(exc, BotoReadTimeout) or type(exc).__name__ in ("ReadTimeoutError", "ReadTimeout"):
        return ModelError(Kind.TIMEOUT, type(exc).__name__, str(exc), mid_stream=mid_stream)
    if isinstance(exc, BotoConnectionError | ConnectionError | OSError):
        return ModelError(Kind.CONNECTION, type(exc).__name__, str(exc), mid_stream=mid_stream)
    import urllib3.exceptions

    if isinstance(exc, urllib3.exceptions.HTTPError):
        return ModelError(Kind.CONNECTION, type(exc).__name__, str(exc), mid_stream=mid_stream)
    return ModelError(Kind.UNKNOWN, type(exc).__name__, str(exc), mid_stream=mid_stream)


class OpenStream:
    """One ConverseStream call in progress. Iterate it for events; `close()` stops it early; `abort()`, from
    another thread, wakes a read that waits on a silent stream (the iteration then raises)."""

    def __init__(self, response: Mapping[str, Any]) -> None:
        self._stream = response["stream"]

    def __iter__(self) -> Iterator[StreamEvent]:
        stop_reason: str | None = None
        usage: dict[str, int] = {}
        try:
            for event in self._stream:
                if "contentBlockDelta" in event:
                    text = event["contentBlockDelta"].get("delta", {}).get("text")
                    # reasoningContent / toolUse deltas are not part of the answer, but the stream is alive
                    yield TextDelta(text) if text else Progress()
                    continue
                if "messageStop" in event:
                    stop_reason = str(event["messageStop"].get("stopReason", "end_turn"))
                elif "metadata" in event:
                    usage = {k: int(v) for k, v in event["metadata"].get("usage", {}).items()
                             if isinstance(v, int)}
                yield Progress()
        except ModelError:
            raise
        except Exception as exc:
            raise _model_error(exc, mid_stream=True) from exc
        if stop_reason is None:
            raise ModelError(Kind.CONNECTION, "IncompleteStream", "stream ended without messageStop",
                             mid_stream=True)
        yield StreamEnd(stop_reason, usage)

    def abort(self) -> None:
        """Called from another thread: shut the connection's read side so that a read blocked on a silent
        stream returns at once. (botocore's EventStream keeps the urllib3 response as `_raw_stream`; urllib3 2
        can shut its socket down from another thread, which `close()` alone does not reliably do.)"""
        raw = getattr(self._stream, "_raw_stream", None)
        shutdown = getattr(raw, "shutdown", None)
        try:
            if shutdown is not None:
                shutdown()
            else:
                self.close()
        except Exception:  # already closed or released: nothing is waiting on it
            logger.debug("aborting the Bedrock stream failed", exc_info=True)

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            try:
                close()
            except Exception:
                logger.debug("closing the Bedrock stream failed", exc_info=True)


def open_stream(client: ConverseStreamClient, request: Mapping[str, Any]) -> OpenStream:
    """Start a ConverseStream call; raise ModelError if Bedrock refuses it before streaming."""
    try:
        return OpenStream(client.converse_stream(**request))
    except Exception as exc:
        raise _model_error(exc, mid_stream=False) from exc


# -- for `python -m bot check` (bot/ops/check.py): what boto3's chain finds, and one non-streaming call --------

CREDENTIAL_SOURCES = {
    "env": "environment variables", "shared-credentials-file": "the shared credentials file",
    "config-file": "the AWS config file", "assume-role": "an assumed role (profile)",
    "assume-role-with-web-identity": "a web identity (e.g. an EKS service account)", "sso": "AWS IAM Identity Center",
    "container-role": "the container's task role", "iam-role": "the instance's role", "custom-process": "a "
    "credential process", "explicit": "explicit keys",
}


def aws_facts(region: str) -> tuple[str | None, str | None]:
    """(where boto3's chain found credentials, the Region it uses); None for what it did not find. Calls no AWS
    API (the instance-metadata lookup of the chain aside). Never returns a key."""
    import boto3

    session = boto3.Session(region_name=region or None)
    credentials = session.get_credentials()
    source = None
    if credentials is not None:
        method = str(getattr(credentials, "method", "") or "unknown")
        source = CREDENTIAL_SOURCES.get(method, method)
    return source, session.region_name


def converse(client: Any, request: Mapping[str, Any]) -> Mapping[str, Any]:
    """One `Converse` call (not streamed); ModelError if Bedrock refuses it."""
    try:
        return client.converse(**request)  # type: ignore[no-any-return]
    except Exception as exc:
        raise _model_error(exc, mid_stream=False) from exc
