"""Probe: what reading files costs (python -m tests.files_probe).

Runs the real bot in this process against the fake Slack and the fake Bedrock (both on 127.0.0.1) and prints:

1. a 12 MB, 4,000 × 3,000 JPEG screenshot: bytes downloaded and sent, estimated tokens, time to the first text
   (and, apart, how long the download and the resize take);
2. a 40-page PDF: the same;
3. a thread with 25 images: what was sent and what was left out, and a follow-up's time;
4. the Bedrock request sizes of a question with a PDF and its follow-up, with cache reads and without (a model
   that takes no cache points), and the tokens each was billed as.

Times are this machine's, over loopback: a real download from Slack adds the network's time.
"""

from __future__ import annotations

import base64
import json
import logging
import os
import time
from typing import Any

from bot.app import create_bot
from bot.config import Settings
from bot.conversation.attachments import Rules, download_cap
from bot.conversation.documents import document_tokens
from bot.conversation.images import image_size, image_tokens, prepare
from tests.conftest import AWS_ENV, MODEL, bot_env
from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Request, Stream
from tests.fakes.slack import FakeSlack
from tests.files_support import jpeg_of_size, pdf, picture

ANSWER = ["Here ", "is ", "what ", "I ", "see."]


class Lines(logging.Handler):
    """Collects the bot's one-line answer logs."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.answers: list[dict[str, Any]] = []

    def emit(self, record: logging.LogRecord) -> None:
        message = record.getMessage()
        if message.startswith("answer {"):
            self.answers.append(json.loads(message[len("answer "):]))


def ask(slack: FakeSlack, lines: Lines, text: str, files: list[dict[str, Any]],
        thread_ts: str | None = None) -> tuple[str, dict[str, Any]]:
    count = len(lines.answers)
    ts = slack.user_says("C1", "U1", text, files=files, thread_ts=thread_ts)
    final_state(slack, "C1", thread_ts or ts, reply_to=ts, timeout=60)
    deadline = time.monotonic() + 10
    while len(lines.answers) <= count and time.monotonic() < deadline:
        time.sleep(0.01)
    return ts, lines.answers[-1]


def blocks(request: Request, kind: str) -> list[dict[str, Any]]:
    return [b[kind] for m in request.messages for b in m["content"] if kind in b]


def mb(n: float) -> str:
    return f"{n / 1_000_000:.2f} MB"


def screenshot(slack: FakeSlack, bedrock: FakeBedrock, lines: Lines, fetcher: Any) -> None:
    data = jpeg_of_size(4000, 3000, 12_000_000)
    _ts, plain = ask(slack, lines, "<@UBOT> hello", [])
    file = slack.upload_file("U1", "Screenshot.jpg", data, channel="C1")
    _ts, line = ask(slack, lines, "<@UBOT> what is this error?", [file])
    (image,) = blocks(bedrock.calls[-1], "image")
    sent = base64.b64decode(image["source"]["bytes"])
    width, height = image_size(sent)
    started = time.monotonic()
    fetched = fetcher.fetch(file, download_cap(Rules(team_id="T0TEAM", channel="C1")))
    downloaded = time.monotonic()
    prepare(fetched.data, "jpeg", max_edge=1568)
    resized = time.monotonic()
    print("1. A 12 MB, 4,000 x 3,000 JPEG screenshot")
    print(f"   downloaded {mb(len(data))}; sent a {width} x {height} {image['format'].upper()} of {mb(len(sent))}, "
          f"about {image_tokens(width, height):,} tokens (width x height / 750)")
    print(f"   Bedrock request body: {mb(bedrock.calls[-1].size)}")
    print(f"   time to first text: {line['t_first_text']:.2f} s (the same question without a file: "
          f"{plain['t_first_text']:.2f} s); of it, download {downloaded - started:.2f} s and resize "
          f"{resized - downloaded:.2f} s")


def forty_pages(slack: FakeSlack, bedrock: FakeBedrock, lines: Lines) -> tuple[str, dict[str, Any]]:
    data = pdf(40, words=420)
    file = slack.upload_file("U1", "Annual report 2026.pdf", data, channel="C1")
    ts, line = ask(slack, lines, "<@UBOT> summarise this report", [file])
    (document,) = blocks(bedrock.calls[-1], "document")
    print("2. A 40-page PDF")
    print(f"   downloaded and sent {mb(len(data))} as the document \"{document['name']}\"; estimated "
          f"{document_tokens('pdf', data):,} tokens (40 pages x 1,500); time to first text "
          f"{line['t_first_text']:.2f} s")
    return ts, line


def many_images(slack: FakeSlack, bedrock: FakeBedrock, lines: Lines) -> None:
    root = slack.user_says("C1", "U2", "photos from the offsite")
    for batch in range(5):
        files = [slack.upload_file("U2", f"photo{batch}{i}.jpg", picture(2400, 1800, "JPEG", seed=batch * 5 + i),
                                   channel="C1") for i in range(5)]
        slack.user_says("C1", "U2", f"batch {batch}", files=files, thread_ts=root)
    _ts, line = ask(slack, lines, "<@UBOT> which one is blurry?", [], thread_ts=root)
    images = [base64.b64decode(b["source"]["bytes"]) for b in blocks(bedrock.calls[-1], "image")]
    sizes = [image_size(i) for i in images]
    reply = "".join(m["text"] for m in final_state(slack, "C1", root, timeout=30))
    print("3. A thread with 25 images (2,400 x 1,800 JPEGs, five messages of five)")
    print(f"   sent {len(images)} images of {sizes[0][0]} x {sizes[0][1]}, {mb(sum(map(len, images)))} in all, about "
          f"{sum(image_tokens(w, h) for w, h in sizes):,} tokens; request body {mb(bedrock.calls[-1].size)}; "
          f"time to first text {line['t_first_text']:.2f} s")
    print(f"   left out ({line['files_left_out']}), as the reply says: {reply.split(':warning: ')[-1]}")
    downloads = len(slack.downloads)
    _ts, again = ask(slack, lines, "<@UBOT> and the sharpest?", [], thread_ts=root)
    print(f"   a follow-up in that thread: time to first text {again['t_first_text']:.2f} s, "
          f"{len(slack.downloads) - downloads} downloads (the prepared images are kept in memory)")


def follow_up_sizes(slack: FakeSlack, bedrock: FakeBedrock, lines: Lines, label: str, seed: int) -> None:
    data = pdf(40, words=420, seed=seed)  # a PDF the fake model has not cached yet
    file = slack.upload_file("U1", f"Board minutes {seed}.pdf", data, channel="C1")
    first_call = len(bedrock.calls)
    ts, first = ask(slack, lines, "<@UBOT> what was decided?", [file])
    _ts, follow = ask(slack, lines, "and what about the risks?", [], thread_ts=ts)
    calls = bedrock.calls[first_call:]
    print(f"   {label}:")
    for name, call, line in (("question", calls[0], first), ("follow-up", calls[-1], follow)):
        print(f"     {name:9s} request body {mb(call.size)}; tokens billed: input {line['input_tokens']:,}, "
              f"cache read {line['cache_read_tokens']:,}, cache write {line['cache_write_tokens']:,}")


def main() -> None:
    slack = FakeSlack().start()
    bedrock = FakeBedrock().start()
    bedrock.set_default_model()
    bedrock.set_fallback(lambda request: Stream(list(ANSWER)))
    os.environ.update({**AWS_ENV, "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": bedrock.url})
    lines = Lines()
    logging.getLogger("bot").addHandler(lines)
    logging.getLogger("bot").setLevel(logging.INFO)
    settings = Settings.from_env(bot_env(slack, STATE_URL="memory://"))
    bot = create_bot(settings)
    bot.connect()
    slack.wait_for(lambda s: s.open_connections >= 1, timeout=10)
    try:
        screenshot(slack, bedrock, lines, bot.responder._files)
        forty_pages(slack, bedrock, lines)
        many_images(slack, bedrock, lines)
        print("4. Bedrock request sizes for a question with the 40-page PDF and its follow-up")
        follow_up_sizes(slack, bedrock, lines, "with cache points (the follow-up reads the PDF from the cache)", 7)
        bedrock.add_model(MODEL, supports_cache=False)  # the bot learns it once and sends no cache points after
        follow_up_sizes(slack, bedrock, lines, "without cache reads (a model that takes no cache points)", 8)
    finally:
        bot.close(grace=2.0)
        slack.stop()
        bedrock.stop()


if __name__ == "__main__":
    main()
