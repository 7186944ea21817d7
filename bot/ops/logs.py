"""Logging setup: readable text (the default) or one JSON object per line (`LOG_FORMAT=json`).

Both go through the standard library's `logging`: the JSON form is a `logging.Formatter` that turns each
record into an object (time, level, logger, message, exception) plus the fields a caller attached with
`extra={"fields": {...}, "event": "answer"}` (then `message` is the event's name) — the per-answer line
attaches all of its own, so a log platform can filter on
`outcome` or sum `cost_usd` without parsing the message.

The libraries the bot drives are held back unless `LOG_LEVEL=DEBUG`: slack_sdk's Web API client logs every
failed request at ERROR (the bot classifies and logs each failure itself, by code), slack_bolt warns about
arguments it chose to ignore, and both log request bodies at DEBUG; botocore, boto3 and urllib3 log request
details at DEBUG. Their errors other than the Web API's still show.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any, TextIO

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
HELD_BACK = {"slack_sdk": logging.ERROR, "slack_bolt": logging.ERROR, "slack_sdk.web": logging.CRITICAL,
             "botocore": logging.INFO, "boto3": logging.INFO, "urllib3": logging.INFO}


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
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    logging.captureWarnings(True)  # warnings.warn(...) from libraries become records too (JSON in JSON mode)
    for name, held in HELD_BACK.items():
        logging.getLogger(name).setLevel(logging.NOTSET if level == "DEBUG" else held)
