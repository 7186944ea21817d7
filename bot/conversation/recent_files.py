"""The files of recent answers, kept in memory so that a follow-up does not download and scale them again.

A follow-up in a thread with twenty photos would otherwise fetch all twenty from Slack and resize them before
the model hears the question, every time. `RecentFiles` keeps what the bot sent for a file (the scaled image,
the document, the text) under a key made of the file's id and what Slack says would change with its content
(size, timestamps), least recently used first out, within `max_bytes` in all. It holds bytes only in memory
(never on disk) and is consulted only for files the access rules already let through for this conversation.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable, Mapping
from typing import Any

MAX_BYTES = 64_000_000
MAX_ENTRY = 8_000_000


def file_key(file: Mapping[str, Any]) -> Hashable | None:
    """What identifies a file's content for Slack (None: it cannot be told, so it is not kept)."""
    file_id = file.get("id")
    if not isinstance(file_id, str) or not file_id:
        return None
    return (file_id, file.get("size"), file.get("timestamp") or file.get("created"), file.get("updated"))


class RecentFiles:
    """A byte-bounded LRU of prepared file contents. Thread-safe."""

    def __init__(self, max_bytes: int = MAX_BYTES, max_entry: int = MAX_ENTRY) -> None:
        self._max_bytes = max_bytes
        self._max_entry = max_entry
        self._lock = threading.Lock()
        self._entries: OrderedDict[Hashable, tuple[Mapping[str, Any], bytes]] = OrderedDict()
        self._size = 0

    def get(self, key: Hashable) -> tuple[Mapping[str, Any], bytes] | None:
        """The file object (as files.info completed it) and the prepared bytes kept for `key`, if any."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None:
                self._entries.move_to_end(key)
            return entry

    def put(self, key: Hashable, file: Mapping[str, Any], data: bytes) -> None:
        if len(data) > self._max_entry:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            self._size -= len(old[1]) if old is not None else 0
            self._entries[key] = (dict(file), data)
            self._size += len(data)
            while self._size > self._max_bytes and self._entries:
                _key, (_file, dropped) = self._entries.popitem(last=False)
                self._size -= len(dropped)

    @property
    def size(self) -> int:
        with self._lock:
            return self._size
