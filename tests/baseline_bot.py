"""The edit-on-every-delta approach of the articles this product started from — a benchmark baseline only.

A Bolt Socket Mode app that posts a placeholder and then calls `chat.update` with the accumulated text on
every delta, ignoring failed edits (as naive bots do), and sends the final text once. Never a user option:
`python -m tests.bench` runs it next to the real bot to show what the shared scheduler buys.
"""

from __future__ import annotations

import contextlib
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
from slack_bolt import App
from slack_bolt.adapter.socket_mode.websocket_client import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError


def main() -> None:
    client = WebClient(token=os.environ["SLACK_BOT_TOKEN"], base_url=os.environ["SLACK_API_URL"])
    app = App(client=client, token_verification_enabled=False,
              listener_executor=ThreadPoolExecutor(max_workers=200))
    bedrock = boto3.client("bedrock-runtime", region_name=os.environ["AWS_REGION"])

    @app.event("app_mention")
    def on_mention(event: dict[str, Any]) -> None:
        channel, ts = event["channel"], event["ts"]
        placeholder = client.chat_postMessage(channel=channel, thread_ts=ts, text="Thinking…")
        question = event["text"].replace("<@UBOT>", "").strip()
        response = bedrock.converse_stream(modelId=os.environ["BEDROCK_MODEL_ID"],
                                           messages=[{"role": "user", "content": [{"text": question}]}])
        text = ""
        for item in response["stream"]:
            delta = item.get("contentBlockDelta", {}).get("delta", {}).get("text")
            if delta:
                text += delta
                with contextlib.suppress(SlackApiError):
                    client.chat_update(channel=channel, ts=placeholder["ts"], text=text)
        client.chat_update(channel=channel, ts=placeholder["ts"], text=text)

    @app.event("message")
    def ignore(event: dict[str, Any]) -> None:
        return None

    SocketModeHandler(app, os.environ["SLACK_APP_TOKEN"]).connect()
    threading.Event().wait()


if __name__ == "__main__":
    main()
