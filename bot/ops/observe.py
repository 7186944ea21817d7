"""Wrappers that report every Slack and Bedrock call to a `Recorder`, built by the composition root.

`ObservedWebClient` is slack_sdk's `WebClient` with `api_call` (which every method, including `chat_update`,
goes through) reporting the method and how it ended; `ObservedBedrock` wraps the boto3 client's
`converse_stream`. Neither changes what the call does or raises.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.model.bedrock import ConverseStreamClient
from bot.ops.recorder import Recorder


class ObservedWebClient(WebClient):
    """A WebClient that tells `recorder` about each call: ok, ratelimited (429), error (ok: false), network."""

    def __init__(self, *args: Any, recorder: Recorder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._recorder = recorder

    def api_call(self, api_method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            response = super().api_call(api_method, *args, **kwargs)
        except SlackApiError as exc:
            status = getattr(exc.response, "status_code", 200)
            self._recorder.slack_call(api_method, "ratelimited" if status == 429 else "error")
            raise
        except Exception:
            self._recorder.slack_call(api_method, "network")
            raise
        self._recorder.slack_call(api_method, "ok")
        return response


class ObservedBedrock:
    """A Bedrock runtime client whose `converse_stream` calls are reported (`ok` or the error's code)."""

    def __init__(self, client: ConverseStreamClient, recorder: Recorder) -> None:
        self._client = client
        self._recorder = recorder

    def converse_stream(self, **kwargs: Any) -> Mapping[str, Any]:
        try:
            response = self._client.converse_stream(**kwargs)
        except Exception as exc:
            error = getattr(exc, "response", None)
            code = (error.get("Error") or {}).get("Code") if isinstance(error, dict) else None
            self._recorder.bedrock_call("ConverseStream", str(code or type(exc).__name__))
            raise
        self._recorder.bedrock_call("ConverseStream", "ok")
        return response
