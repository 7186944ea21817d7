"""One answer from the model: calls, continuations past `max_tokens`, retries and resumption.

`Generation` is an iterator of text pieces (already joined by the seam rule of `bot.model.continuation`), so the
caller only ever appends. After iteration, `outcome` tells how it ended. The Bedrock client, clock-free
sleep, capability memory and callbacks are injected; nothing here touches Slack.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from bot.errors import Kind, ModelError
from bot.model.bedrock import ConverseStreamClient, OpenStream, Progress, StreamEnd, TextDelta, open_stream
from bot.model.continuation import Form, Seam, continuation_messages
from bot.state import keys
from bot.state.store import Store

logger = logging.getLogger(__name__)

Message = dict[str, Any]

STOP_NOTES: dict[str, str] = {
    "guardrail_intervened": "A Bedrock guardrail stopped this answer.",
    "content_filtered": "The model's content filter stopped this answer.",
    "model_context_window_exceeded": "The answer stopped because the conversation filled the model's "
    "context window. Please start a new thread.",
    "malformed_model_output": "The model produced malformed output, so the answer stopped here.",
    "malformed_tool_use": "The model produced a malformed tool request, so the answer stopped here.",
    "tool_use": "The model tried to use a tool, which this bot does not offer, so the answer stopped here.",
}
NORMAL_STOPS = frozenset({"end_turn", "stop_sequence"})
BACKOFF_BASE = 1.0  # seconds before the first retry of a Bedrock call
BACKOFF_CAP = 20.0


def stop_note(reason: str) -> str:
    return STOP_NOTES.get(reason, f"The model stopped for an unexpected reason ({reason}).")


class ModelCapabilities:
    """What each model id accepts, learned from its rejections and kept in the state store (so a restart, or
    another process, does not pay for the lesson again). A rejection, once learned, is also kept in memory."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._lock = threading.Lock()
        self._rejected: set[tuple[str, str]] = set()

    def _accepts(self, model_id: str, feature: str) -> bool:
        with self._lock:
            if (model_id, feature) in self._rejected:
                return False
        if self._store.get(keys.capability(model_id, feature)) == "rejected":
            with self._lock:
                self._rejected.add((model_id, feature))
            return False
        return True

    def _reject(self, model_id: str, feature: str) -> None:
        with self._lock:
            self._rejected.add((model_id, feature))
        self._store.put(keys.capability(model_id, feature), "rejected", keys.CAPABILITY_TTL)

    def form(self, model_id: str) -> Form:
        return Form.PREFILL if self._accepts(model_id, "prefill") else Form.CONTINUE

    def reject_prefill(self, model_id: str) -> None:
        self._reject(model_id, "prefill")

    def caching(self, model_id: str) -> bool:
        return self._accepts(model_id, "cache")

    def reject_cache(self, model_id: str) -> None:
        self._reject(model_id, "cache")


@dataclass(frozen=True)
class Policy:
    """Bounds of one answer. `sleep` is injected (through the composition root) so tests run instantly."""

    max_continuations: int = 5
    max_attempts: int = 4  # per call, for throttling/5xx before the stream starts
    stream_retries: int = 3  # resumptions after a stream broke mid-way
    max_output_tokens: int | None = None  # across all calls of the answer
    sleep: Callable[[float], object] | None = None  # None: wait, but wake up at once when aborted
    guardrail: Mapping[str, str] | None = None  # Bedrock's guardrailConfig, added to every call when set

    def backoff(self, attempt: int) -> float:
        """Full-jitter exponential backoff before retry number `attempt` (1-based)."""
        return min(BACKOFF_CAP, BACKOFF_BASE * 2.0 ** (attempt - 1)) * (0.5 + random.random() / 2)


@dataclass(frozen=True)
class ModelRequest:
    model_id: str
    messages: Sequence[Message]
    system: Sequence[dict[str, Any]] = ()
    inference_config: dict[str, Any] = field(default_factory=dict)
    cache: bool = False  # add cachePoint blocks (after the system prompt and the stable history)


@dataclass
class Outcome:
    stop_reason: str = ""
    note: str | None = None
    error: ModelError | None = None
    cancelled: bool = False
    calls: int = 0
    continuations: int = 0
    stream_retries: int = 0
    history_shrunk: int = 0
    usage: dict[str, int] = field(default_factory=dict)

    def add_usage(self, usage: dict[str, int]) -> None:
        for key, value in usage.items():
            self.usage[key] = self.usage.get(key, 0) + value


CACHE_POINT = {"cachePoint": {"type": "default"}}


def _has_files(message: Message) -> bool:
    return any("image" in block or "document" in block for block in message["content"])


def build_request(req: ModelRequest, base: Sequence[Message], messages: Sequence[Message], *,
                  cache: bool) -> dict[str, Any]:
    """The keyword arguments of `converse_stream` for `messages` (= `base`, possibly plus continuation turns).

    With `cache`, cache points follow the system prompt, the stable history (everything before the user
    turn being answered) and, on continuation calls or when it holds images or documents, that user turn
    too, so follow-ups and continuations (which resend all of it) read the prefix — and a file shared with
    the question — from the cache.
    """
    system = [dict(block) for block in req.system]
    msgs = [{"role": m["role"], "content": list(m["content"])} for m in messages]
    if cache:
        if system:
            system.append(CACHE_POINT)
        marks = [len(base) - 2]
        if len(msgs) > len(base) or (base and _has_files(base[-1])):
            marks.append(len(base) - 1)
        for index in marks:
            if index >= 0:
                msgs[index]["content"].append(CACHE_POINT)
    body: dict[str, Any] = {"modelId": req.model_id, "messages": msgs,
                            "inferenceConfig": dict(req.inference_config)}
    if system:
        body["system"] = system
    return body


class Generation:
    """Iterate to receive the answer's text pieces; read `outcome` afterwards.

    Args:
        client: the Bedrock runtime client.
        request: model id, the conversation (ending with the user turn being answered), system prompt.
        capabilities: per-model memory of rejected features (prefill, caching).
        policy: bounds and backoff.
        on_wait: called with a short status line while a call waits to be retried (e.g. "model busy").
        cancelled: polled on every stream event; when it returns True the stream is closed and iteration
            ends. For a stream that is silent (a model thinking), `abort()` from another thread wakes it.
        shrink: given the current messages, returns a shorter history (or None) after a context error.
        shown: the answer's text already shown in Slack when this generation resumes it (after a restart):
            the first call continues it with the continuation form and the seam rule.
    """

    def __init__(
        self,
        client: ConverseStreamClient,
        request: ModelRequest,
        capabilities: ModelCapabilities,
        policy: Policy,
        *,
        on_wait: Callable[[str], None] = lambda status: None,
        cancelled: Callable[[], bool] = lambda: False,
        shrink: Callable[[Sequence[Message]], Sequence[Message] | None] = lambda messages: None,
        shown: str = "",
    ) -> None:
        self._client = client
        self._request = request
        self._caps = capabilities
        self._policy = policy
        self._on_wait = on_wait
        self._cancelled = cancelled
        self._shrink = shrink
        self._messages: Sequence[Message] = request.messages
        self.text = shown
        self._resume = bool(shown.strip())
        self.outcome = Outcome()
        self._lock = threading.Lock()
        self._stream: OpenStream | None = None
        self._aborted = False
        self._wake = threading.Event()

    def _sleep(self, seconds: float) -> None:
        if self._policy.sleep is not None:
            self._policy.sleep(seconds)
        else:
            self._wake.wait(seconds)

    def abort(self) -> None:
        """Stop now, from any thread: the current stream is shut so that even a silent one returns at once."""
        with self._lock:
            self._aborted = True
            stream = self._stream
        self._wake.set()
        if stream is not None:
            stream.abort()

    def _stop_requested(self) -> bool:
        return self._aborted or self._cancelled()

    # -- calls ---------------------------------------------------------------------------------------
    def _open(self, form: Form | None) -> tuple[OpenStream, Form | None]:
        """Open one call, retrying throttling/5xx with backoff and adapting to rejected features."""
        attempt = 0
        while True:
            model_id = self._request.model_id
            cache = self._request.cache and self._caps.caching(model_id)
            messages = continuation_messages(self._messages, self.text, form) if form else list(self._messages)
            body = build_request(self._request, self._messages, messages, cache=cache)
            if self._policy.guardrail:
                body["guardrailConfig"] = dict(self._policy.guardrail)
            cap = self._policy.max_output_tokens
            if cap is not None and "maxTokens" in body["inferenceConfig"]:  # never past the per-answer cap
                left = max(1, cap - self.outcome.usage.get("outputTokens", 0))
                body["inferenceConfig"]["maxTokens"] = min(body["inferenceConfig"]["maxTokens"], left)
            self.outcome.calls += 1
            try:
                return open_stream(self._client, body), form
            except ModelError as error:
                if error.kind is Kind.PREFILL_REJECTED and form is Form.PREFILL:
                    logger.info("model %s rejects prefill; continuing with a user turn from now on", model_id)
                    self._caps.reject_prefill(model_id)
                    form = Form.CONTINUE
                    continue
                if error.kind is Kind.CACHE_REJECTED and cache:
                    logger.info("model %s rejects prompt caching; sending no cache points from now on", model_id)
                    self._caps.reject_cache(model_id)
                    continue
                if error.kind is Kind.CONTEXT_TOO_LONG and self._shrink_history():
                    continue
                attempt += 1
                if not error.retryable or attempt >= self._policy.max_attempts or self._stop_requested():
                    raise
                delay = self._policy.backoff(attempt)
                logger.warning("Bedrock call failed (%s), retry %d in %.1fs", error.code, attempt, delay)
                self._on_wait("The model is busy; retrying…" if error.kind is Kind.THROTTLED
                              else "Bedrock had a hiccup; retrying…")
                self._sleep(delay)

    def _shrink_history(self) -> bool:
        if self.outcome.history_shrunk >= 1:
            return False
        smaller = self._shrink(self._messages)
        if not smaller or len(smaller) >= len(self._messages):
            return False
        self.outcome.history_shrunk += 1
        self._messages = smaller
        return True

    def _over_budget(self) -> bool:
        cap = self._policy.max_output_tokens
        return cap is not None and self.outcome.usage.get("outputTokens", 0) >= cap

    # -- the answer ----------------------------------------------------------------------------------
    def __iter__(self) -> Iterator[str]:
        # None for the first call: nothing to continue yet (unless resuming text already shown)
        form: Form | None = self._caps.form(self._request.model_id) if self._resume else None
        while True:
            if self._stop_requested():
                self.outcome.cancelled = True
                return
            try:
                stream, form = self._open(form)
            except ModelError as error:
                if self._stop_requested():
                    self.outcome.cancelled = True
                    return
                self._fail(error)
                return
            with self._lock:
                self._stream = stream
                aborted = self._aborted
            if aborted:
                stream.close()
                self.outcome.cancelled = True
                return
            seam = Seam(self.text, form)
            end: StreamEnd | None = None
            try:
                for event in stream:
                    if self._stop_requested():
                        stream.close()
                        self.outcome.cancelled = True
                        return
                    if isinstance(event, TextDelta):
                        piece = seam.feed(event.text)
                        if piece:
                            self.text += piece
                            yield piece
                    elif isinstance(event, StreamEnd):
                        end = event
                    else:
                        assert isinstance(event, Progress)
            except ModelError as error:
                if self._stop_requested():  # the stream was shut on purpose
                    stream.close()
                    self.outcome.cancelled = True
                    return
                piece = seam.flush()
                if piece:
                    self.text += piece
                    yield piece
                if error.retryable and self.outcome.stream_retries < self._policy.stream_retries:
                    self.outcome.stream_retries += 1
                    logger.warning("Bedrock stream broke (%s); resuming (%d/%d)", error.code,
                                   self.outcome.stream_retries, self._policy.stream_retries)
                    self._sleep(self._policy.backoff(self.outcome.stream_retries))
                    form = self._caps.form(self._request.model_id)
                    continue
                self._fail(error)
                return
            piece = seam.flush()
            if piece:
                self.text += piece
                yield piece
            assert end is not None
            self.outcome.add_usage(end.usage)
            self.outcome.stop_reason = end.stop_reason
            if end.stop_reason == "model_context_window_exceeded" and self._shrink_history():
                form = self._caps.form(self._request.model_id)
                continue
            if end.stop_reason != "max_tokens":
                if end.stop_reason not in NORMAL_STOPS:
                    self.outcome.note = stop_note(end.stop_reason)
                return
            if self._over_budget():
                self.outcome.note = ("The answer was cut here: it reached this bot's output limit per answer "
                                     "(MAX_ANSWER_OUTPUT_TOKENS).")
                return
            if self.outcome.continuations >= self._policy.max_continuations:
                self.outcome.note = (f"The answer was cut here: it reached the limit of "
                                     f"{self._policy.max_continuations} continuations (MAX_CONTINUATIONS).")
                return
            self.outcome.continuations += 1
            form = self._caps.form(self._request.model_id)

    def _fail(self, error: ModelError) -> None:
        self.outcome.error = error
        self.outcome.note = error.note
        self.outcome.stop_reason = self.outcome.stop_reason or "error"
