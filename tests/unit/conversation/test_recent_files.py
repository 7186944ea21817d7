"""RecentFiles: prepared file contents kept in memory, least recently used out first, within a byte bound."""

from __future__ import annotations

from bot.conversation.recent_files import RecentFiles, file_key

FILE = {"id": "F1", "name": "a.png", "size": 10, "timestamp": 1700000000}


def test_the_key_changes_with_what_would_change_the_content() -> None:
    assert file_key(FILE) == file_key(dict(FILE))
    assert file_key(FILE) != file_key({**FILE, "size": 11})
    assert file_key(FILE) != file_key({**FILE, "updated": 1700000100})  # an edited snippet
    assert file_key({"name": "no id"}) is None


def test_least_recently_used_goes_first_within_the_bound() -> None:
    recent = RecentFiles(max_bytes=25, max_entry=20)
    recent.put("a", FILE, b"a" * 10)
    recent.put("b", FILE, b"b" * 10)
    assert recent.get("a") == (FILE, b"a" * 10)  # now the most recent
    recent.put("c", FILE, b"c" * 10)  # 30 bytes: "b" goes
    assert recent.get("b") is None and recent.get("a") is not None and recent.get("c") is not None
    assert recent.size == 20
    recent.put("big", FILE, b"x" * 21)  # larger than an entry may be: not kept
    assert recent.get("big") is None and recent.size == 20
