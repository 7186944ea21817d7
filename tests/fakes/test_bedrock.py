"""Tests for the fake Bedrock Runtime, driven through a real boto3 client."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
import urllib3.exceptions
from botocore.config import Config
from botocore.eventstream import EventStreamBuffer
from botocore.exceptions import BotoCoreError, ClientError, EventStreamError
from botocore.exceptions import ReadTimeoutError as BotoReadTimeoutError

from tests.fakes.bedrock import (
    MSG_CACHE_UNSUPPORTED,
    MSG_INVALID_MODEL,
    MSG_MUST_ALTERNATE,
    MSG_MUST_START_WITH_USER,
    MSG_NO_PREFILL,
    MSG_TRAILING_WHITESPACE,
    REASONING_DELTAS,
    Answer,
    Error,
    FakeBedrock,
    Request,
    Stream,
    encode_event_frame,
)

MODEL = "us.anthropic.claude-sonnet-4-6"
COLON_MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
NO_PREFILL = "us.anthropic.claude-opus-4-6-v1"
NO_CACHE = "mistral.mistral-large-2402-v1:0"
REASONER = "us.anthropic.claude-opus-4-7"

ANSWER_TEXT = (
    "Slack threads are a good place for long answers. The bot streams each piece as it arrives, "
    "and when the model stops early it asks for the rest. Done."
)

ClientFactory = Callable[..., Any]

_open_streams: list[Any] = []


# --- fixtures & helpers -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeBedrock]:
    """One fake server for the whole module."""
    server = FakeBedrock().start()
    server.add_model(MODEL)
    server.add_model(COLON_MODEL)
    server.add_model(NO_PREFILL, accepts_prefill=False)
    server.add_model(NO_CACHE, supports_cache=False)
    server.add_model(REASONER, reasoning=True)
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def _isolate(fake: FakeBedrock, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Fresh fake state per test and no influence from the developer's AWS config."""
    for name in (
        "AWS_PROFILE",
        "AWS_DEFAULT_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_IGNORE_CONFIGURED_ENDPOINT_URLS",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent/aws-config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent/aws-credentials")
    fake.reset()
    yield
    fake.reset()
    while _open_streams:
        _open_streams.pop().close()


def new_client(endpoint_url: str | None, *, read_timeout: float = 2, validate: bool = True) -> Any:
    """A real boto3 bedrock-runtime client with fake credentials and no retries."""
    kwargs: dict[str, Any] = {"endpoint_url": endpoint_url} if endpoint_url else {}
    return boto3.client(
        "bedrock-runtime",
        region_name="us-east-1",
        aws_access_key_id="AKIDFAKE",
        aws_secret_access_key="fake-secret",
        config=Config(
            retries={"mode": "standard", "total_max_attempts": 1},
            read_timeout=read_timeout,
            connect_timeout=2,
            parameter_validation=validate,
        ),
        **kwargs,
    )


@pytest.fixture
def make_client(fake: FakeBedrock) -> Iterator[ClientFactory]:
    """Factory for clients pointed at the module's fake (or at the env var endpoint); closed afterwards."""
    clients: list[Any] = []

    def factory(*, read_timeout: float = 2, endpoint: bool = True, validate: bool = True) -> Any:
        client = new_client(fake.url if endpoint else None, read_timeout=read_timeout, validate=validate)
        clients.append(client)
        return client

    yield factory
    for client in clients:
        client.close()


@pytest.fixture
def client(make_client: ClientFactory) -> Any:
    """A default client."""
    return make_client()


def user(text: str) -> dict[str, Any]:
    """A user message with one text block."""
    return {"role": "user", "content": [{"text": text}]}


def assistant(text: str) -> dict[str, Any]:
    """An assistant message with one text block."""
    return {"role": "assistant", "content": [{"text": text}]}


def converse(client: Any, messages: list[dict[str, Any]], model: str = MODEL, **kwargs: Any) -> Any:
    """Start a ConverseStream call and return its event stream (closed at test teardown)."""
    stream = client.converse_stream(modelId=model, messages=messages, **kwargs)["stream"]
    _open_streams.append(stream)
    return stream


def collect(client: Any, messages: list[dict[str, Any]], model: str = MODEL, **kwargs: Any) -> list[dict]:
    """Run a ConverseStream call to completion and return all events."""
    return list(converse(client, messages, model, **kwargs))


def text_of(events: list[dict[str, Any]]) -> str:
    """Concatenated text deltas."""
    return "".join(
        e["contentBlockDelta"]["delta"].get("text", "") for e in events if "contentBlockDelta" in e
    )


def stop_reason(events: list[dict[str, Any]]) -> str:
    """The messageStop stopReason."""
    return next(e["messageStop"]["stopReason"] for e in events if "messageStop" in e)


def usage_of(events: list[dict[str, Any]]) -> dict[str, int]:
    """The metadata usage block."""
    return next(e["metadata"]["usage"] for e in events if "metadata" in e)


def client_error(excinfo: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    """(HTTP status, error code, message) of a ClientError."""
    response = excinfo.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# --- wire format --------------------------------------------------------------------------------------


def test_frame_encoding_round_trips_through_botocore_decoder() -> None:
    frame = encode_event_frame(
        {":event-type": "messageStop", ":content-type": "application/json", ":message-type": "event"},
        b'{"stopReason":"end_turn"}',
    )
    buffer = EventStreamBuffer()
    buffer.add_data(frame + frame[:7])  # a trailing partial frame must be held back
    messages = list(buffer)
    assert len(messages) == 1
    assert messages[0].headers[":event-type"] == "messageStop"
    assert json.loads(messages[0].payload) == {"stopReason": "end_turn"}


def test_normal_stream_event_order_and_texts(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["Hel", "lo", " world"]))
    response = client.converse_stream(
        modelId=MODEL,
        system=[{"text": "Be brief."}],
        messages=[user("Say hello")],
        inferenceConfig={"maxTokens": 100, "temperature": 0.2},
        additionalModelRequestFields={"top_k": 5},
    )
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == "application/vnd.amazon.eventstream"
    events = list(response["stream"])
    kinds = [next(iter(e)) for e in events]
    assert kinds == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    assert events[0]["messageStart"] == {"role": "assistant"}
    assert [e["contentBlockDelta"]["delta"]["text"] for e in events[1:4]] == ["Hel", "lo", " world"]
    assert all(e["contentBlockDelta"]["contentBlockIndex"] == 0 for e in events[1:4])
    assert events[4]["contentBlockStop"] == {"contentBlockIndex": 0}
    assert stop_reason(events) == "end_turn"
    usage = usage_of(events)
    expected_input = math.ceil(len("Be brief." + "Say hello") / 4)
    assert usage == {
        "inputTokens": expected_input,
        "outputTokens": 3,
        "totalTokens": expected_input + 3,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }
    assert events[-1]["metadata"]["metrics"]["latencyMs"] >= 0

    (call,) = fake.calls
    assert call.model_id == MODEL
    assert call.messages == [user("Say hello")]
    assert call.system == [{"text": "Be brief."}]
    assert call.inference_config == {"maxTokens": 100, "temperature": 0.2}
    assert call.body["additionalModelRequestFields"] == {"top_k": 5}
    assert fake.usage_totals == {
        "inputTokens": expected_input,
        "outputTokens": 3,
        "cacheReadInputTokens": 0,
        "cacheWriteInputTokens": 0,
    }


def test_model_id_with_colon_is_url_decoded(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["ok"]))
    assert text_of(collect(client, [user("hi")], model=COLON_MODEL)) == "ok"
    assert fake.calls[0].model_id == COLON_MODEL


def test_endpoint_from_environment_variable(
    fake: FakeBedrock, make_client: ClientFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fake.url)
    fake.enqueue(Stream(["from ", "env"]))
    assert text_of(collect(make_client(endpoint=False), [user("hi")])) == "from env"


def test_delay_between_deltas(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["a", "b", "c"], delay=0.05))
    started = time.monotonic()
    events = collect(client, [user("hi")])
    assert text_of(events) == "abc"
    assert time.monotonic() - started >= 0.15


def test_max_tokens_truncates_and_reports_max_tokens(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["one ", "two ", "three ", "four ", "five"]))
    events = collect(client, [user("count")], inferenceConfig={"maxTokens": 3})
    assert text_of(events) == "one two three "
    assert stop_reason(events) == "max_tokens"
    assert usage_of(events)["outputTokens"] == 3


def test_custom_stop_reason_and_usage_override(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["x"], stop_reason="stop_sequence", usage={"inputTokens": 1000}))
    events = collect(client, [user("hi")])
    assert stop_reason(events) == "stop_sequence"
    assert usage_of(events)["inputTokens"] == 1000
    assert usage_of(events)["totalTokens"] == 1001
    assert fake.usage_totals["inputTokens"] == 1000


# --- scripting ----------------------------------------------------------------------------------------


def test_queue_is_fifo_per_model_with_any_model_fallback(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["any-1"]))
    fake.enqueue(Stream(["colon-1"]), model_id=COLON_MODEL)
    fake.enqueue(Stream(["any-2"]))
    assert text_of(collect(client, [user("a")], model=COLON_MODEL)) == "colon-1"
    assert text_of(collect(client, [user("b")], model=COLON_MODEL)) == "any-1"
    assert text_of(collect(client, [user("c")])) == "any-2"


def test_callable_reply_and_fallback(fake: FakeBedrock, client: Any) -> None:
    def echo(request: Request) -> Stream:
        return Stream([request.messages[-1]["content"][0]["text"].upper()])

    fake.enqueue(lambda request: Stream([f"queued for {request.model_id}"]))
    fake.set_fallback(echo)
    assert text_of(collect(client, [user("hi")])) == f"queued for {MODEL}"
    assert text_of(collect(client, [user("shout")])) == "SHOUT"
    assert text_of(collect(client, [user("again")])) == "AGAIN"


def test_no_scripted_reply_is_a_loud_500(client: Any) -> None:
    with pytest.raises(ClientError) as excinfo:
        converse(client, [user("hi")])
    assert client_error(excinfo) == (500, "InternalServerException", "fake: no scripted reply")


def test_wait_for_calls(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["a"]))
    collect(client, [user("hi")])
    calls = fake.wait_for_calls(1, timeout=1.0)
    assert [c.messages for c in calls] == [[user("hi")]]
    assert calls[0].time <= time.monotonic()
    with pytest.raises(AssertionError, match="expected 2"):
        fake.wait_for_calls(2, timeout=0.05)


def test_default_model_accepts_unknown_ids() -> None:
    with FakeBedrock() as other:
        client = new_client(other.url)
        with pytest.raises(ClientError) as excinfo:
            converse(client, [user("hi")], model="some.unknown-model-v1:0")
        assert client_error(excinfo) == (400, "ValidationException", MSG_INVALID_MODEL)
        other.set_default_model(accepts_prefill=False)
        other.enqueue(Stream(["fine"]))
        assert text_of(collect(client, [user("hi")], model="some.unknown-model-v1:0")) == "fine"
        with pytest.raises(ClientError) as excinfo:
            converse(client, [user("hi"), assistant("prefill")], model="some.unknown-model-v1:0")
        assert client_error(excinfo)[2] == MSG_NO_PREFILL
        client.close()
    with pytest.raises(RuntimeError):
        _ = other.url


# --- errors before the stream ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [
        (400, "ValidationException"),
        (403, "AccessDeniedException"),
        (404, "ResourceNotFoundException"),
        (429, "ThrottlingException"),
        (500, "InternalServerException"),
        (503, "ServiceUnavailableException"),
        (408, "ModelTimeoutException"),
        (424, "ModelErrorException"),
        (429, "ModelNotReadyException"),
        (403, "UnrecognizedClientException"),
        (403, "ExpiredTokenException"),
    ],
)
def test_scripted_http_errors(fake: FakeBedrock, client: Any, status: int, code: str) -> None:
    fake.enqueue(Error(status, code, f"scripted {code}"))
    with pytest.raises(ClientError) as excinfo:
        converse(client, [user("hi")])
    assert client_error(excinfo) == (status, code, f"scripted {code}")


def _blocks(*texts: str) -> list[dict[str, Any]]:
    """Content blocks from texts."""
    return [{"text": t} for t in texts]


CACHE = {"cachePoint": {"type": "default"}}


@pytest.mark.parametrize(
    ("model", "kwargs", "message"),
    [
        pytest.param(MODEL, {"messages": []}, MSG_MUST_START_WITH_USER, id="empty"),
        pytest.param(MODEL, {"messages": [assistant("hi"), user("x")]}, MSG_MUST_START_WITH_USER, id="first"),
        pytest.param(MODEL, {"messages": [user("a"), user("b")]}, MSG_MUST_ALTERNATE, id="two-users"),
        pytest.param(
            MODEL,
            {"messages": [user("a"), assistant("b"), assistant("c")]},
            MSG_MUST_ALTERNATE,
            id="two-assistants",
        ),
        pytest.param(
            MODEL,
            {"messages": [user("a"), assistant("b"), {"role": "user", "content": _blocks("ok", " \n\t")}]},
            "The text field in the ContentBlock object at messages.2.content.1 is blank. "
            "Add text to the text field, and try again.",
            id="blank-text",
        ),
        pytest.param(
            MODEL,
            {"messages": [{"role": "user", "content": _blocks("")}]},
            "The text field in the ContentBlock object at messages.0.content.0 is blank. "
            "Add text to the text field, and try again.",
            id="empty-text",
        ),
        pytest.param(
            NO_PREFILL, {"messages": [user("a"), assistant("The answer is")]}, MSG_NO_PREFILL, id="no-prefill"
        ),
        pytest.param(
            MODEL,
            {"messages": [user("a"), assistant("The answer is ")]},
            MSG_TRAILING_WHITESPACE,
            id="prefill-trailing-space",
        ),
        pytest.param(
            MODEL,
            {"messages": [user("a"), assistant("The answer is\n")]},
            MSG_TRAILING_WHITESPACE,
            id="prefill-trailing-newline",
        ),
        pytest.param(
            NO_CACHE,
            {"system": [{"text": "sys"}, CACHE], "messages": [user("a")]},
            MSG_CACHE_UNSUPPORTED,
            id="cache-in-system",
        ),
        pytest.param(
            NO_CACHE,
            {"messages": [{"role": "user", "content": [{"text": "a"}, CACHE]}]},
            MSG_CACHE_UNSUPPORTED,
            id="cache-in-message",
        ),
        pytest.param(
            MODEL,
            {
                "system": [{"text": "s1"}, CACHE, {"text": "s2"}, CACHE],
                "messages": [
                    {"role": "user", "content": [{"text": "a"}, CACHE]},
                    {"role": "assistant", "content": [{"text": "b"}, CACHE]},
                    {"role": "user", "content": [{"text": "c"}, CACHE]},
                ],
            },
            "A maximum of 4 blocks with cache_control may be provided. Found 5.",
            id="five-cache-points",
        ),
        pytest.param("no.such-model-v9", {"messages": [user("a")]}, MSG_INVALID_MODEL, id="unknown-model"),
    ],
)
def test_validation_errors(
    fake: FakeBedrock, client: Any, model: str, kwargs: dict[str, Any], message: str
) -> None:
    fake.enqueue(Stream(["should not be used"]))
    with pytest.raises(ClientError) as excinfo:
        client.converse_stream(modelId=model, **kwargs)
    assert client_error(excinfo) == (400, "ValidationException", message)
    assert len(fake.calls) == 1  # recorded even though rejected
    # the scripted reply was not consumed by the invalid request
    assert text_of(collect(client, [user("next")])) == "should not be used"


def test_max_tokens_below_one_is_rejected_server_side(fake: FakeBedrock, make_client: ClientFactory) -> None:
    client = make_client(validate=False)  # botocore would otherwise reject maxTokens=0 locally
    with pytest.raises(ClientError) as excinfo:
        converse(client, [user("hi")], inferenceConfig={"maxTokens": 0})
    status, code, message = client_error(excinfo)
    assert (status, code) == (400, "ValidationException")
    assert "inferenceConfig.maxTokens" in message


def test_prefill_is_accepted_by_a_prefill_model(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream([" 42."]))
    events = collect(client, [user("What is the answer?"), assistant("The answer is")])
    assert text_of(events) == " 42."
    assert fake.calls[0].messages[-1] == assistant("The answer is")


# --- in-stream faults ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "exception",
    [
        "throttlingException",
        "modelStreamErrorException",
        "internalServerException",
        "serviceUnavailableException",
        "validationException",
    ],
)
def test_in_stream_exception_after_k_deltas(fake: FakeBedrock, client: Any, exception: str) -> None:
    fake.enqueue(Stream(["a", "b", "c", "d"], fail_after=2, exception=exception, exception_message="boom"))
    received: list[str] = []
    with pytest.raises(EventStreamError) as excinfo:
        for event in converse(client, [user("hi")]):
            if "contentBlockDelta" in event:
                received.append(event["contentBlockDelta"]["delta"]["text"])
    assert received == ["a", "b"]
    assert excinfo.value.response["Error"] == {"Code": exception, "Message": "boom"}
    assert fake.usage_totals["outputTokens"] == 2


def test_unknown_stream_exception_name_is_rejected() -> None:
    with pytest.raises(ValueError):
        Stream(["a"], fail_after=0, exception="ThrottlingException")


def test_stall_longer_than_read_timeout_times_out(fake: FakeBedrock, make_client: ClientFactory) -> None:
    client = make_client(read_timeout=0.3)
    fake.enqueue(Stream(["a", "b", "c"], stall_after=1, stall_seconds=30.0))  # without the timeout: "abc"
    received: list[dict[str, Any]] = []
    with pytest.raises((urllib3.exceptions.ReadTimeoutError, BotoReadTimeoutError)):
        for event in converse(client, [user("hi")]):
            received.append(event)
    assert text_of(received) == "a"


def test_short_stall_then_continues(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["a", "b", "c"], stall_after=2, stall_seconds=0.2))
    started = time.monotonic()
    events = collect(client, [user("hi")])
    assert text_of(events) == "abc"
    assert stop_reason(events) == "end_turn"
    assert time.monotonic() - started >= 0.2


def test_reset_interrupts_a_stall_promptly(fake: FakeBedrock, make_client: ClientFactory) -> None:
    client = make_client(read_timeout=60)  # neither a read timeout nor the stall's end can raise first
    fake.enqueue(Stream(["a", "b"], stall_after=1, stall_seconds=30.0))
    stream = iter(converse(client, [user("hi")]))
    assert "messageStart" in next(stream)
    assert next(stream)["contentBlockDelta"]["delta"]["text"] == "a"
    fake.reset()
    with pytest.raises((urllib3.exceptions.HTTPError, BotoCoreError, ConnectionError)):
        list(stream)


def test_close_after_drops_the_connection(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["a", "b", "c", "d"], close_after=2))
    received: list[dict[str, Any]] = []
    with pytest.raises((urllib3.exceptions.HTTPError, BotoCoreError, ConnectionError)):
        for event in converse(client, [user("hi")]):
            received.append(event)
    assert text_of(received) == "ab"
    assert not any("messageStop" in e for e in received)
    # the server keeps working afterwards
    fake.enqueue(Stream(["ok"]))
    assert text_of(collect(client, [user("again")])) == "ok"


def test_stop_ends_an_inflight_stall() -> None:
    other = FakeBedrock().start()
    other.add_model(MODEL)
    client = new_client(other.url, read_timeout=60)  # neither a read timeout nor the stall's end can raise first
    other.enqueue(Stream(["a", "b"], stall_after=1, stall_seconds=30.0))
    stream = iter(converse(client, [user("hi")]))
    next(stream)
    next(stream)
    other.stop()
    with pytest.raises((urllib3.exceptions.HTTPError, BotoCoreError, ConnectionError)):
        list(stream)
    client.close()


# --- Answer model -------------------------------------------------------------------------------------


def _answer_deltas(events: list[dict[str, Any]]) -> list[str]:
    """Text deltas of one call."""
    return [e["contentBlockDelta"]["delta"]["text"] for e in events if "contentBlockDelta" in e]


def test_answer_prefill_form_reassembles_exactly(fake: FakeBedrock, client: Any) -> None:
    answer = Answer(ANSWER_TEXT, token_chars=4)
    fake.set_fallback(lambda request: answer)
    max_tokens = math.ceil(len(ANSWER_TEXT) / 4 / 3) + 1  # three calls needed
    produced = ""
    reasons: list[str] = []
    for _ in range(3):
        partial = produced.rstrip()
        messages = [user("Explain.")] + ([assistant(partial)] if partial else [])
        events = collect(client, messages, inferenceConfig={"maxTokens": max_tokens})
        reasons.append(stop_reason(events))
        assert all(len(d) <= 4 for d in _answer_deltas(events))
        produced = partial + text_of(events)
    assert reasons == ["max_tokens", "max_tokens", "end_turn"]
    assert produced == ANSWER_TEXT
    # second call resumed right after the stripped prefill, so it began with the stripped whitespace
    second_prefill = fake.calls[1].messages[-1]["content"][0]["text"]
    assert not second_prefill[-1].isspace()


def test_answer_continue_form_reassembles_exactly(fake: FakeBedrock, client: Any) -> None:
    fake.set_fallback(lambda request: Answer(ANSWER_TEXT, token_chars=5))
    max_tokens = math.ceil(len(ANSWER_TEXT) / 5 / 3) + 1
    produced = ""
    reasons: list[str] = []
    for _ in range(3):
        partial = produced.rstrip()
        messages = [user("Explain.")]
        if partial:
            messages += [assistant(partial), user("Continue exactly where you left off.")]
        events = collect(client, messages, inferenceConfig={"maxTokens": max_tokens})
        reasons.append(stop_reason(events))
        produced = partial + text_of(events)
    assert reasons == ["max_tokens", "max_tokens", "end_turn"]
    assert produced == ANSWER_TEXT


def test_answer_without_max_tokens_is_one_call(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Answer("short answer", token_chars=3))
    events = collect(client, [user("q")])
    assert _answer_deltas(events) == ["sho", "rt ", "ans", "wer"]
    assert stop_reason(events) == "end_turn"


def test_answer_seam_repeat_repeats_last_two_words(fake: FakeBedrock, client: Any) -> None:
    text = "one two three four five six seven"
    fake.enqueue(Answer(text, token_chars=100, seam="repeat"))
    events = collect(client, [user("q"), assistant("one two three four"), user("continue")])
    assert text_of(events) == "three four five six seven"


def test_answer_seam_lstrip_drops_leading_whitespace(fake: FakeBedrock, client: Any) -> None:
    text = "one two three four five"
    fake.enqueue(Answer(text, token_chars=100, seam="lstrip"))
    events = collect(client, [user("q"), assistant("one two"), user("continue")])
    assert text_of(events) == "three four five"


@pytest.mark.parametrize("seam", ["repeat", "lstrip"])
def test_answer_prefill_form_is_always_exact(fake: FakeBedrock, client: Any, seam: str) -> None:
    fake.enqueue(Answer("one two three four", token_chars=100, seam=seam))
    events = collect(client, [user("q"), assistant("one two")])
    assert text_of(events) == " three four"


def test_answer_prefill_mismatch_is_a_loud_500(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Answer("one two three"))
    with pytest.raises(ClientError) as excinfo:
        converse(client, [user("q"), assistant("one too")])
    assert client_error(excinfo) == (500, "InternalServerException", "fake: prefix mismatch")


def test_answer_unrelated_history_starts_from_scratch(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Answer("fresh answer", token_chars=100))
    events = collect(client, [user("q1"), assistant("an older answer"), user("q2")])
    assert text_of(events) == "fresh answer"


# --- reasoning model ----------------------------------------------------------------------------------


def test_reasoning_model_streams_reasoning_then_text(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["Hi", " there"]))
    events = collect(client, [user("hello")], model=REASONER)
    kinds = [next(iter(e)) for e in events]
    n = len(REASONING_DELTAS)
    assert kinds == ["messageStart"] + ["contentBlockDelta"] * (n + 1) + [
        "contentBlockStop",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    reasoning = [e["contentBlockDelta"] for e in events[1 : n + 2]]
    assert all(r["contentBlockIndex"] == 0 for r in reasoning)
    assert "".join(r["delta"]["reasoningContent"].get("text", "") for r in reasoning) == "".join(
        REASONING_DELTAS
    )
    assert "signature" in reasoning[-1]["delta"]["reasoningContent"]
    assert events[n + 2]["contentBlockStop"] == {"contentBlockIndex": 0}
    text_deltas = [e["contentBlockDelta"] for e in events[n + 3 : n + 5]]
    assert [d["contentBlockIndex"] for d in text_deltas] == [1, 1]
    assert text_of(events) == "Hi there"
    assert events[n + 5]["contentBlockStop"] == {"contentBlockIndex": 1}
    assert usage_of(events)["outputTokens"] == n + 2


# --- prompt caching -----------------------------------------------------------------------------------


def test_cache_read_on_repeated_prefix(fake: FakeBedrock, client: Any) -> None:
    system = [{"text": "You are a helpful Slack bot. " * 20}, CACHE]
    fake.set_fallback(lambda request: Stream(["ok"]))
    first = usage_of(collect(client, [user("first question")], system=system))
    second = usage_of(collect(client, [user("second question")], system=system))
    system_tokens = math.ceil(len(system[0]["text"]) / 4)
    assert first["cacheWriteInputTokens"] == system_tokens
    assert first["cacheReadInputTokens"] == 0
    assert second["cacheReadInputTokens"] == system_tokens
    assert second["cacheWriteInputTokens"] == 0
    assert second["inputTokens"] == math.ceil((len(system[0]["text"]) + len("second question")) / 4) - (
        system_tokens
    )
    totals = fake.usage_totals
    assert totals["cacheReadInputTokens"] == system_tokens
    assert totals["cacheWriteInputTokens"] == system_tokens
    assert totals["outputTokens"] == 2


def test_cache_grows_with_conversation(fake: FakeBedrock, client: Any) -> None:
    fake.set_fallback(lambda request: Stream(["ok"]))
    turn1 = [{"role": "user", "content": [{"text": "a" * 400}, CACHE]}]
    u1 = usage_of(collect(client, turn1))
    assert (u1["cacheReadInputTokens"], u1["cacheWriteInputTokens"]) == (0, 100)
    turn2 = [user("a" * 400), assistant("b" * 40), {"role": "user", "content": [{"text": "c" * 40}, CACHE]}]
    u2 = usage_of(collect(client, turn2))
    # the first turn's prefix is found again even though the cache point moved
    assert (u2["cacheReadInputTokens"], u2["cacheWriteInputTokens"], u2["inputTokens"]) == (100, 20, 0)
    fake.reset()
    fake.set_fallback(lambda request: Stream(["ok"]))
    u3 = usage_of(collect(client, turn2))
    assert (u3["cacheReadInputTokens"], u3["cacheWriteInputTokens"]) == (0, 120)


def test_no_cache_model_without_cache_points_works(fake: FakeBedrock, client: Any) -> None:
    fake.enqueue(Stream(["fine"]))
    events = collect(client, [user("hi")], model=NO_CACHE)
    assert text_of(events) == "fine"
    assert usage_of(events)["cacheReadInputTokens"] == 0
