"""Bare ``http(s)://`` URLs in prose (pure): where one starts and where it ends.

One definition for the converter (which turns a bare URL into a Slack link) and the splitter (which never
cuts inside one). A URL runs over ASCII URL characters (``*`` and ``_`` included, so
``https://example.com/*star*/x`` stays whole). Letters of other scripts belong to it only in a path
segment, query value or fragment that *starts* with them (``https://ja.wikipedia.org/wiki/東京``), so that
Japanese written directly after an ASCII URL (``https://example.com/docsを参照``) is not swallowed.
Punctuation at the end (``.,:;!?'"*_~`` and unbalanced ``)``/``]``) is not part of the URL.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Final

_ASCII_URL_CHARS: Final = frozenset(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~:/?#[]@!$&'()*+,;=%"
)
_TRAILING_PUNCT: Final = frozenset(".,:;!?'\"*_~")
_SCHEMES: Final = ("https://", "http://")


def _is_word_letter(char: str) -> bool:
    """A non-ASCII letter, mark or digit (what a path segment in another script is made of)."""
    return unicodedata.category(char)[0] in "LMN"


def _scan(text: str, start: int, limit: int) -> int:
    """End of the raw URL run that starts at ``start`` (just after the scheme), before trimming."""
    pos = start
    in_host = True
    allow_other_script = False  # true at the start of a segment and inside one that started that way
    segment_other_script = False
    while pos < limit:
        char = text[pos]
        if char in _ASCII_URL_CHARS:
            if char in "/?#" or (not in_host and char in "=&"):
                in_host = False
                allow_other_script, segment_other_script = True, False
            elif not segment_other_script:
                allow_other_script = False
        elif not in_host and allow_other_script and not char.isascii() and _is_word_letter(char):
            segment_other_script = True
        else:
            break
        pos += 1
    return pos


def _trim(text: str, start: int, end: int) -> int:
    """Drop trailing punctuation and unbalanced closing brackets from ``text[start:end]``."""
    while end > start:
        last = text[end - 1]
        url = text[start:end]
        unbalanced = (last == ")" and url.count("(") < url.count(")")) or (
            last == "]" and url.count("[") < url.count("]")
        )
        if last not in _TRAILING_PUNCT and not unbalanced:
            break
        end -= 1
    return end


def url_at(text: str, start: int, limit: int | None = None) -> int:
    """End of the bare URL whose scheme starts at ``start``, or ``start`` if there is none.

    ``text[start:]`` must begin with ``http://`` or ``https://`` (any case); a URL with nothing after the
    scheme does not count. The character before ``start`` is not looked at (see :func:`find_urls`).
    """
    stop = len(text) if limit is None else limit
    head = text[start : start + 8].lower()
    scheme = next((s for s in _SCHEMES if head.startswith(s)), None)
    if scheme is None:
        return start
    after = start + len(scheme)
    end = _trim(text, after, _scan(text, after, stop))
    return end if end > after else start


def starts_url(text: str, start: int) -> bool:
    """True if a URL may start at ``start``: not glued to a preceding ASCII letter or digit."""
    return start == 0 or not (text[start - 1].isascii() and text[start - 1].isalnum())


def find_urls(text: str) -> Iterator[tuple[int, int]]:
    """``(start, end)`` of every bare URL in ``text``, left to right, not overlapping."""
    lowered = text.lower()
    pos = lowered.find("http", 0)
    while pos >= 0:
        end = url_at(text, pos) if starts_url(text, pos) else pos
        if end > pos:
            yield pos, end
        pos = lowered.find("http", max(end, pos + 1))
