"""Files: ``files.info``, and downloads from ``url_private_download`` as Slack serves them.

A file uploaded with ``FakeSlack.upload_file`` is kept with its bytes. Its ``url_private`` and
``url_private_download`` point at this fake's own HTTP server (``/files-pri/<team>-<id>/…``), as Slack's point at
``files.slack.com``. A download needs ``Authorization: Bearer <bot token>`` and the ``files:read`` scope; without
either Slack does not answer 401 or 403 but **200 with an HTML sign-in page**, and so does this fake. A test can
make a download stall after some bytes, break off (the connection closes before ``Content-Length`` is reached),
or redirect elsewhere. Every download is recorded (``Download``).

``files.info`` returns the full file object (what a Slack Connect stub, ``file_access: check_file_info``, leaves
out); ``file_not_found`` for an unknown id, ``missing_scope`` without ``files:read``.
"""

from __future__ import annotations

import contextlib
import copy
import mimetypes
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import quote

from ..workspace import BOT_TOKEN, TEAM_ID, Json, Workspace, opt_str
from .request import Method, bearer, err

FILE_SCOPE = "files:read"
LOGIN_PAGE = (b'<!DOCTYPE html>\n<html lang="en-US"><head><meta charset="utf-8"><title>Slack</title></head>'
              b'<body><h1>Sign in to Slack</h1><form action="/signin" method="post"><input name="email">'
              b"</form></body></html>\n")


@dataclass
class StoredFile:
    """A file with its bytes, and what a test scripted for its downloads."""

    info: Json
    data: bytes
    stall_after: int | None = None  # stop sending after this many bytes ...
    stall_seconds: float = 0.0  # ... for this long
    cut_after: int | None = None  # close the connection after this many bytes
    redirect_to: str | None = None  # answer 302 with this Location


@dataclass
class Download:
    """One download request as the fake saw it."""

    file_id: str
    token: str | None
    status: int
    sent: int  # bytes of the file written (0 for a sign-in page)
    headers: dict[str, str] = field(default_factory=dict)
    login_page: bool = False


class Files:
    """The files.* methods and the download route."""

    def __init__(self, workspace: Workspace, stopping: threading.Event) -> None:
        self._workspace = workspace
        self._lock = workspace.lock
        self._stopping = stopping
        self._next = 1  # file ids are never given out twice, not even after a reset (Slack's never are)
        self.clear_locked()

    def clear_locked(self) -> None:
        """Forget every file, download and scripted fault; grant files:read again."""
        self.files: dict[str, StoredFile] = {}
        self.downloads: list[Download] = []
        self.scopes: set[str] = {FILE_SCOPE}

    def methods(self) -> dict[str, Method]:
        """This family's part of the method table."""
        return {"files.info": self.info}

    # ------------------------------------------------------------------ uploads

    def add_locked(self, base_url: str, user: str, name: str, data: bytes, *, mimetype: str | None,
                   filetype: str | None, title: str | None, channel: str | None) -> Json:
        """Store a file as a user's upload and return its object as Slack puts it in a message."""
        file_id = f"F{self._next:08d}"
        self._next += 1
        guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
        extension = name.rsplit(".", 1)[-1].lower() if "." in name else "binary"
        team = self._workspace.users.get(user, {}).get("team_id", TEAM_ID)
        path = f"/files-pri/{TEAM_ID}-{file_id}"
        now = int(time.time())
        info: Json = {
            "id": file_id, "created": now, "timestamp": now, "name": name, "title": title or name,
            "mimetype": mimetype or guessed, "filetype": filetype or extension, "pretty_type": extension.upper(),
            "user": user, "user_team": team, "editable": False, "size": len(data), "mode": "hosted",
            "is_external": False, "external_type": "", "is_public": channel is not None and channel.startswith("C"),
            "public_url_shared": False, "display_as_bot": False, "username": "",
            "url_private": f"{base_url}{path}/{quote(name)}",
            "url_private_download": f"{base_url}{path}/download/{quote(name)}",
            "permalink": f"https://fake-team.slack.com/files/{user}/{file_id}/{name}",
            "is_starred": False, "has_rich_preview": False,
        }
        if channel is not None:
            info["channels" if channel.startswith("C") else "groups" if channel.startswith("G") else "ims"] = [channel]
        self.files[file_id] = StoredFile(info, data)
        return copy.deepcopy(info)

    # ------------------------------------------------------------------ files.info

    def info(self, params: dict[str, Any]) -> Json:
        """files.info: a file's full object."""
        if FILE_SCOPE not in self.scopes:
            return {**err("missing_scope"), "needed": FILE_SCOPE, "provided": "chat:write"}
        stored = self.files.get(opt_str(params.get("file")) or "")
        if stored is None:
            return err("file_not_found")
        return {"ok": True, "file": copy.deepcopy(stored.info), "comments": [], "response_metadata": {}}

    # ------------------------------------------------------------------ downloads

    def serve_download(self, handler: BaseHTTPRequestHandler, path: str) -> None:
        """Answer GET /files-pri/<team>-<id>/[download/]<name> as Slack's file host does."""
        token = bearer(handler.headers.get("Authorization"))
        headers = dict(handler.headers.items())
        file_id = path.split("/")[2].split("-", 1)[-1] if path.count("/") >= 2 else ""
        with self._lock:
            stored = self.files.get(file_id)
            authorised = token == BOT_TOKEN and FILE_SCOPE in self.scopes
            redirect = stored.redirect_to if stored is not None else None
        if stored is None and authorised:
            self._finish(file_id, token, 404, 0, headers)
            self._write(handler, 404, b"Not found", "text/plain")
            return
        if not authorised:  # Slack: status 200 and its sign-in page, not 401/403
            self._finish(file_id, token, 200, 0, headers, login_page=True)
            self._write(handler, 200, LOGIN_PAGE, "text/html; charset=utf-8")
            return
        assert stored is not None
        if redirect is not None:
            self._finish(file_id, token, 302, 0, headers)
            self._write(handler, 302, b"", "text/plain", {"Location": redirect})
            return
        self._stream(handler, file_id, token, headers, stored)

    def _stream(self, handler: BaseHTTPRequestHandler, file_id: str, token: str | None, headers: dict[str, str],
                stored: StoredFile) -> None:
        data = stored.data
        handler.close_connection = True
        sent = 0
        try:
            handler.send_response(200)
            handler.send_header("Content-Type", str(stored.info["mimetype"]))
            handler.send_header("Content-Length", str(len(data)))
            handler.send_header("Content-Disposition", f'attachment; filename="{stored.info["name"]}"')
            handler.send_header("Connection", "close")
            handler.end_headers()
            stops = sorted(p for p in (stored.stall_after, stored.cut_after) if p is not None)
            for stop in [*stops, len(data)]:
                stop = min(stop, len(data))
                if stop > sent:
                    handler.wfile.write(data[sent:stop])
                    handler.wfile.flush()
                    sent = stop
                if stop == stored.cut_after:
                    break
                if stop == stored.stall_after:
                    self._stopping.wait(stored.stall_seconds)
        except OSError:
            pass  # the client gave up (its timeout) and closed the connection
        finally:
            self._finish(file_id, token, 200, sent, headers)
            if sent < len(data):
                with contextlib.suppress(OSError):
                    handler.connection.shutdown(socket.SHUT_RDWR)

    def _finish(self, file_id: str, token: str | None, status: int, sent: int, headers: dict[str, str],
                *, login_page: bool = False) -> None:
        with self._lock:
            self.downloads.append(Download(file_id, token, status, sent, headers, login_page))
            self._workspace.changed.notify_all()

    @staticmethod
    def _write(handler: BaseHTTPRequestHandler, status: int, body: bytes, content_type: str,
               extra: dict[str, str] | None = None) -> None:
        handler.close_connection = True
        with contextlib.suppress(OSError):
            handler.send_response(status)
            handler.send_header("Content-Type", content_type)
            for name, value in (extra or {}).items():
                handler.send_header(name, value)
            handler.send_header("Content-Length", str(len(body)))
            handler.send_header("Connection", "close")
            handler.end_headers()
            handler.wfile.write(body)
