"""A protocol-faithful fake Amazon Bedrock Runtime that serves ConverseStream over real HTTP.

Requests are validated as Bedrock validates them (conversation rules here; image and document blocks in
``bedrock_media.py``, with Pillow reading pictures), and usage counts images (width × height / 750 tokens) and
documents (a token per 4 bytes) besides text.

Real boto3 clients talk to it through ``endpoint_url=fake.url`` or the standard
``AWS_ENDPOINT_URL_BEDROCK_RUNTIME`` environment variable. Responses use the genuine
rest-json error format and the binary AWS event-stream encoding, so the whole botocore
stack (parsing, error mapping, timeouts) is exercised. SigV4 signatures are ignored.
"""

from __future__ import annotations

import binascii
import contextlib
import hashlib
import itertools
import json
import math
import re
import select
import socket
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from typing import Any, TypeAlias
from urllib.parse import unquote

from tests.fakes.bedrock_media import media_tokens, validate_media

__all__ = [
    "MSG_BLANK_TEXT",
    "MSG_CACHE_LIMIT",
    "MSG_CACHE_UNSUPPORTED",
    "MSG_EMPTY_CONTENT",
    "MSG_GUARDRAIL_NOT_FOUND",
    "MSG_INVALID_MODEL",
    "MSG_MAX_TOKENS",
    "MSG_MUST_ALTERNATE",
    "MSG_MUST_START_WITH_USER",
    "MSG_NO_PREFILL",
    "MSG_TRAILING_WHITESPACE",
    "REASONING_DELTAS",
    "Answer",
    "Error",
    "FakeBedrock",
    "ModelSpec",
    "Reply",
    "Request",
    "Stream",
    "encode_event_frame",
]

# --- Bedrock's own validation wording -------------------------------------------------------------

MSG_MUST_START_WITH_USER = (
    "A conversation must start with a user message. Try again with a conversation that starts with a "
    "user message."
)
MSG_MUST_ALTERNATE = (
    "A conversation must alternate between user and assistant roles. Make sure the conversation "
    "alternates between user and assistant roles and try again."
)
MSG_BLANK_TEXT = (
    "The text field in the ContentBlock object at messages.{i}.content.{j} is blank. "
    "Add text to the text field, and try again."
)
MSG_EMPTY_CONTENT = (
    "The content field in the Message object at messages.{i} is empty. "
    "Add a ContentBlock object to the content field and try again."
)
MSG_NO_PREFILL = (
    "This model does not support assistant message prefill. The conversation must end with a user message."
)
MSG_TRAILING_WHITESPACE = "messages: final assistant content cannot end with trailing whitespace"
MSG_CACHE_UNSUPPORTED = (
    "You invoked an unsupported model or your request did not allow prompt caching. "
    "See the documentation for more information."
)
MSG_CACHE_LIMIT = "A maximum of 4 blocks with cache_control may be provided. Found {n}."
MSG_INVALID_MODEL = "The provided model identifier is invalid."
MSG_GUARDRAIL_NOT_FOUND = "The guardrail identifier or version provided in the request does not exist."
MSG_GUARDRAIL_CONFIG = "1 validation error detected: guardrailConfig needs guardrailIdentifier and guardrailVersion"
MSG_MAX_TOKENS = (
    "1 validation error detected: Value '{value}' at 'inferenceConfig.maxTokens' failed to satisfy "
    "constraint: Member must have value greater than or equal to 1"
)
MSG_NO_REPLY = "fake: no scripted reply"
MSG_PREFIX_MISMATCH = "fake: prefix mismatch"

MAX_CACHE_POINTS = 4
#: Reasoning deltas a ``reasoning=True`` model streams (block 0) before its answer text (block 1).
REASONING_DELTAS: tuple[str, ...] = ("Let me think", " about this", " request.")
_REASONING_SIGNATURE = "ZmFrZS1yZWFzb25pbmctc2lnbmF0dXJl"
_PADDING_ALPHABET = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
_ERROR_TYPE_SUFFIX = ":http://internal.amazon.com/coral/com.amazon.bedrock/"
_STREAM_EXCEPTIONS = frozenset(
    {
        "throttlingException",
        "modelStreamErrorException",
        "internalServerException",
        "serviceUnavailableException",
        "validationException",
    }
)
_SEAMS = frozenset({"exact", "repeat", "lstrip"})


GATE_TIMEOUT = 10.0

# --- Scripted replies ---------------------------------------------------------------------------------


@dataclass
class Stream:
    """A literal streamed answer: one delta per output token, with optional fault injection."""

    deltas: list[str]
    stop_reason: str = "end_turn"
    delay: float = 0.0
    fail_after: int | None = None
    exception: str = "throttlingException"
    exception_message: str = "Too many requests, please wait before trying again."
    stall_after: int | None = None
    stall_seconds: float = 0.0
    close_after: int | None = None
    usage: dict[str, int] | None = None
    gate: threading.Event | None = None  # hold the stream until the test sets it (GATE_TIMEOUT at most)...
    gate_after: int | None = None  # ...after this many text deltas (None: before the response starts)

    def __post_init__(self) -> None:
        """Reject exception names the ConverseStream output union does not define."""
        if self.exception not in _STREAM_EXCEPTIONS:
            raise ValueError(
                f"unknown in-stream exception {self.exception!r}; use one of {_STREAM_EXCEPTIONS}"
            )


@dataclass
class Error:
    """An HTTP error returned before any stream starts."""

    status: int
    code: str
    message: str


@dataclass
class Answer:
    """A scripted model that knows its full answer and resumes it from prefill/continue requests."""

    text: str
    token_chars: int = 4
    delay: float = 0.0
    seam: str = "exact"

    def __post_init__(self) -> None:
        """Validate the seam mode and token size."""
        if self.seam not in _SEAMS:
            raise ValueError(f"unknown seam {self.seam!r}; use one of {sorted(_SEAMS)}")
        if self.token_chars < 1:
            raise ValueError("token_chars must be >= 1")


@dataclass(frozen=True)
class Request:
    """One ConverseStream call as received by the fake."""

    model_id: str
    body: dict[str, Any]
    headers: dict[str, str]
    time: float
    operation: str = "ConverseStream"  # or "Converse"
    size: int = 0  # bytes of the HTTP request body

    @property
    def messages(self) -> list[dict[str, Any]]:
        """The request's ``messages`` list (empty if absent)."""
        value = self.body.get("messages")
        return value if isinstance(value, list) else []

    @property
    def system(self) -> list[dict[str, Any]]:
        """The request's ``system`` blocks (empty if absent)."""
        value = self.body.get("system")
        return value if isinstance(value, list) else []

    @property
    def inference_config(self) -> dict[str, Any]:
        """The request's ``inferenceConfig`` (empty if absent)."""
        value = self.body.get("inferenceConfig")
        return value if isinstance(value, dict) else {}

    @property
    def additional_model_request_fields(self) -> dict[str, Any]:
        """The request's ``additionalModelRequestFields`` (empty if absent)."""
        value = self.body.get("additionalModelRequestFields")
        return value if isinstance(value, dict) else {}

    @property
    def max_tokens(self) -> int | None:
        """``inferenceConfig.maxTokens`` or None when the client left it to the model."""
        value = self.inference_config.get("maxTokens")
        return value if isinstance(value, int) else None


ScriptedReply: TypeAlias = Stream | Error | Answer
Reply: TypeAlias = Stream | Error | Answer | Callable[[Request], ScriptedReply]


@dataclass(frozen=True)
class ModelSpec:
    """Capabilities of a fake model."""

    accepts_prefill: bool = True
    supports_cache: bool = True
    reasoning: bool = False


# --- Event-stream encoding -------------------------------------------------------------------------


def _crc32(data: bytes) -> int:
    """CRC32 as an unsigned 32-bit integer."""
    return binascii.crc32(data) & 0xFFFFFFFF


def encode_event_frame(headers: dict[str, str], payload: bytes) -> bytes:
    """Encode one AWS event-stream message with string-typed headers."""
    encoded = bytearray()
    for name, value in headers.items():
        raw_name = name.encode("utf-8")
        raw_value = value.encode("utf-8")
        encoded += struct.pack("!B", len(raw_name)) + raw_name
        encoded += struct.pack("!BH", 7, len(raw_value)) + raw_value
    total_length = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack("!II", total_length, len(encoded))
    message = prelude + struct.pack("!I", _crc32(prelude)) + bytes(encoded) + payload
    return message + struct.pack("!I", _crc32(message))


# --- Request analysis helpers -------------------------------------------------------------------------


def _collect_text(node: Any) -> Iterator[str]:
    """Yield every string stored under a ``text`` key anywhere inside ``node``."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "text" and isinstance(value, str):
                yield value
            else:
                yield from _collect_text(value)
    elif isinstance(node, list):
        for item in node:
            yield from _collect_text(item)


def _char_tokens(chars: int) -> int:
    """Approximate token count for ``chars`` characters (4 characters per token, rounded up)."""
    return math.ceil(chars / 4)


def _message_text(message: dict[str, Any]) -> str:
    """Concatenated top-level text blocks of one message."""
    content = message.get("content")
    if not isinstance(content, list):
        return ""
    return "".join(b["text"] for b in content if isinstance(b, dict) and isinstance(b.get("text"), str))


def _is_cache_point(block: Any) -> bool:
    """Whether a content/system/tool block is a ``cachePoint`` block."""
    return isinstance(block, dict) and "cachePoint" in block


def _count_cache_points(body: dict[str, Any]) -> int:
    """Number of cachePoint blocks in system, messages and toolConfig.tools."""
    count = sum(1 for b in body.get("system") or [] if _is_cache_point(b))
    for message in body.get("messages") or []:
        if isinstance(message, dict):
            count += sum(1 for b in message.get("content") or [] if _is_cache_point(b))
    tool_config = body.get("toolConfig")
    if isinstance(tool_config, dict):
        count += sum(1 for b in tool_config.get("tools") or [] if _is_cache_point(b))
    return count


@dataclass
class _PromptLayout:
    """Hashes and sizes of every block boundary of a prompt, plus where its cache points sit."""

    boundary_hashes: list[str]
    boundary_chars: list[int]
    cache_positions: list[int]
    total_chars: int


def _prompt_layout(system: list[Any], messages: list[Any]) -> _PromptLayout:
    """Serialise system+messages deterministically, hashing the prefix at each block boundary."""
    digest = hashlib.sha256()
    hashes: list[str] = [digest.hexdigest()]
    chars: list[int] = [0]
    positions: list[int] = []
    running = 0

    def add(item: list[Any], block: Any) -> None:
        nonlocal running
        digest.update(json.dumps(item, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n")
        running += sum(len(t) for t in _collect_text(block)) + 4 * media_tokens(block)
        hashes.append(digest.hexdigest())
        chars.append(running)

    for block in system:
        if _is_cache_point(block):
            positions.append(len(hashes) - 1)
        else:
            add(["system", block], block)
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            continue
        role = message.get("role")
        for block in message.get("content") or []:
            if _is_cache_point(block):
                positions.append(len(hashes) - 1)
            else:
                add(["message", index, role, block], block)
    return _PromptLayout(hashes, chars, [p for p in positions if p > 0], running)


def _word_start(text: str, words_back: int) -> int:
    """Index where the last ``words_back`` whitespace-separated words of ``text`` begin."""
    starts = [m.start() for m in re.finditer(r"\S+", text)]
    if not starts:
        return len(text)
    return starts[max(0, len(starts) - words_back)]


# --- The fake service -------------------------------------------------------------------------------


class _Aborted(Exception):
    """Raised inside a handler when the connection must be dropped (close_after, stop, reset)."""


class _ClientGone(Exception):
    """Raised inside a handler when the client closed the connection before the stream ended."""


class _Server(ThreadingHTTPServer):
    """Threaded HTTP server that knows its FakeBedrock and skips the reverse DNS lookup."""

    daemon_threads = True
    fake: FakeBedrock

    def server_bind(self) -> None:
        """Bind without HTTPServer's getfqdn() call, which can be slow in sandboxes."""
        TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Ignore client disconnects; report anything else."""
        exc = sys.exc_info()[1]
        if isinstance(exc, OSError | _Aborted):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """HTTP/1.1 handler implementing ``POST /model/{modelId}/converse-stream``."""

    protocol_version = "HTTP/1.1"
    server_version = "FakeBedrock/1.0"
    sys_version = ""
    disable_nagle_algorithm = True  # each event frame leaves immediately, like a real streaming service
    server: _Server

    # -- plumbing --

    def setup(self) -> None:
        """Register the connection so stop() can unblock it."""
        super().setup()
        self.server.fake._track(self.connection, add=True)

    def finish(self) -> None:
        """Unregister the connection."""
        try:
            super().finish()
        except OSError:
            pass
        finally:
            self.server.fake._track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def _send_error(self, status: int, code: str, message: str) -> None:
        """Send a rest-json error response the way Bedrock does."""
        payload = json.dumps({"message": message}).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.send_header("x-amzn-ErrorType", code + _ERROR_TYPE_SUFFIX)
        self.end_headers()
        self.wfile.write(payload)

    def _write_chunk(self, data: bytes) -> None:
        """Write one HTTP chunk; it is sent on the socket immediately (unbuffered writer)."""
        self.wfile.write(b"%X\r\n%s\r\n" % (len(data), data))

    def _abort(self) -> None:
        """Drop the TCP connection abruptly (RST) without a chunked terminator."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        # Closing rfile drops the makefile() reference so close() really closes the fd (sending RST);
        # wfile is a plain socket writer that http.server still flushes after do_POST returns.
        with contextlib.suppress(OSError):
            self.rfile.close()
        with contextlib.suppress(OSError):
            self.connection.close()

    # -- HTTP verbs --

    def do_GET(self) -> None:
        """Only ConverseStream and Converse are implemented."""
        self._send_error(404, "UnknownOperationException", "fake: only ConverseStream and Converse are implemented")

    def do_POST(self) -> None:
        """Handle one ConverseStream (``/model/{id}/converse-stream``) or Converse (``/model/{id}/converse``) call."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        parts = self.path.split("?", 1)[0].split("/")
        operations = {"converse-stream": "ConverseStream", "converse": "Converse"}
        if len(parts) != 4 or parts[1] != "model" or parts[3] not in operations or not parts[2]:
            self._send_error(404, "UnknownOperationException", "fake: only ConverseStream and Converse are implemented")
            return
        try:
            body = json.loads(raw.decode("utf-8")) if raw else {}
        except (UnicodeDecodeError, json.JSONDecodeError):
            self._send_error(400, "SerializationException", "fake: request body is not valid JSON")
            return
        if not isinstance(body, dict):
            self._send_error(400, "SerializationException", "fake: request body must be a JSON object")
            return
        request = Request(
            model_id=unquote(parts[2]),
            body=body,
            headers={k.lower(): v for k, v in self.headers.items()},
            time=time.monotonic(),
            operation=operations[parts[3]],
            size=len(raw),
        )
        fake = self.server.fake
        cancel = fake._register_call(request)
        try:
            self._serve(fake, request, cancel)
        except _Aborted:
            self._abort()
        except (OSError, _ClientGone):  # the client went away (closed the stream early, or its connection broke)
            fake._log_hangup()
            self.close_connection = True

    def _serve(self, fake: FakeBedrock, request: Request, cancel: threading.Event) -> None:
        """Validate, pick the scripted reply and answer it."""
        spec = fake._model_spec(request.model_id)
        if spec is None:
            self._send_error(400, "ValidationException", MSG_INVALID_MODEL)
            return
        problem = _validate(request, spec) or fake._guardrail_problem(request)
        if problem is not None:
            fake._reject(request, problem)
            self._send_error(400, "ValidationException", problem)
            return
        reply = fake._next_reply(request)
        if isinstance(reply, Answer):
            reply = _answer_to_stream(reply, request)
        if isinstance(reply, Error):
            self._send_error(reply.status, reply.code, reply.message)
            return
        if request.operation == "Converse":
            self._converse(fake, request, spec, reply)
            return
        if reply.gate is not None and reply.gate_after is None:
            _pass_gate(reply.gate, cancel)
        _StreamWriter(self, fake, request, spec, reply, cancel).run()


    def _converse(self, fake: FakeBedrock, request: Request, spec: ModelSpec, stream: Stream) -> None:
        """Answer a Converse call with the whole reply as one JSON document (what the stream would have said).
        A scripted in-stream exception becomes the operation error Bedrock gives before any output."""
        plan = _StreamWriter(self, fake, request, spec, stream, threading.Event())
        if stream.fail_after is not None:
            status, code = _CONVERSE_ERRORS[stream.exception]
            self._send_error(status, code, stream.exception_message)
            return
        usage = dict(plan.base_usage)
        usage["outputTokens"] = len(plan.deltas) + len(plan.reasoning)
        if stream.usage:
            usage.update(stream.usage)
        usage["totalTokens"] = sum(usage.get(k, 0) for k in ("inputTokens", "outputTokens", "cacheReadInputTokens",
                                                             "cacheWriteInputTokens"))
        fake._add_usage(usage, plan.cancel)
        content: list[dict[str, Any]] = []
        if plan.reasoning:
            content.append({"reasoningContent": {"reasoningText": {"text": "".join(plan.reasoning)}}})
        if plan.deltas:
            content.append({"text": "".join(plan.deltas)})
        body = {"output": {"message": {"role": "assistant", "content": content}}, "stopReason": plan.stop_reason,
                "usage": usage, "metrics": {"latencyMs": int((time.monotonic() - request.time) * 1000)}}
        payload = json.dumps(body).encode("utf-8")
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        self.end_headers()
        self.wfile.write(payload)


#: In-stream exception → (status, code) of the operation error Converse gives instead.
_CONVERSE_ERRORS = {
    "throttlingException": (429, "ThrottlingException"),
    "modelStreamErrorException": (424, "ModelErrorException"),
    "internalServerException": (500, "InternalServerException"),
    "serviceUnavailableException": (503, "ServiceUnavailableException"),
    "validationException": (400, "ValidationException"),
}


def _pass_gate(gate: threading.Event, cancel: threading.Event) -> None:
    """Wait until the test opens the gate; abort if the fake is reset or the test never opens it."""
    deadline = time.monotonic() + GATE_TIMEOUT
    while not gate.wait(0.05):
        if cancel.is_set() or time.monotonic() > deadline:
            raise _Aborted


def _validate(request: Request, spec: ModelSpec) -> str | None:
    """Return Bedrock's ValidationException message for an invalid request, else None."""
    max_tokens = request.inference_config.get("maxTokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or max_tokens < 1):
        return MSG_MAX_TOKENS.format(value=max_tokens)
    messages = request.messages
    if not messages or not isinstance(messages[0], dict) or messages[0].get("role") != "user":
        return MSG_MUST_START_WITH_USER
    for previous, current in itertools.pairwise(messages):
        if not isinstance(current, dict) or current.get("role") == previous.get("role"):
            return MSG_MUST_ALTERNATE
    for i, message in enumerate(messages):
        content = message.get("content")
        if not isinstance(content, list) or not content:
            return MSG_EMPTY_CONTENT.format(i=i)
        for j, block in enumerate(content):
            if isinstance(block, dict) and isinstance(block.get("text"), str) and not block["text"].strip():
                return MSG_BLANK_TEXT.format(i=i, j=j)
    problem = validate_media(messages, request.size)
    if problem is not None:
        return problem
    cache_points = _count_cache_points(request.body)
    if cache_points and not spec.supports_cache:
        return MSG_CACHE_UNSUPPORTED
    if cache_points > MAX_CACHE_POINTS:
        return MSG_CACHE_LIMIT.format(n=cache_points)
    last = messages[-1]
    if last.get("role") == "assistant":
        if not spec.accepts_prefill:
            return MSG_NO_PREFILL
        text = _message_text(last)
        if text and text[-1].isspace():
            return MSG_TRAILING_WHITESPACE
    return None


def _answer_to_stream(answer: Answer, request: Request) -> Stream | Error:
    """Work out what the Answer model already produced and script the rest as a Stream."""
    messages = request.messages
    text = answer.text
    last = messages[-1]
    if last.get("role") == "assistant":
        produced = _message_text(last)
        if not text.startswith(produced):
            return Error(500, "InternalServerException", MSG_PREFIX_MISMATCH)
        start = len(produced)
    elif len(messages) >= 2 and messages[-2].get("role") == "assistant":
        produced = _message_text(messages[-2])
        if produced and text.startswith(produced):
            start = len(produced)
            if answer.seam == "repeat":
                start = _word_start(produced, 2)
            elif answer.seam == "lstrip":
                while start < len(text) and text[start].isspace():
                    start += 1
        else:
            start = 0
    else:
        start = 0
    rest = text[start:]
    size = answer.token_chars
    tokens = [rest[i : i + size] for i in range(0, len(rest), size)]
    return Stream(deltas=tokens, delay=answer.delay)


class _StreamWriter:
    """Writes one successful ConverseStream response as chunked event-stream frames."""

    def __init__(
        self,
        handler: _Handler,
        fake: FakeBedrock,
        request: Request,
        spec: ModelSpec,
        stream: Stream,
        cancel: threading.Event,
    ) -> None:
        """Plan the events (token budget, reasoning preamble) for ``stream``."""
        self.handler = handler
        self.fake = fake
        self.request = request
        self.spec = spec
        self.stream = stream
        self.cancel = cancel
        self.emitted = 0
        self.usage_committed = False
        budget = request.max_tokens
        reasoning = list(REASONING_DELTAS) if spec.reasoning else []
        truncated = False
        if budget is not None and len(reasoning) > budget:
            reasoning, truncated = reasoning[:budget], True
        remaining = None if budget is None else budget - len(reasoning)
        deltas = list(stream.deltas)
        if remaining is not None and len(deltas) > remaining:
            deltas, truncated = deltas[:remaining], True
        self.reasoning = reasoning
        self.reasoning_complete = len(reasoning) == len(REASONING_DELTAS)
        self.deltas = deltas
        self.stop_reason = "max_tokens" if truncated else stream.stop_reason
        self.base_usage = fake._prompt_usage(request)

    # -- frames --

    def _event(self, event_type: str, member: dict[str, Any]) -> None:
        """Send one normal event frame."""
        payload = dict(member)
        if self.fake.pad_events:
            payload["p"] = _PADDING_ALPHABET[: 1 + len(json.dumps(member)) % len(_PADDING_ALPHABET)]
        frame = encode_event_frame(
            {
                ":event-type": event_type,
                ":content-type": "application/json",
                ":message-type": "event",
            },
            json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8"),
        )
        self.handler._write_chunk(frame)

    def _exception(self, name: str, message: str) -> None:
        """Send one in-stream exception frame."""
        frame = encode_event_frame(
            {
                ":exception-type": name,
                ":content-type": "application/json",
                ":message-type": "exception",
            },
            json.dumps({"message": message}).encode("utf-8"),
        )
        self.handler._write_chunk(frame)

    def _wait(self, seconds: float) -> None:
        """Sleep interruptibly; abort the connection if stop()/reset() fires. While it sleeps (a slow or silent
        model), it watches the connection: a client that closes it is noticed at once, as on a real server."""
        deadline = time.monotonic() + seconds
        while True:
            if self.cancel.is_set():
                raise _Aborted
            left = deadline - time.monotonic()
            if left <= 0:
                return
            if self._client_gone(min(left, 0.02)):
                raise _ClientGone

    def _client_gone(self, timeout: float) -> bool:
        """True if the client closed (or shut down its read side of) the connection within `timeout` seconds."""
        sock = self.handler.connection
        try:
            readable, _, _ = select.select([sock], [], [], timeout)
            return bool(readable) and sock.recv(1, socket.MSG_PEEK) == b""
        except (OSError, ValueError):
            return True

    def _commit_usage(self) -> dict[str, int]:
        """Record this call's usage in the fake's totals (once) and return it."""
        usage = dict(self.base_usage)
        usage["outputTokens"] = self.emitted
        if self.stream.usage:
            usage.update(self.stream.usage)
        if not self.stream.usage or "totalTokens" not in self.stream.usage:
            usage["totalTokens"] = (
                usage["inputTokens"]
                + usage["outputTokens"]
                + usage["cacheReadInputTokens"]
                + usage["cacheWriteInputTokens"]
            )
        if not self.usage_committed:
            self.usage_committed = True
            self.fake._add_usage(usage, self.cancel)
        return usage

    def _end(self) -> None:
        """Terminate the chunked body cleanly."""
        self.handler.wfile.write(b"0\r\n\r\n")

    # -- main loop --

    def _fault(self, count: int) -> bool:
        """Apply fault injection scheduled after ``count`` text deltas; True if the stream ended."""
        s = self.stream
        last = len(self.deltas)
        if s.gate is not None and s.gate_after is not None and min(s.gate_after, last) == count:
            _pass_gate(s.gate, self.cancel)
        if s.stall_after is not None and min(s.stall_after, last) == count:
            self._wait(s.stall_seconds)
        if s.close_after is not None and min(s.close_after, last) == count:
            self._commit_usage()
            raise _Aborted
        if s.fail_after is not None and min(s.fail_after, last) == count:
            self._commit_usage()
            self._exception(s.exception, s.exception_message)
            self._end()
            return True
        return False

    def run(self) -> None:
        """Stream the whole response."""
        h = self.handler
        h.send_response(200)
        h.send_header("Content-Type", "application/vnd.amazon.eventstream")
        h.send_header("Transfer-Encoding", "chunked")
        h.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        h.end_headers()
        try:
            self._run_events()
        finally:
            self._commit_usage()

    def _run_events(self) -> None:
        """Emit messageStart, optional reasoning block, text block, messageStop and metadata."""
        self._event("messageStart", {"role": "assistant"})
        index = 0
        if self.reasoning:
            for piece in self.reasoning:
                self._wait(self.stream.delay)
                delta = {"reasoningContent": {"text": piece}}
                self._event("contentBlockDelta", {"contentBlockIndex": 0, "delta": delta})
                self.emitted += 1
            if self.reasoning_complete:
                self._event(
                    "contentBlockDelta",
                    {
                        "contentBlockIndex": 0,
                        "delta": {"reasoningContent": {"signature": _REASONING_SIGNATURE}},
                    },
                )
            self._event("contentBlockStop", {"contentBlockIndex": 0})
            index = 1
        for count, piece in enumerate(self.deltas):
            if self._fault(count):
                return
            self._wait(self.stream.delay)
            self._event("contentBlockDelta", {"contentBlockIndex": index, "delta": {"text": piece}})
            self.emitted += 1
            self.fake._log_delta(piece)
        if self._fault(len(self.deltas)):
            return
        if self.deltas:
            self._event("contentBlockStop", {"contentBlockIndex": index})
        self._event("messageStop", {"stopReason": self.stop_reason})
        usage = self._commit_usage()
        latency = int((time.monotonic() - self.request.time) * 1000)
        self._event("metadata", {"usage": usage, "metrics": {"latencyMs": latency}})
        self._end()


class FakeBedrock:
    """Local fake of the Bedrock Runtime ConverseStream API, scripted from tests.

    `delta_log` records (time.monotonic(), text) for every text delta written, for latency benchmarks.
    """

    def _log_delta(self, text: str) -> None:
        with self._lock:
            self._deltas.append((time.monotonic(), text))

    def _reject(self, request: Request, message: str) -> None:
        with self._lock:
            self._rejections.append((request, message))

    @property
    def rejections(self) -> list[tuple[Request, str]]:
        """Every request answered with a ValidationException, with its message."""
        with self._lock:
            return list(self._rejections)

    def _log_hangup(self) -> None:
        with self._lock:
            self._hangups.append(time.monotonic())
            self._cond.notify_all()

    @property
    def hangups(self) -> list[float]:
        """When a client closed a stream before its end (time.monotonic()), one entry per stream."""
        with self._lock:
            return list(self._hangups)

    @property
    def delta_log(self) -> list[tuple[float, str]]:
        with self._lock:
            return list(self._deltas)

    def __init__(self, *, pad_events: bool = True) -> None:
        """Create a stopped fake; ``pad_events`` adds Bedrock's ``p`` padding field to events."""
        self.pad_events = pad_events
        self._deltas: list[tuple[float, str]] = []
        self._hangups: list[float] = []
        self._rejections: list[tuple[Request, str]] = []
        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._models: dict[str, ModelSpec] = {}
        self._default_model: ModelSpec | None = None
        self._queues: dict[str | None, deque[Reply]] = {}
        self._fallback: Callable[[Request], ScriptedReply] | None = None
        self._calls: list[Request] = []
        self._caches: dict[str, set[str]] = {}  # model id -> hashes of cached prompt prefixes
        self._guardrails: set[tuple[str, str]] | None = None  # None: any guardrail exists
        self._usage = self._zero_usage()
        self._cancel = threading.Event()
        self._conns: set[socket.socket] = set()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle --

    def start(self) -> FakeBedrock:
        """Start serving on 127.0.0.1 with an ephemeral port."""
        if self._server is not None:
            return self
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._cancel = threading.Event()
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="fake-bedrock", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, ending in-flight streams and idle keep-alive connections promptly."""
        server = self._server
        if server is None:
            return
        self._cancel.set()
        server.shutdown()
        with self._lock:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeBedrock:
        """Start on entering a ``with`` block."""
        return self.start()

    def __exit__(self, *exc: object) -> None:
        """Stop on leaving a ``with`` block."""
        self.stop()

    @property
    def url(self) -> str:
        """Endpoint URL for boto3 (``http://127.0.0.1:PORT``)."""
        if self._server is None:
            raise RuntimeError("FakeBedrock is not started")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget queue, calls, fallback, cache state and usage; interrupt stalled streams."""
        with self._lock:
            self._cancel.set()
            self._cancel = threading.Event()
            self._queues.clear()
            self._fallback = None
            self._calls.clear()
            self._caches.clear()
            self._deltas.clear()
            self._hangups.clear()
            self._guardrails = None
            self._rejections.clear()
            self._usage = self._zero_usage()

    # -- configuration --

    def add_model(
        self,
        model_id: str,
        *,
        accepts_prefill: bool = True,
        supports_cache: bool = True,
        reasoning: bool = False,
    ) -> None:
        """Register a model id with its capabilities."""
        spec = ModelSpec(accepts_prefill=accepts_prefill, supports_cache=supports_cache, reasoning=reasoning)
        with self._lock:
            self._models[model_id] = spec

    def unset_default_model(self) -> None:
        """Accept only registered model ids again (any other is an invalid model identifier)."""
        with self._lock:
            self._default_model = None

    def add_guardrail(self, identifier: str, version: str = "DRAFT") -> None:
        """Make a guardrail exist. Once any is added, a call naming another (id, version) is refused the way
        Bedrock refuses an unknown guardrail; before that, every guardrail is taken to exist."""
        with self._lock:
            self._guardrails = (self._guardrails or set()) | {(identifier, version)}

    def _guardrail_problem(self, request: Request) -> str | None:
        """Bedrock's ValidationException message for the request's guardrailConfig, or None."""
        config = request.body.get("guardrailConfig")
        if config is None:
            return None
        if not isinstance(config, dict) or not config.get("guardrailIdentifier") or not config.get("guardrailVersion"):
            return MSG_GUARDRAIL_CONFIG
        with self._lock:
            known = self._guardrails
        if known is not None and (config["guardrailIdentifier"], config["guardrailVersion"]) not in known:
            return MSG_GUARDRAIL_NOT_FOUND
        return None

    def set_default_model(
        self, *, accepts_prefill: bool = True, supports_cache: bool = True, reasoning: bool = False
    ) -> None:
        """Accept any unregistered model id, with these capabilities."""
        spec = ModelSpec(accepts_prefill=accepts_prefill, supports_cache=supports_cache, reasoning=reasoning)
        with self._lock:
            self._default_model = spec

    def enqueue(self, reply: Reply, model_id: str | None = None) -> None:
        """Queue a reply for ``model_id`` (None = any model); each call pops one, FIFO."""
        with self._lock:
            self._queues.setdefault(model_id, deque()).append(reply)

    def set_fallback(self, fallback: Callable[[Request], ScriptedReply] | None) -> None:
        """Set the reply factory used when no queued reply matches."""
        with self._lock:
            self._fallback = fallback

    # -- inspection --

    @property
    def calls(self) -> list[Request]:
        """Snapshot of all ConverseStream requests received, in arrival order."""
        with self._lock:
            return list(self._calls)

    def wait_for_calls(self, n: int, timeout: float = 5.0) -> list[Request]:
        """Block until at least ``n`` calls arrived; AssertionError on timeout."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self._calls) >= n, timeout=timeout):
                raise AssertionError(
                    f"expected {n} ConverseStream calls within {timeout}s, got {len(self._calls)}"
                )
            return list(self._calls)

    @property
    def usage_totals(self) -> dict[str, int]:
        """Summed usage of all streamed responses since the last reset()."""
        with self._lock:
            return dict(self._usage)

    # -- internals used by the handler --

    @staticmethod
    def _zero_usage() -> dict[str, int]:
        """A fresh usage accumulator."""
        return {"inputTokens": 0, "outputTokens": 0, "cacheReadInputTokens": 0, "cacheWriteInputTokens": 0}

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        """Add or remove an open client connection."""
        with self._lock:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)

    def _register_call(self, request: Request) -> threading.Event:
        """Record a call, wake waiters and return the cancel event for its lifetime."""
        with self._cond:
            self._calls.append(request)
            self._cond.notify_all()
            return self._cancel

    def _model_spec(self, model_id: str) -> ModelSpec | None:
        """Capabilities for ``model_id``, falling back to the default model."""
        with self._lock:
            return self._models.get(model_id, self._default_model)

    def _next_reply(self, request: Request) -> ScriptedReply:
        """Pop the next reply for this request (model queue, then any-model queue, then fallback)."""
        with self._lock:
            reply: Reply | None = None
            for key in (request.model_id, None):
                queue = self._queues.get(key)
                if queue:
                    reply = queue.popleft()
                    break
            if reply is None:
                reply = self._fallback
        if reply is None:
            return Error(500, "InternalServerException", MSG_NO_REPLY)
        if isinstance(reply, Stream | Error | Answer):
            return reply
        try:
            produced = reply(request)
        except Exception as exc:  # noqa: BLE001 - surface test-script bugs as loud server errors
            return Error(500, "InternalServerException", f"fake: reply callable raised {exc!r}")
        if not isinstance(produced, Stream | Error | Answer):
            return Error(500, "InternalServerException", f"fake: reply callable returned {produced!r}")
        return produced

    def _prompt_usage(self, request: Request) -> dict[str, int]:
        """Input-side usage for a request, updating the model's prompt cache."""
        layout = _prompt_layout(request.system, request.messages)
        total = _char_tokens(layout.total_chars)
        read = write = 0
        if layout.cache_positions:
            with self._lock:
                cache = self._caches.setdefault(request.model_id, set())
                last_point = max(layout.cache_positions)
                hit = 0
                for position in range(last_point, 0, -1):
                    if layout.boundary_hashes[position] in cache:
                        hit = position
                        break
                read = _char_tokens(layout.boundary_chars[hit]) if hit else 0
                if last_point > hit:
                    write = max(0, _char_tokens(layout.boundary_chars[last_point]) - read)
                cache.update(layout.boundary_hashes[p] for p in layout.cache_positions)
        return {
            "inputTokens": max(0, total - read - write),
            "outputTokens": 0,
            "totalTokens": 0,
            "cacheReadInputTokens": read,
            "cacheWriteInputTokens": write,
        }

    def _add_usage(self, usage: dict[str, int], epoch: threading.Event) -> None:
        """Add one call's usage to the totals, unless reset()/stop() happened since the call arrived."""
        with self._lock:
            if epoch.is_set():
                return
            for key in self._usage:
                self._usage[key] += int(usage.get(key, 0))
