"""Settings: the one place that reads configuration.

`Settings.from_env(mapping)` is a pure function of a mapping (tests pass a dict); `main()` passes
`os.environ` after python-dotenv has loaded `.env`. Every variable is declared once in `VARIABLES`,
which also feeds the README table and `.env.example` (a test keeps them in step).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.errors import ConfigError
from bot.ops.prices import parse_prices
from bot.state import FORMS as STATE_URL_FORMS
from bot.state import parse_state_url

DEFAULT_MODEL_ID = "us.anthropic.claude-sonnet-4-6"
DEFAULT_SLACK_API_URL = "https://slack.com/api/"


@dataclass(frozen=True)
class Variable:
    """One environment variable: its name, default (None = required or unset), meaning and parser."""

    name: str
    attr: str
    default: str | None
    meaning: str
    parse: Callable[[str, str], Any]
    required: bool = False


def _token(prefix: str, kind: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        if not raw.startswith(prefix) or len(raw) <= len(prefix):
            raise ConfigError(name, f"a Slack {kind} token starting with {prefix}")
        return raw

    return parse


def _text(name: str, raw: str) -> str:
    return raw


def _url(name: str, raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ConfigError(name, "an http(s) URL such as https://slack.com/api/")
    return raw if raw.endswith("/") else raw + "/"


def _int(low: int, high: int | None = None) -> Callable[[str, str], int]:
    def parse(name: str, raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            span = f"between {low} and {high}" if high is not None else f"of at least {low}"
            raise ConfigError(name, f"a whole number {span}")
        return value

    return parse


def _float(low: float, high: float | None = None, *, open_low: bool = False) -> Callable[[str, str], float]:
    def parse(name: str, raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = float("nan")
        too_low = value <= low if open_low else value < low
        if value != value or too_low or (high is not None and value > high):
            bound = f"above {low}" if open_low else f"at least {low}"
            span = f"{bound} and at most {high}" if high is not None else bound
            raise ConfigError(name, f"a number {span}")
        return value

    return parse


def _optional(parse: Callable[[str, str], Any]) -> Callable[[str, str], Any]:
    def wrapped(name: str, raw: str) -> Any:
        return None if raw == "" else parse(name, raw)

    return wrapped


def _state_url(name: str, raw: str) -> str:
    try:
        parse_state_url(raw)
    except ValueError:
        raise ConfigError(name, f"one of {STATE_URL_FORMS}") from None
    return raw


def _key_prefix(name: str, raw: str) -> str:
    if not raw or any(ch.isspace() for ch in raw) or len(raw) > 64:
        raise ConfigError(name, "a short prefix without spaces, such as slackbot:")
    return raw


def _log_level(name: str, raw: str) -> str:
    level = raw.upper()
    if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
        raise ConfigError(name, "one of DEBUG, INFO, WARNING, ERROR")
    return level


def _choice(*options: str) -> Callable[[str, str], str]:
    def parse(name: str, raw: str) -> str:
        value = raw.strip().lower()
        if value not in options:
            raise ConfigError(name, "one of " + ", ".join(options))
        return value

    return parse


def _prices(name: str, raw: str) -> dict[str, dict[str, float]]:
    try:
        return parse_prices(raw)
    except ValueError as error:
        raise ConfigError(name, f"JSON like {{\"model-id\": {{\"input\": 3, \"output\": 15, \"cache_write\": 3.75, "
                                f"\"cache_read\": 0.3}}}} in USD per million tokens ({error})") from None


DEFAULT_PROMPTS: tuple[tuple[str, str], ...] = (
    ("Explain a concept", "Explain how AWS IAM roles differ from IAM users, with an example."),
    ("Review some code", "Review this code and suggest improvements:"),
    ("Summarise a text", "Summarise the following in five bullet points:"),
)


def _prompts(name: str, raw: str) -> tuple[tuple[str, str], ...]:
    """SUGGESTED_PROMPTS: a JSON array of at most 4 {"title": …, "message": …}; empty = the defaults."""
    if not raw:
        return DEFAULT_PROMPTS
    import json

    expected = 'a JSON array of at most 4 {"title": "…", "message": "…"} objects ([] for none)'
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(name, expected) from None
    if not isinstance(value, list) or len(value) > 4 or not all(
            isinstance(p, dict) and isinstance(p.get("title"), str) and isinstance(p.get("message"), str)
            and p["title"].strip() and p["message"].strip() for p in value):
        raise ConfigError(name, expected)
    return tuple((p["title"].strip(), p["message"].strip()) for p in value)


def _bool(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off", ""}:
        return False
    raise ConfigError(name, "true or false")


def _id_list(name: str, raw: str) -> frozenset[str]:
    ids = frozenset(part.strip() for part in raw.split(",") if part.strip())
    bad = sorted(i for i in ids if not i.isalnum() or not i.isupper())
    if bad:
        raise ConfigError(name, f"comma-separated Slack ids such as C0123ABCD (bad: {bad[0]})")
    return ids


VARIABLES: tuple[Variable, ...] = (
    Variable("SLACK_BOT_TOKEN", "slack_bot_token", None, "Bot token (xoxb-…) from OAuth & Permissions.",
             _token("xoxb-", "bot"), required=True),
    Variable("SLACK_APP_TOKEN", "slack_app_token", None,
             "App-level token (xapp-…) with `connections:write`, for Socket Mode.",
             _token("xapp-", "app-level"), required=True),
    Variable("SLACK_API_URL", "slack_api_url", DEFAULT_SLACK_API_URL,
             "Slack Web API base URL. The bot's WebClient and so the Socket Mode connection use it "
             "(tests point it at the fake Slack).", _url),
    Variable("BEDROCK_MODEL_ID", "bedrock_model_id", DEFAULT_MODEL_ID,
             "Bedrock model or inference-profile id (Claude Sonnet 4.6 through the US cross-region profile).",
             _text),
    Variable("AWS_REGION", "aws_region", "",
             "AWS Region for Bedrock (unset = boto3's chain: AWS_DEFAULT_REGION, then the profile's region). "
             "Credentials always come from boto3's standard chain.", _text),
    Variable("BEDROCK_MAX_TOKENS", "bedrock_max_tokens", "4096",
             "`maxTokens` per Bedrock call; longer answers continue in further calls.", _int(1, 128000)),
    Variable("BEDROCK_TEMPERATURE", "bedrock_temperature", "",
             "Sampling temperature 0–1 (unset = model default). Newer Claude models reject temperature "
             "and top-p together: set at most one.", _optional(_float(0.0, 1.0))),
    Variable("BEDROCK_TOP_P", "bedrock_top_p", "", "Nucleus sampling 0–1 (unset = model default).",
             _optional(_float(0.0, 1.0))),
    Variable("SYSTEM_PROMPT", "system_prompt", "",
             "Extra instructions for the model, added to the built-in system prompt.", _text),
    Variable("MAX_CONTINUATIONS", "max_continuations", "5",
             "How many times an answer that stopped on `max_tokens` is continued.", _int(0, 50)),
    Variable("UPDATE_INTERVAL_SECONDS", "update_interval_seconds", "1.0",
             "Least time between two interim edits of one reply.", _float(0.0, 60.0, open_low=True)),
    Variable("LOG_LEVEL", "log_level", "INFO",
             "DEBUG, INFO, WARNING or ERROR. DEBUG logs message content and request details.", _log_level),
    Variable("BEDROCK_READ_TIMEOUT_SECONDS", "bedrock_read_timeout_seconds", "120",
             "botocore read timeout: the longest silence allowed between two pieces of a stream.",
             _float(1.0, 3600.0)),
    Variable("BEDROCK_MAX_ATTEMPTS", "bedrock_max_attempts", "4",
             "Attempts per Bedrock call when it is throttled or fails with a 5xx before streaming "
             "(jittered exponential backoff, done by the bot so the reply can say it is waiting).",
             _int(1, 10)),
    Variable("BEDROCK_STREAM_RETRIES", "bedrock_stream_retries", "3",
             "How often an answer whose stream broke mid-way is resumed from the text already shown.",
             _int(0, 10)),
    Variable("MAX_CONCURRENT_ANSWERS", "max_concurrent_answers", "32",
             "Answers streamed at once (worker pool size).", _int(1, 1000)),
    Variable("MAX_QUEUED_ANSWERS", "max_queued_answers", "100",
             "Answers waiting for a worker; beyond this the user is asked to retry.", _int(0, 100000)),
    Variable("SLACK_EDITS_PER_MINUTE", "slack_edits_per_minute", "50",
             "Workspace budget for chat.update (Slack Tier 3), shared by all answers.",
             _float(1.0, 10000.0)),
    Variable("SLACK_EDIT_BURST", "slack_edit_burst", "20", "Burst allowance of that budget.", _int(1, 1000)),
    Variable("SLACK_POSTS_PER_SECOND_PER_CHANNEL", "slack_posts_per_second", "1.0",
             "Budget for chat.postMessage per channel (placeholders and continuation messages).",
             _float(0.01, 100.0)),
    Variable("SLACK_POST_BURST", "slack_post_burst", "5", "Burst allowance of that budget.", _int(1, 100)),
    Variable("SLACK_READS_PER_MINUTE", "slack_reads_per_minute", "50",
             "Workspace budget for conversations.replies and users.info (Slack Tier 3), shared by all processes.",
             _float(1.0, 10000.0)),
    Variable("SLACK_READ_BURST", "slack_read_burst", "20", "Burst allowance of that budget.", _int(1, 1000)),
    Variable("SLACK_TIMEOUT_SECONDS", "slack_timeout_seconds", "15",
             "HTTP timeout of one Slack Web API call that posts or reads (edits use at most 5 s: an edit is cheap "
             "to redo with newer text); a call that timed out is retried.", _float(0.1, 300.0)),
    Variable("SHUTDOWN_GRACE_SECONDS", "shutdown_grace_seconds", "20",
             "On SIGTERM: how long answers in flight may finish; the rest are paused with a note and resumed by "
             "the next start (or closed with a note under `memory://`). Keep the platform's grace period above it.",
             _float(0.0, 600.0)),
    Variable("SLACK_RETRY_SECONDS", "slack_retry_seconds", "600",
             "How long a Slack write that keeps failing (5xx, timeouts, resets) is retried before the final text "
             "is posted as a new message, and then the answer given up (`undelivered`).", _float(1.0, 86400.0)),
    Variable("STATE_URL", "state_url", "",
             "Where the bot keeps its journal and dedupe state: unset = `sqlite:///bot-state.db` in the working "
             "directory; `sqlite:///relative/path.db` or `sqlite:////absolute/path.db`; `memory://` (nothing "
             "kept: no resume after a restart).", _state_url),
    Variable("LEASE_SECONDS", "lease_seconds", "15",
             "A process holds each job it answers for this long and renews it every third of it; when a process "
             "dies, another takes its jobs over once their leases expire.", _float(1.0, 600.0)),
    Variable("KEY_PREFIX", "key_prefix", "slackbot:",
             "Prefix of every key the bot writes to Redis (several bots can share one Redis with different "
             "prefixes).", _key_prefix),
    Variable("RESUME_MAX_AGE_SECONDS", "resume_max_age_seconds", "900",
             "At startup, answers interrupted by a crash or restart are resumed; older ones are closed with a note.",
             _float(0.0, 86400.0)),
    Variable("CONTEXT_BUDGET_TOKENS", "context_budget_tokens", "150000",
             "Estimated input tokens of thread history sent to the model; older turns are dropped first.",
             _int(1000, 2000000)),
    Variable("ALLOWED_CHANNEL_IDS", "allowed_channel_ids", "",
             "Comma-separated channel ids where the bot answers (empty = every channel it is in).", _id_list),
    Variable("ALLOWED_USER_IDS", "allowed_user_ids", "",
             "Comma-separated user ids the bot answers (empty = everyone).", _id_list),
    Variable("ALLOW_EXTERNAL_USERS", "allow_external_users", "false",
             "Answer people from other organisations in Slack Connect channels.", _bool),
    Variable("USER_RATE_LIMIT_PER_MINUTE", "user_rate_limit_per_minute", "0",
             "Questions one person may ask per minute (0 = no limit).", _int(0, 10000)),
    Variable("MAX_ANSWER_OUTPUT_TOKENS", "max_answer_output_tokens", "32000",
             "Cap on output tokens of one answer across all its continuations.", _int(1, 10000000)),
    Variable("LOG_FORMAT", "log_format", "text",
             "`text` (one readable line per record) or `json` (one JSON object per line, the per-answer line's "
             "fields as fields: for CloudWatch, Loki, Datadog).", _choice("text", "json")),
    Variable("METRICS_PORT", "metrics_port", "",
             "Port of the health and metrics server (`/healthz`, `/readyz`, `/metrics`); unset = no server.",
             _optional(_int(1, 65535))),
    Variable("METRICS_HOST", "metrics_host", "127.0.0.1",
             "Address that server listens on (`0.0.0.0` in a container whose platform probes it).", _text),
    Variable("BEDROCK_PRICES", "bedrock_prices", "",
             "JSON price table in USD per million tokens by model id, overriding or extending the built-in one "
             "used for the estimated cost (`cost_usd`).", _optional(_prices)),
    Variable("BEDROCK_GUARDRAIL_ID", "bedrock_guardrail_id", "",
             "A Bedrock guardrail's id or ARN, applied to every model call (unset = none).", _text),
    Variable("BEDROCK_GUARDRAIL_VERSION", "bedrock_guardrail_version", "",
             "That guardrail's version: a number or `DRAFT` (required with `BEDROCK_GUARDRAIL_ID`).", _text),
    Variable("BEDROCK_GUARDRAIL_STREAM_MODE", "bedrock_guardrail_stream_mode", "sync",
             "`sync` (text is checked before it is shown) or `async` (shown at once, checked alongside: faster, "
             "but a reply may show text the guardrail then stops).", _choice("sync", "async")),
    Variable("IMAGE_MAX_EDGE", "image_max_edge", "1568",
             "Longest side, in pixels, of an image sent to the model; larger ones are scaled down (Claude gains "
             "nothing above 1,568 px, and pays for every pixel).", _int(200, 8000)),
    Variable("FILE_DOWNLOAD_MAX_MB", "file_download_max_mb", "40",
             "Largest shared file (in MB) the bot downloads; images are scaled down after, documents must still "
             "be within Bedrock's 4.5 MB.", _int(1, 1000)),
    Variable("FILE_DOWNLOAD_TIMEOUT_SECONDS", "file_download_timeout_seconds", "30",
             "Longest time one file's download may take (a stalled or slow one is left out with a note).",
             _float(1.0, 600.0)),
    Variable("STREAMING_MODE", "streaming_mode", "auto",
             "How answers reach Slack: `edit` (a placeholder edited with chat.update), `native` (Slack's streams: "
             "chat.startStream/appendStream/stopStream, the edit route where Slack refuses them) or `auto` (native "
             "while the stream budget has room, edit otherwise).", _choice("edit", "native", "auto")),
    Variable("SLACK_STREAMS_PER_MINUTE", "slack_streams_per_minute", "20",
             "Workspace budget for chat.startStream, and the same again for chat.stopStream (Slack Tier 2).",
             _float(1.0, 10000.0)),
    Variable("SLACK_STREAM_BURST", "slack_stream_burst", "5", "Burst allowance of those budgets.", _int(1, 1000)),
    Variable("SLACK_APPENDS_PER_MINUTE", "slack_appends_per_minute", "100",
             "Workspace budget for chat.appendStream (Slack Tier 4), shared by all streamed answers.",
             _float(1.0, 10000.0)),
    Variable("SLACK_APPEND_BURST", "slack_append_burst", "20", "Burst allowance of that budget.", _int(1, 1000)),
    Variable("SUGGESTED_PROMPTS", "suggested_prompts", "",
             "Prompts offered when someone opens the app's Messages tab: a JSON array of at most 4 "
             "`{\"title\": …, \"message\": …}` (unset = three general ones; `[]` = none).", _prompts),
)


@dataclass(frozen=True)
class Settings:
    """Validated configuration. Build it with `Settings.from_env`; tests may also construct it directly."""

    slack_bot_token: str
    slack_app_token: str
    slack_api_url: str = DEFAULT_SLACK_API_URL
    bedrock_model_id: str = DEFAULT_MODEL_ID
    aws_region: str = ""
    bedrock_max_tokens: int = 4096
    bedrock_temperature: float | None = None
    bedrock_top_p: float | None = None
    system_prompt: str = ""
    max_continuations: int = 5
    update_interval_seconds: float = 1.0
    log_level: str = "INFO"
    bedrock_read_timeout_seconds: float = 120.0
    bedrock_max_attempts: int = 4
    bedrock_stream_retries: int = 3
    max_concurrent_answers: int = 32
    max_queued_answers: int = 100
    slack_edits_per_minute: float = 50.0
    slack_edit_burst: int = 20
    slack_posts_per_second: float = 1.0
    slack_post_burst: int = 5
    slack_timeout_seconds: float = 15.0
    shutdown_grace_seconds: float = 20.0
    slack_retry_seconds: float = 600.0
    state_url: str = ""
    key_prefix: str = "slackbot:"
    lease_seconds: float = 15.0
    slack_reads_per_minute: float = 50.0
    slack_read_burst: int = 20
    resume_max_age_seconds: float = 900.0
    context_budget_tokens: int = 150000
    allowed_channel_ids: frozenset[str] = field(default_factory=frozenset)
    allowed_user_ids: frozenset[str] = field(default_factory=frozenset)
    allow_external_users: bool = False
    user_rate_limit_per_minute: int = 0
    max_answer_output_tokens: int = 32000
    log_format: str = "text"
    metrics_port: int | None = None
    metrics_host: str = "127.0.0.1"
    bedrock_prices: dict[str, dict[str, float]] | None = None
    bedrock_guardrail_id: str = ""
    bedrock_guardrail_version: str = ""
    bedrock_guardrail_stream_mode: str = "sync"
    image_max_edge: int = 1568
    file_download_max_mb: int = 40
    file_download_timeout_seconds: float = 30.0
    streaming_mode: str = "auto"
    slack_streams_per_minute: float = 20.0
    slack_stream_burst: int = 5
    slack_appends_per_minute: float = 100.0
    slack_append_burst: int = 20
    suggested_prompts: tuple[tuple[str, str], ...] = DEFAULT_PROMPTS

    @classmethod
    def from_env(cls, env: Mapping[str, str], *, optional: frozenset[str] = frozenset()) -> Settings:
        """Parse every variable; raise `ConfigError` naming the first missing or malformed one. Variables named
        in `optional` may be missing even if required (`python -m bot ask` needs no Slack tokens)."""
        values: dict[str, Any] = {}
        for var in VARIABLES:
            raw = env.get(var.name)
            raw = raw.strip() if raw is not None else None
            if not raw:
                if var.required and var.name in optional:
                    values[var.attr] = ""
                    continue
                if var.required:
                    try:
                        var.parse(var.name, "")
                    except ConfigError as error:
                        raise ConfigError(var.name, error.expected, missing=True) from None
                raw = var.default or ""
            values[var.attr] = var.parse(var.name, raw)
        if values["bedrock_guardrail_id"] and not values["bedrock_guardrail_version"]:
            raise ConfigError("BEDROCK_GUARDRAIL_VERSION", "a guardrail version (a number or DRAFT) when "
                              "BEDROCK_GUARDRAIL_ID is set", missing=True)
        if values["bedrock_guardrail_version"] and not values["bedrock_guardrail_id"]:
            raise ConfigError("BEDROCK_GUARDRAIL_ID", "the guardrail's id or ARN when BEDROCK_GUARDRAIL_VERSION is "
                              "set", missing=True)
        return cls(**values)
