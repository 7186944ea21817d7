"""The hooks the running bot reports through: one small interface, a no-op default, passed in by `bot.app`.

`Recorder.answer` gets each answer's log fields (the per-answer line: trigger, outcome, timings, tokens, cost,
Slack counters); `slack_call` each Slack Web API call by method and result; `bedrock_call` each Bedrock call by
operation and result (`ok` or the error code before the stream started). `bot.ops.metrics.Metrics` turns them
into Prometheus metrics; nothing else in the bot knows Prometheus exists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol


class Recorder(Protocol):
    def answer(self, fields: Mapping[str, Any]) -> None:
        """An answer ended; `fields` are its log line's fields."""

    def slack_call(self, method: str, result: str) -> None:
        """A Slack Web API call ended: `result` is ok, ratelimited, error (Slack said ok: false) or network."""

    def bedrock_call(self, operation: str, result: str) -> None:
        """A Bedrock call was opened (`ok`) or refused before it streamed (its error code)."""


class NullRecorder:
    """Records nothing: the default when no metrics are wanted."""

    def answer(self, fields: Mapping[str, Any]) -> None:
        pass

    def slack_call(self, method: str, result: str) -> None:
        pass

    def bedrock_call(self, operation: str, result: str) -> None:
        pass
