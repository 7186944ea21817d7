"""The bot's own exceptions and the notes users see for them.

    BotError
    ├── ConfigError      a missing or malformed environment variable (startup only)
    ├── StartupError     anything else that stops startup (a token Slack rejects, an untested slack_sdk…)
    └── ModelError       a Bedrock failure, classified by `classify_model_error` into a `Kind`

Vendor exceptions (botocore, urllib3) are mapped to `ModelError` in `bot.model.bedrock` and nowhere else.
Users never see raw exception text: each kind has a fixed note, written for whoever can fix it.
"""

from __future__ import annotations

import enum


class BotError(Exception):
    """Base class of the bot's exceptions."""


class ConfigError(BotError):
    """A configuration variable is missing or malformed; `str()` is the one line printed at startup."""

    def __init__(self, name: str, expected: str, *, missing: bool = False) -> None:
        self.name = name
        self.expected = expected
        self.missing = missing
        problem = "is missing" if missing else "is invalid"
        super().__init__(f"{name} {problem}: expected {expected}")


class StartupError(BotError):
    """A problem that stops startup; `str()` is the one line printed."""


class Kind(enum.Enum):
    """What went wrong with a Bedrock call, as far as the bot's reaction is concerned."""

    THROTTLED = "throttled"  # retry later (before the stream: backoff; mid-stream: resume)
    UNAVAILABLE = "unavailable"  # 5xx / model not ready / stream error: retry or resume
    TIMEOUT = "timeout"  # the stream went silent longer than the read timeout: resume
    CONNECTION = "connection"  # the connection broke: retry or resume
    PREFILL_REJECTED = "prefill_rejected"  # switch to the "continue" form for this model
    CACHE_REJECTED = "cache_rejected"  # drop cache points for this model
    CONTEXT_TOO_LONG = "context_too_long"  # retry once with a smaller history
    ACCESS_DENIED = "access_denied"
    MODEL_NOT_FOUND = "model_not_found"
    GUARDRAIL_REJECTED = "guardrail_rejected"  # the configured guardrail does not exist (or is malformed)
    CREDENTIALS = "credentials"
    BAD_REQUEST = "bad_request"
    UNKNOWN = "unknown"


RETRYABLE = frozenset({Kind.THROTTLED, Kind.UNAVAILABLE, Kind.TIMEOUT, Kind.CONNECTION})

NOTES: dict[Kind, str] = {
    Kind.THROTTLED: "Bedrock is throttling requests right now, so the answer stopped here. Please ask again "
    "in a minute (operator: consider a quota increase for this model).",
    Kind.UNAVAILABLE: "Bedrock had an internal error and the answer stopped here. Please ask again.",
    Kind.TIMEOUT: "Bedrock stopped responding and the answer stopped here. Please ask again.",
    Kind.CONNECTION: "The connection to Bedrock broke and the answer stopped here. Please ask again.",
    Kind.PREFILL_REJECTED: "The model rejected the continuation request.",
    Kind.CACHE_REJECTED: "The model rejected prompt caching.",
    Kind.CONTEXT_TOO_LONG: "This thread is too long for the model, even after leaving out older messages. "
    "Please start a new thread.",
    Kind.ACCESS_DENIED: "Bedrock denied access to the model. Operator: enable access to this model in the "
    "Bedrock console (Model access) for the bot's AWS account and Region, and allow bedrock:InvokeModel* "
    "on the inference profile and its foundation models in IAM.",
    Kind.MODEL_NOT_FOUND: "Bedrock does not know the configured model. Operator: check BEDROCK_MODEL_ID and "
    "AWS_REGION (the inference profile must exist in that Region).",
    Kind.GUARDRAIL_REJECTED: "Bedrock refused the configured guardrail. Operator: check BEDROCK_GUARDRAIL_ID and "
    "BEDROCK_GUARDRAIL_VERSION (the guardrail must exist in AWS_REGION); `python -m bot check` tries it.",
    Kind.CREDENTIALS: "The bot has no valid AWS credentials. Operator: check the AWS credentials "
    "(expired session, missing role or keys) of the bot's process.",
    Kind.BAD_REQUEST: "Bedrock rejected the request. Operator: see the bot's log for the reason.",
    Kind.UNKNOWN: "Something went wrong while writing this answer. Operator: see the bot's log.",
}


class ModelError(BotError):
    """A Bedrock call failed. `mid_stream` tells whether text had started arriving on that call."""

    def __init__(self, kind: Kind, code: str, detail: str, *, mid_stream: bool = False) -> None:
        self.kind = kind
        self.code = code
        self.detail = detail
        self.mid_stream = mid_stream
        super().__init__(f"{kind.value}: {code}: {detail}")

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE

    @property
    def note(self) -> str:
        return NOTES[self.kind]


_CODE_KINDS: dict[str, Kind] = {
    "throttlingexception": Kind.THROTTLED,
    "toomanyrequestsexception": Kind.THROTTLED,
    "servicequotaexceededexception": Kind.THROTTLED,
    "internalserverexception": Kind.UNAVAILABLE,
    "serviceunavailableexception": Kind.UNAVAILABLE,
    "modelstreamerrorexception": Kind.UNAVAILABLE,
    "modelnotreadyexception": Kind.UNAVAILABLE,
    "modelerrorexception": Kind.UNAVAILABLE,
    "modeltimeoutexception": Kind.TIMEOUT,
    "accessdeniedexception": Kind.ACCESS_DENIED,
    "resourcenotfoundexception": Kind.MODEL_NOT_FOUND,
    "unrecognizedclientexception": Kind.CREDENTIALS,
    "expiredtokenexception": Kind.CREDENTIALS,
    "invalidsignatureexception": Kind.CREDENTIALS,
    "incompletesignature": Kind.CREDENTIALS,
    "nocredentialserror": Kind.CREDENTIALS,
}


def classify_model_error(code: str, message: str) -> Kind:
    """Map a Bedrock error code (UpperCamel before the stream, lowerCamel inside it) and message to a Kind."""
    key = code.lower()
    text = message.lower()
    if key == "validationexception":
        if "prefill" in text or "must end with a user message" in text:
            return Kind.PREFILL_REJECTED
        if "cach" in text and ("support" in text or "cachepoint" in text):
            return Kind.CACHE_REJECTED
        if "guardrail" in text:
            return Kind.GUARDRAIL_REJECTED
        if "model identifier is invalid" in text or ("model id" in text and "invalid" in text):
            return Kind.MODEL_NOT_FOUND
        if "on-demand throughput isn" in text or "inference profile" in text:
            return Kind.MODEL_NOT_FOUND
        if any(s in text for s in ("too long", "too many tokens", "context window", "context length",
                                   "input length", "prompt is too long")):
            return Kind.CONTEXT_TOO_LONG
        return Kind.BAD_REQUEST
    if key == "accessdeniedexception" and "model" not in text and "token" in text:
        return Kind.CREDENTIALS
    return _CODE_KINDS.get(key, Kind.UNKNOWN)
