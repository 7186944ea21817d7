"""FileFetcher over real HTTP against the fake Slack's file host (and a second server standing for any other
host): where the token goes, redirects, the sign-in page, stalls, cuts, sizes, Slack Connect stubs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from slack_sdk import WebClient

from bot.conversation.attachments import Fetched, Rules, Unavailable, download_cap
from bot.slack.files import FileFetcher
from bot.slack.reader import SlackReader
from tests.fakes.slack import BOT_TOKEN, FakeSlack
from tests.files_support import EXE, padded_pdf, picture

CAP = download_cap(Rules(team_id="T0TEAM", channel="C1", download_max_bytes=10_000_000))


class Elsewhere:
    """Another host (another port is another origin): records what reaches it."""

    def __init__(self) -> None:
        self.seen: list[dict[str, str]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                outer.seen.append(dict(self.headers.items()))
                body = b"<html>elsewhere</html>"
                self.send_response(200)
                self.send_header("Content-Type", "text/html")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"


@pytest.fixture(scope="module")
def elsewhere() -> Iterator[Elsewhere]:
    server = Elsewhere()
    yield server
    server.server.shutdown()


@pytest.fixture
def fake(slack: FakeSlack) -> FakeSlack:
    slack.reset()
    return slack


def fetcher(slack: FakeSlack, *, timeout: float = 5.0, max_bytes: int = 10_000_000) -> FileFetcher:
    reader = SlackReader(WebClient(token=BOT_TOKEN, base_url=slack.api_url, retry_handlers=[]),
                         backoff=lambda n: 0.01)
    return FileFetcher(token=BOT_TOKEN, api_url=slack.api_url, timeout=timeout, max_bytes=max_bytes,
                       file_info=reader.file_info)


def test_a_file_is_downloaded_with_the_bot_token(fake: FakeSlack) -> None:
    data = picture(300, 200)
    file = fake.upload_file("U1", "screen shot.png", data, channel="C1")
    result = fetcher(fake).fetch(file, CAP)
    assert isinstance(result, Fetched) and result.data == data
    (download,) = fake.wait_for(lambda f: f.downloads)
    assert (download.token, download.status, download.sent) == (BOT_TOKEN, 200, len(data))


def test_several_files_come_back_in_order(fake: FakeSlack) -> None:
    files = [fake.upload_file("U1", f"{i}.png", picture(20 + i, 20), channel="C1") for i in range(6)]
    results = fetcher(fake).fetch_all(files, CAP)
    assert [r.file["id"] for r in results if isinstance(r, Fetched)] == [f["id"] for f in files]


@pytest.mark.parametrize("where", ["https://files.evil.example/x.png", "http://files.slack.com/x.png",
                                   "{elsewhere}/files-pri/T0TEAM-F1/download/x.png"])
def test_the_token_is_never_sent_to_another_host(fake: FakeSlack, elsewhere: Elsewhere, where: str) -> None:
    file = {**fake.upload_file("U1", "x.png", picture(10, 10), channel="C1"),
            "url_private_download": where.format(elsewhere=elsewhere.url)}
    result = fetcher(fake).fetch(file, CAP)
    assert result == Unavailable("it is stored outside Slack's file host, so the bot does not fetch it")
    assert elsewhere.seen == [] and fake.downloads == []


def test_a_redirect_to_another_host_is_not_followed(fake: FakeSlack, elsewhere: Elsewhere) -> None:
    file = fake.upload_file("U1", "x.png", picture(10, 10), channel="C1")
    fake.redirect_download(file["id"], f"{elsewhere.url}/signin")
    assert fetcher(fake).fetch(file, CAP) == Unavailable(
        "Slack sent its sign-in page instead of the file (operator: add the files:read scope to the Slack app and "
        "reinstall it)")
    assert elsewhere.seen == []


def test_a_redirect_within_slacks_host_is_followed_with_the_token(fake: FakeSlack) -> None:
    target = fake.upload_file("U1", "real.png", picture(10, 10), channel="C1")
    moved = fake.upload_file("U1", "moved.png", b"", channel="C1")
    fake.redirect_download(moved["id"], target["url_private_download"].removeprefix(fake.api_url[:-5]))  # relative
    result = fetcher(fake).fetch(moved, CAP)
    assert isinstance(result, Fetched) and result.data == picture(10, 10)
    downloads = fake.wait_for(lambda f: len(f.downloads) == 2 and f.downloads)
    assert [(d.file_id, d.token, d.status) for d in downloads] == [(moved["id"], BOT_TOKEN, 302),
                                                                    (target["id"], BOT_TOKEN, 200)]


def test_the_sign_in_page_says_to_add_files_read_and_is_logged_once(fake: FakeSlack,
                                                                     caplog: pytest.LogCaptureFixture) -> None:
    files = [fake.upload_file("U1", f"{i}.png", picture(10, 10), channel="C1") for i in range(2)]
    fake.set_file_scope(False)
    caplog.set_level(logging.INFO, logger="bot")
    results = fetcher(fake).fetch_all(files, CAP)
    assert results == [Unavailable("Slack sent its sign-in page instead of the file (operator: add the files:read "
                                   "scope to the Slack app and reinstall it)")] * 2
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "files:read" in warnings[0].getMessage()
    assert all(BOT_TOKEN not in r.getMessage() and ".png" not in r.getMessage() for r in caplog.records)


def test_a_stalled_download_is_given_up(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "big.png", picture(400, 400, noise=True), channel="C1")
    fake.stall_download(file["id"], after=10_000, seconds=10.0)
    started = time.monotonic()
    result = fetcher(fake, timeout=1.0).fetch(file, CAP)
    assert result == Unavailable("the download stalled (FILE_DOWNLOAD_TIMEOUT_SECONDS)")
    assert time.monotonic() - started < 3.0


def test_a_download_cut_short_is_left_out(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "big.png", picture(400, 400, noise=True), channel="C1")
    fake.cut_download(file["id"], after=20_000)
    assert fetcher(fake).fetch(file, CAP) == Unavailable("the download broke off")


def test_sizes_are_checked_before_and_while_reading(fake: FakeSlack) -> None:
    big = fake.upload_file("U1", "big.png", picture(400, 400, noise=True), channel="C1")
    assert fetcher(fake, max_bytes=100_000).fetch(big, CAP) == Unavailable(
        "0.5 MB is more than this bot downloads (FILE_DOWNLOAD_MAX_MB)")
    assert fake.downloads == []  # not even asked
    scan = fake.upload_file("U1", "scan.pdf", padded_pdf(6_000_000), channel="C1")
    started = time.monotonic()
    assert fetcher(fake).fetch(scan, CAP) == Unavailable("6.0 MB; Bedrock takes documents of at most 4.5 MB")
    assert time.monotonic() - started < 2.0
    undeclared = {**scan, "size": None}
    assert fetcher(fake).fetch(undeclared, CAP) == Unavailable("6.0 MB; Bedrock takes documents of at most 4.5 MB")


def test_a_program_is_not_read_past_its_first_bytes(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "setup.exe", EXE * 100, channel="C1")
    assert fetcher(fake).fetch(file, CAP) == Unavailable("a Windows program, which the model cannot read")


def test_an_html_file_that_was_shared_as_html_is_read(fake: FakeSlack) -> None:
    page = b"<!DOCTYPE html><html><body>status page</body></html>"
    file = fake.upload_file("U1", "status.html", page, channel="C1")
    result = fetcher(fake).fetch(file, CAP)
    assert isinstance(result, Fetched) and result.data == page


def test_a_slack_connect_stub_is_filled_in_by_files_info(fake: FakeSlack) -> None:
    data = picture(30, 30)
    file = fake.upload_file("U1", "theirs.png", data, channel="C1")
    result = fetcher(fake).fetch(FakeSlack.file_stub(file), CAP)
    assert isinstance(result, Fetched) and result.data == data and result.file["name"] == "theirs.png"
    assert [c.params.get("file") for c in fake.calls_for("files.info")] == [file["id"]]
    assert fetcher(fake).fetch({"id": "F404", "file_access": "check_file_info"}, CAP) == Unavailable(
        "Slack no longer has this file")
    fake.set_file_scope(False)
    assert fetcher(fake).fetch(FakeSlack.file_stub(file), CAP) == Unavailable(
        "the bot may not read files (operator: add the files:read scope to the Slack app and reinstall it)")
