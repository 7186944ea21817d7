"""The fake Slack's files: downloads as Slack's file host serves them (token, scope, sign-in page, faults) and
files.info, driven by urllib (what the bot uses) and slack_sdk."""

from __future__ import annotations

import http.client
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from tests.fakes.slack import BOT_TOKEN, FakeSlack

DATA = bytes(range(256)) * 64  # 16 KiB


@pytest.fixture(scope="module")
def server() -> Iterator[FakeSlack]:
    fake = FakeSlack().start()
    yield fake
    fake.stop()


@pytest.fixture
def fake(server: FakeSlack) -> FakeSlack:
    server.reset()
    return server


def get(url: str, token: str | None = BOT_TOKEN, timeout: float = 5.0) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=timeout)


def test_an_upload_is_served_at_its_download_url_with_the_bot_token(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "log file.bin", DATA, channel="C1")
    assert file["url_private_download"].startswith(fake.api_url.removesuffix("/api/") + "/files-pri/")
    assert file["url_private_download"].endswith("/download/log%20file.bin")
    assert (file["size"], file["mimetype"], file["filetype"], file["channels"]) == (
        len(DATA), "application/octet-stream", "bin", ["C1"])
    with get(file["url_private_download"]) as response:
        assert response.status == 200
        assert response.headers["Content-Length"] == str(len(DATA))
        assert response.read() == DATA
    (download,) = fake.wait_for(lambda f: f.downloads)
    assert (download.file_id, download.token, download.status, download.sent) == (file["id"], BOT_TOKEN, 200, len(DATA))


@pytest.mark.parametrize("token", [None, "xoxb-someone-else", "xapp-fake-app-token"])
def test_without_the_bot_token_slack_answers_200_with_its_sign_in_page(fake: FakeSlack, token: str | None) -> None:
    file = fake.upload_file("U1", "a.txt", b"secret", channel="C1")
    with get(file["url_private_download"], token) as response:
        assert response.status == 200
        assert response.headers.get_content_type() == "text/html"
        body = response.read()
    assert body.startswith(b"<!DOCTYPE html>") and b"secret" not in body
    assert fake.downloads[-1].login_page


def test_without_files_read_downloads_get_the_sign_in_page_and_files_info_missing_scope(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "a.txt", b"secret", channel="C1")
    fake.set_file_scope(False)
    with get(file["url_private_download"]) as response:
        assert response.headers.get_content_type() == "text/html"
    with pytest.raises(SlackApiError) as caught:
        WebClient(token=BOT_TOKEN, base_url=fake.api_url).files_info(file=file["id"])
    assert caught.value.response["error"] == "missing_scope"
    fake.set_file_scope(True)
    with get(file["url_private_download"]) as response:
        assert response.read() == b"secret"


def test_files_info_fills_in_a_slack_connect_stub(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "plan.pdf", b"%PDF-1.4 x", channel="C1")
    stub = FakeSlack.file_stub(file)
    assert "url_private_download" not in stub and stub["file_access"] == "check_file_info"
    info = WebClient(token=BOT_TOKEN, base_url=fake.api_url).files_info(file=stub["id"])["file"]
    assert info["url_private_download"] == file["url_private_download"] and info["name"] == "plan.pdf"
    with pytest.raises(SlackApiError) as caught:
        WebClient(token=BOT_TOKEN, base_url=fake.api_url).files_info(file="F404")
    assert caught.value.response["error"] == "file_not_found"


def test_a_stalled_download_sends_its_first_bytes_then_nothing(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "big.bin", DATA, channel="C1")
    fake.stall_download(file["id"], after=1000, seconds=5.0)
    started = time.monotonic()
    with get(file["url_private_download"], timeout=0.5) as response:
        assert response.read(1000) == DATA[:1000]
        with pytest.raises(TimeoutError):
            response.read(1)
    assert time.monotonic() - started < 3.0


def test_a_cut_download_closes_before_its_content_length(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "big.bin", DATA, channel="C1")
    fake.cut_download(file["id"], after=3000)
    with get(file["url_private_download"]) as response, pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    assert len(caught.value.partial) == 3000
    fake.wait_for(lambda f: f.downloads and f.downloads[-1].sent == 3000)


def test_a_redirected_download_answers_302_with_the_location(fake: FakeSlack) -> None:
    file = fake.upload_file("U1", "a.txt", b"x", channel="C1")
    fake.redirect_download(file["id"], "https://fake-team.slack.com/?redir=%2Ffiles-pri")

    class NoRedirects(urllib.request.HTTPRedirectHandler):
        def redirect_request(self, *args: Any) -> None:
            return None

    opener = urllib.request.build_opener(NoRedirects)
    request = urllib.request.Request(file["url_private_download"], headers={"Authorization": f"Bearer {BOT_TOKEN}"})
    with pytest.raises(urllib.error.HTTPError) as caught:
        opener.open(request, timeout=5)
    assert caught.value.code == 302
    assert caught.value.headers["Location"] == "https://fake-team.slack.com/?redir=%2Ffiles-pri"


def test_an_unknown_file_is_404_for_the_bot(fake: FakeSlack) -> None:
    url = fake.api_url.removesuffix("/api/") + "/files-pri/T0TEAM-F404/download/x.png"
    with pytest.raises(urllib.error.HTTPError) as caught:
        get(url)
    assert caught.value.code == 404
