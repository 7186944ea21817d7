"""Which characters belong to scripts written without spaces between words (pure): the one definition of
"CJK character" for emphasis next to Japanese (mrkdwn), cut points (splitting) and the seam rule
(continuation).

Han, kana, Hangul, CJK symbols and punctuation, and fullwidth forms.
"""

from __future__ import annotations

from typing import Final

RANGES: Final = (
    ("\u2e80", "\u2fdf"),  # CJK radicals, Kangxi radicals
    ("\u3000", "\u30ff"),  # CJK symbols and punctuation, hiragana, katakana
    ("\u3100", "\u31ff"),  # bopomofo, Hangul compatibility jamo, kanbun, katakana extensions
    ("\u3400", "\u4dbf"),  # CJK extension A
    ("\u4e00", "\u9fff"),  # CJK unified ideographs
    ("\uac00", "\ud7af"),  # Hangul syllables
    ("\uf900", "\ufaff"),  # CJK compatibility ideographs
    ("\uff00", "\uffef"),  # halfwidth and fullwidth forms
    ("\U00020000", "\U0002fa1f"),  # CJK extensions B–F, compatibility supplement
)

# The same ranges as the inside of a regular-expression character class: f"[{CLASS}]".
CLASS: Final = "".join(f"{low}-{high}" for low, high in RANGES)


def is_cjk(char: str) -> bool:
    """True for one character of the ranges above (False for the empty string)."""
    return bool(char) and any(low <= char <= high for low, high in RANGES)
