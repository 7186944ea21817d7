"""Downloading the files people share in Slack, safely, into memory only.

`FileFetcher.fetch_all(files, cap)` downloads a few files at once and returns, in order, each one's bytes
(`Fetched`) or why it could not be had (`Unavailable`, with a reason written for the note). Nothing is written
to disk and nothing of a file (not even its name) is logged: only its id and what went wrong.

* **Where the token goes.** A file is fetched from `url_private_download` (else `url_private`) with the bot
  token in an `Authorization: Bearer` header, and only from Slack's file host (`https://files.slack.com`) or the
  host of SLACK_API_URL (the tests' fake Slack). A URL anywhere else is not fetched at all. Redirects are not
  followed by the HTTP library (urllib would carry the header along to any host); the bot follows a few itself,
  and only to those same hosts. Slack sends a client whose token may not read files to its sign-in page.
* **Slack Connect stubs.** A file another organisation shares may arrive as `{"id", "file_access":
  "check_file_info"}` without URLs; `files.info` (through `SlackReader`, with its retries) fills it in.
* **Size.** Slack's `size` is checked before connecting and `Content-Length` before reading; reading stops as
  soon as the file passes its cap, which `cap(first bytes, file)` decides from the content (documents are
  worth at most 4.5 MB, a program nothing at all).
* **HTML instead of the file** (not declared HTML): Slack's sign-in page, which it serves with status 200 when
  the token lacks `files:read` — an error that tells the operator to add the scope and reinstall the app.
* **Time.** Each read waits at most `read_timeout` seconds for data, and a whole download may take at most
  FILE_DOWNLOAD_TIMEOUT_SECONDS; a download that stalls or breaks off is left out with a note.
"""

from __future__ import annotations

import http.client
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urljoin, urlsplit

from bot.conversation.attachments import Cap, Fetched, FileObject, Unavailable, mb
from bot.conversation.filetypes import is_html

logger = logging.getLogger(__name__)

FILE_HOST = "files.slack.com"
MAX_REDIRECTS = 3
HEAD_BYTES = 4096  # enough of the start to tell what a file is
CHUNK = 256 * 1024
DOWNLOADS_AT_ONCE = 8  # for the whole process, so many answers with files cannot exhaust memory or bandwidth
PER_ANSWER = 4
LOGIN_PAGE = ("Slack sent its sign-in page instead of the file (operator: add the files:read scope to the "
              "Slack app and reinstall it)")
MISSING_SCOPE = "the bot may not read files (operator: add the files:read scope to the Slack app and reinstall it)"
INFO_ERRORS = {
    "file_not_found": "Slack no longer has this file",
    "file_deleted": "Slack no longer has this file",
    "missing_scope": MISSING_SCOPE,
    "no_permission": "Slack does not let the bot read this file",
    "access_denied": "Slack does not let the bot read this file",
}


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Hand every redirect back to the caller (as an HTTPError), which decides where the token may go."""

    def redirect_request(self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str) -> None:
        return None


def _origin(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port or (443 if scheme == "https" else 80)
    except ValueError:
        port = -1
    return scheme, (parts.hostname or "").lower(), port


class FileFetcher:
    """Downloads Slack files with the bot token (see the module docstring). Thread-safe."""

    def __init__(self, *, token: str, api_url: str, timeout: float, max_bytes: int,
                 file_info: Callable[[str], Mapping[str, Any] | str], read_timeout: float = 10.0,
                 opener: urllib.request.OpenerDirector | None = None) -> None:
        self._token = token
        self._allowed = {("https", FILE_HOST, 443), _origin(api_url)}
        self._timeout = timeout
        self._read_timeout = min(read_timeout, timeout)
        self._max_bytes = max_bytes
        self._file_info = file_info
        self._opener = opener or urllib.request.build_opener(_NoRedirects)
        self._slots = threading.BoundedSemaphore(DOWNLOADS_AT_ONCE)
        self._clock = time.monotonic
        self._warned_login = False

    def fetch_all(self, files: Sequence[FileObject],
                  cap: Callable[[bytes, FileObject], Cap | str]) -> list[Fetched | Unavailable]:
        """Each file's bytes or why not, in the order given; a few downloads run at once."""
        if len(files) <= 1:
            return [self.fetch(file, cap) for file in files]
        with ThreadPoolExecutor(max_workers=min(PER_ANSWER, len(files)), thread_name_prefix="file") as pool:
            return list(pool.map(lambda file: self.fetch(file, cap), files))

    def fetch(self, file: FileObject, cap: Callable[[bytes, FileObject], Cap | str]) -> Fetched | Unavailable:
        file_id = str(file.get("id") or "?")
        with self._slots:
            try:
                result = self._fetch(file, cap)
            except Exception as exc:  # noqa: BLE001 - a download must never fail the answer
                logger.warning("file %s: download failed (%s)", file_id, type(exc).__name__)
                return Unavailable("the download failed")
        if isinstance(result, Unavailable):
            logger.info("file %s not read: %s", file_id, result.reason)
        return result

    def allowed(self, url: str) -> bool:
        """True if the bot token may be sent to `url`."""
        return _origin(url) in self._allowed

    def _fetch(self, file: FileObject, cap: Callable[[bytes, FileObject], Cap | str]) -> Fetched | Unavailable:
        url = str(file.get("url_private_download") or file.get("url_private") or "")
        if file.get("file_access") == "check_file_info" or not url:
            if not file.get("id"):
                return Unavailable("Slack gave no way to download it")
            info = self._file_info(str(file["id"]))
            if isinstance(info, str):
                return Unavailable(INFO_ERRORS.get(info, f"Slack did not give the file's details ({info})"))
            file = {**file, **info}
            url = str(file.get("url_private_download") or file.get("url_private") or "")
            if not url:
                return Unavailable("Slack gave no download link for it")
        size = file.get("size")
        if isinstance(size, int) and size > self._max_bytes:
            return Unavailable(f"{mb(size)} is more than this bot downloads (FILE_DOWNLOAD_MAX_MB)")
        if not self.allowed(url):
            return Unavailable("it is stored outside Slack's file host, so the bot does not fetch it")
        return self._download(url, file, cap)

    def _download(self, url: str, file: FileObject,
                  cap: Callable[[bytes, FileObject], Cap | str]) -> Fetched | Unavailable:
        deadline = self._clock() + self._timeout
        for _hop in range(MAX_REDIRECTS + 1):
            url = quote(url, safe=":/?#[]@!$&'()*+,;=%~")  # a space or other raw character in a file's name
            request = urllib.request.Request(url, headers={"Authorization": f"Bearer {self._token}",
                                                           "User-Agent": "slack-bedrock-bot"})
            try:
                response = self._opener.open(request, timeout=self._read_timeout)
            except urllib.error.HTTPError as error:
                location = error.headers.get("Location") if error.code in (301, 302, 303, 307, 308) else None
                error.close()
                if location is None:
                    return Unavailable(_status_reason(error.code))
                url = urljoin(url, location)
                if not self.allowed(url):  # never with the token: in practice, Slack's sign-in page
                    return self._login_page(file, "redirected away from Slack's file host")
                continue
            except (urllib.error.URLError, TimeoutError, OSError, http.client.HTTPException) as error:
                reason = getattr(error, "reason", error)
                if isinstance(reason, TimeoutError):
                    return Unavailable("the download stalled (FILE_DOWNLOAD_TIMEOUT_SECONDS)")
                return Unavailable("Slack's file host could not be reached")
            with response:
                return self._read(response, file, cap, deadline)
        return Unavailable("Slack redirected the download too often")

    def _login_page(self, file: FileObject, how: str) -> Unavailable:
        if not self._warned_login:
            self._warned_login = True
            logger.warning("file %s: Slack answered with its sign-in page (%s); add the files:read scope to the "
                           "Slack app and reinstall it", file.get("id"), how)
        return Unavailable(LOGIN_PAGE)

    def _read(self, response: Any, file: FileObject, cap: Callable[[bytes, FileObject], Cap | str],
              deadline: float) -> Fetched | Unavailable:
        declared_html = "html" in (str(file.get("filetype") or "") + str(file.get("mimetype") or "")).lower()
        length_header = response.headers.get("Content-Length")
        length = int(length_header) if length_header and length_header.isdigit() else None
        chunks: list[bytes] = []
        total = 0
        verdict: Cap | None = None
        try:
            while True:
                if self._clock() > deadline:
                    return Unavailable("the download took too long (FILE_DOWNLOAD_TIMEOUT_SECONDS)")
                chunk = response.read1(CHUNK)
                if chunk:
                    chunks.append(chunk)
                    total += len(chunk)
                if verdict is None and (total >= HEAD_BYTES or not chunk):
                    head = b"".join(chunks)
                    if not declared_html and (response.headers.get_content_type() == "text/html" or is_html(head)):
                        return self._login_page(file, "an HTML page with status 200")
                    decided = cap(head, file)
                    if isinstance(decided, str):
                        return Unavailable(decided)
                    verdict = decided
                    if length is not None and length > verdict.limit:
                        return Unavailable(f"{mb(length)}; {verdict.over}")
                if verdict is not None and total > verdict.limit:
                    return Unavailable(f"more than {mb(verdict.limit)}; {verdict.over}")
                if not chunk:
                    break
        except TimeoutError:
            return Unavailable("the download stalled (FILE_DOWNLOAD_TIMEOUT_SECONDS)")
        except (http.client.IncompleteRead, ConnectionError, OSError, http.client.HTTPException):
            return Unavailable("the download broke off")
        if length is not None and total != length:
            return Unavailable("the download broke off")
        return Fetched(file, b"".join(chunks))


def _status_reason(status: int) -> str:
    if status == 404:
        return "Slack no longer has this file"
    if status in (401, 403):
        return "Slack does not let the bot read this file"
    return f"Slack's file host answered {status}"
