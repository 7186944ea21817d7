"""Logging setup: readable text (the default) or one JSON object per line (`LOG_FORMAT=json`).

Both go through the standard library's `logging`: the JSON form is a `logging.Formatter` that turns each
record into an object (time, level, logger, message, exception) plus the fields a caller attached with
`extra={"fields": {...}, "event": "answer"}` (then `message` is the event's name) — the per-answer line
attaches all of its own, so a log platform can filter on
`outcome` or sum `cost_usd` without parsing the message.

The libraries the bot drives are held back unless `LOG_LEVEL=DEBUG`: slack_sdk's Web API client logs every
failed request at ERROR (the bot classifies and logs each failure itself, by code), slack_bolt warns about
arguments it chose to ignore and narrates each Socket Mode reconnect at INFO, websocket-client repeats the
errors slack_sdk reports, and all of them log request bodies at DEBUG; botocore, boto3 and urllib3 log
request details at DEBUG. Their other errors still show. Bolt sets its loggers' levels itself (to the root
logger's), so they are held back by a filter on the handler, not by logger levels.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HELD_BACK = {"slack_sdk": logging.ERROR, "slack_bolt": logging.ERROR, "slack_sdk.web": logging.CRITICAL,
             "websocket": logging.CRITICAL, "botocore": logging.INFO, "boto3": logging.INFO, "urllib3": logging.INFO}


class HoldBack(logging.Filter):
    """Lets a record of a held-back library through only at or above its level (`HELD_BACK`; the longest
    matching logger name wins)."""

    def filter(self, record: logging.LogRecord) -> bool:
        name = record.name
        best = ""
        for prefix in HELD_BACK:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > len(best):
                best = prefix
        return not best or record.levelno >= HELD_BACK[best]


class JsonFormatter(logging.Formatter):
    """One JSON object per record: `time`, `level`, `logger`, `message`, `exc_info` (if any) and the record's
    `fields` (a dict passed as `extra={"fields": …}`), each field as a key of its own."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        fields = getattr(record, "fields", None)
        if isinstance(fields, dict):
            # a record that carries its fields names its event instead of repeating them as text
            entry["message"] = str(getattr(record, "event", "") or entry["message"])
            for key, value in fields.items():
                entry.setdefault(str(key), value)
        if record.exc_info:
            entry["exc_info"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack_info"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str, fmt: str = "text", stream: TextIO | None = None) -> None:
    """Send every record at `level` and above to `stream` (stderr) as text or JSON, replacing earlier handlers."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else logging.Formatter(TEXT_FORMAT))
    if level != "DEBUG":
        handler.addFilter(HoldBack())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings.warn(...) from libraries become records too (JSON in JSON mode)
