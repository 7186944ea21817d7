"""What a reader sees as one character (pure): where text may be cut, and how wide it is in a monospace font.

A simplified grapheme-cluster model, enough for what answers contain: CRLF, combining marks, variation
selectors, emoji modifiers, emoji ZWJ sequences and regional-indicator flags stay together. Used by the
splitter (never cut inside a cluster) and by the table layout of the converter (column widths).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from typing import Final

ZWJ: Final = "\u200d"
_EMOJI_PRESENTATION: Final = "\ufe0f"


def is_regional_indicator(char: str) -> bool:
    return "\U0001f1e6" <= char <= "\U0001f1ff"


def extends_cluster(char: str) -> bool:
    """Characters that belong to the cluster before them (combining marks, selectors, modifiers, ZWJ)."""
    if char == ZWJ or "\ufe00" <= char <= "\ufe0f" or "\U000e0000" <= char <= "\U000e01ef":
        return True
    if "\U0001f3fb" <= char <= "\U0001f3ff":  # emoji skin tone modifiers
        return True
    return unicodedata.category(char) in ("Mn", "Mc", "Me")


def is_cluster_boundary(text: str, pos: int) -> bool:
    """True if cutting ``text`` at ``pos`` keeps CRLF, combining sequences, ZWJ sequences and flags whole."""
    if pos <= 0 or pos >= len(text):
        return True
    before, after = text[pos - 1], text[pos]
    if before == "\r" and after == "\n":
        return False
    if before == ZWJ or extends_cluster(after):
        return False
    if "\udc00" <= after <= "\udfff" and "\ud800" <= before <= "\udbff":  # a (lone) surrogate pair
        return False
    if is_regional_indicator(before) and is_regional_indicator(after):
        run = 0
        index = pos - 1
        while index >= 0 and is_regional_indicator(text[index]):
            run += 1
            index -= 1
        return run % 2 == 0
    return True


def clusters(text: str) -> Iterator[str]:
    """The clusters of ``text``, in order (their concatenation is ``text``)."""
    start = 0
    for pos in range(1, len(text)):
        if is_cluster_boundary(text, pos):
            yield text[start:pos]
            start = pos
    if text:
        yield text[start:]


def cluster_width(cluster: str) -> int:
    """Columns one cluster takes in a monospace font: 2 for wide characters and emoji, 0 for invisible ones."""
    visible = [c for c in cluster if not (unicodedata.combining(c) or unicodedata.category(c) in ("Mn", "Me", "Cf"))]
    if not visible:
        return 0
    if _EMOJI_PRESENTATION in cluster or ZWJ in cluster or is_regional_indicator(visible[0]):
        return 2  # an emoji (keycap, ZWJ family, flag, "❤️") is shown as one wide picture
    return 2 if any(unicodedata.east_asian_width(c) in ("W", "F") for c in visible) else 1


def display_width(text: str) -> int:
    """Monospace display width of ``text``: the sum of its clusters' widths."""
    if text.isascii():
        return len(text)
    return sum(cluster_width(cluster) for cluster in clusters(text))
