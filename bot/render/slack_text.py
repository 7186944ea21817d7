"""Join the pieces of one paragraph into Slack mrkdwn (pure): markers where they work, literals where meant.

Slack reads ``*``, ``_``, ``~`` and `````` ` ````` as formatting by its own rules and has no escape character.
This module models those rules conservatively and writes the converter's output so that:

* a marker the converter emits (bold, italic, strike, code) works: where its outside touches a letter or
  digit, U+200B (zero-width space) goes between them, because Slack only honours markers at word
  boundaries (next to Japanese, ``これは*重要*です`` is not bold without it);
* a marker character the model meant literally (``\\*not emphasized*``, ``&#42;``, a lone ``**``, a
  ```` ``` ```` in prose, ``*bold*`` inside raw HTML) is never read as formatting. Such a run is sent as
  the fallback text of a Slack date token with an invalid format, ``<!date^00000000^{_}|*>``, which Slack
  shows as the plain characters after ``|`` (the technique jsx-slack documents for escaping). It costs 22
  characters, so it is used only where Slack could act on the run: a run of ``*``/``_``/``~`` that could
  open (no letter or digit before it, no space after it) or close (no space before it, no letter or digit
  after it) and has a possible partner of the same character in the paragraph; a run of ``**`` or more
  in any such position; and a backtick run of three or more, or one with another backtick in the
  paragraph. ``2 * 3``, ``snake_case`` and ``~/.config`` alone stay as they are.

Inside link labels a date token would not work (the label is already inside ``<…>``); a literal run there
is replaced by a look-alike (``∗``, ``ˍ``, ``∼``, ``ˋ``) instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

ZWSP: Final = "\u200b"
"""Zero-width space, used to separate a mrkdwn marker from an adjacent letter."""

MARKER_CHARS: Final = "*_~`"
_LOOKALIKES: Final = {"*": "∗", "_": "ˍ", "~": "∼", "`": "ˋ"}


def literal_token(run: str) -> str:
    """``run`` (marker characters only) as Slack shows it without formatting: a date token's fallback text."""
    return f"<!date^00000000^{{_}}|{run}>"


@dataclass(frozen=True, slots=True)
class Piece:
    """A piece of converted inline text.

    ``opens``/``closes`` mark a mrkdwn marker the converter emitted (or a code span, which is both); its
    outside gets U+200B next to a letter or digit. ``literal`` marks the model's own text (already escaped
    for ``& < >``), whose marker characters must not become formatting. Anything else (links, mentions,
    line breaks) is markup that is neither.
    """

    text: str
    opens: bool = False
    closes: bool = False
    literal: bool = False


@dataclass(slots=True)
class _Seg:
    text: str
    kind: str  # "open" / "close" (a marker the converter emitted), "code" (a code span), "run", "text"
    char: str = ""  # the marker character of an open/close/run segment


def _is_word(char: str) -> bool:
    """Letters and digits of any script: the characters Slack does not treat as a word boundary."""
    return char.isalnum()


def _segments(pieces: Sequence[Piece]) -> list[_Seg]:
    """Split literal pieces into marker runs and other text; markers and code spans become their own kind."""
    segs: list[_Seg] = []
    for piece in pieces:
        if not piece.text:
            continue
        if piece.literal:
            text = piece.text
            index = 0
            while index < len(text):
                char = text[index]
                end = index + 1
                if char in MARKER_CHARS:
                    while end < len(text) and text[end] == char:
                        end += 1
                    segs.append(_Seg(text[index:end], "run", char))
                else:
                    while end < len(text) and text[end] not in MARKER_CHARS:
                        end += 1
                    segs.append(_Seg(text[index:end], "text"))
                index = end
        elif piece.opens and piece.closes:
            segs.append(_Seg(piece.text, "code", "`"))
        elif piece.opens:
            segs.append(_Seg(piece.text, "open", piece.text))
        elif piece.closes:
            segs.append(_Seg(piece.text, "close", piece.text))
        else:
            segs.append(_Seg(piece.text, "text"))
    return segs


def _add_zwsp(segs: list[_Seg]) -> list[_Seg]:
    """Insert U+200B on the outside of emitted markers and code spans that touch a letter or digit."""
    out: list[_Seg] = []
    for index, seg in enumerate(segs):
        previous = out[-1].text[-1] if out else ""
        if seg.kind in ("open", "code") and previous and _is_word(previous):
            out.append(_Seg(ZWSP, "text"))
        out.append(seg)
        following = segs[index + 1].text[0] if index + 1 < len(segs) else ""
        if seg.kind in ("close", "code") and following and _is_word(following):
            out.append(_Seg(ZWSP, "text"))
    # Two emitted markers of the same character side by side ("*a**b*") would read as "**": keep them apart.
    spaced: list[_Seg] = []
    for seg in out:
        if (
            spaced
            and seg.kind in ("open", "close")
            and spaced[-1].kind in ("open", "close")
            and spaced[-1].char == seg.char
        ):
            spaced.append(_Seg(ZWSP, "text"))
        spaced.append(seg)
    return spaced


def _literal_runs_to_neutralise(segs: list[_Seg]) -> set[int]:
    """Indices of literal runs that Slack could read as formatting (see the module docstring)."""
    n = len(segs)
    before = [""] * n
    after = [""] * n
    last = ""
    for index, seg in enumerate(segs):
        before[index] = last
        last = seg.text[-1]
    following = ""
    for index in range(n - 1, -1, -1):
        after[index] = following
        following = segs[index].text[0]

    can_open = [False] * n
    can_close = [False] * n
    for index, seg in enumerate(segs):
        if seg.kind == "run":
            prev, nxt = before[index], after[index]
            # Slack looks at each character: inside a run of two or more, a marker has another marker (not a
            # letter) on one side, so the run can open whenever a non-space follows it, and close likewise.
            double = len(seg.text) >= 2
            can_open[index] = (double or not prev or not _is_word(prev)) and bool(nxt) and not nxt.isspace()
            can_close[index] = bool(prev) and not prev.isspace() and (double or not nxt or not _is_word(nxt))
        elif seg.kind == "open":
            can_open[index] = True
        elif seg.kind == "close":
            can_close[index] = True

    chosen: set[int] = set()
    backticks = sum(1 for seg in segs if seg.char == "`" and seg.kind in ("run", "code"))
    for char in "*_~":
        opener_before = [False] * n
        seen = False
        for index, seg in enumerate(segs):
            opener_before[index] = seen
            if seg.char == char and can_open[index]:
                seen = True
        seen = False
        for index in range(n - 1, -1, -1):
            seg = segs[index]
            if seg.char != char or seg.kind != "run":
                if seg.char == char and can_close[index]:
                    seen = True
                continue
            active = can_open[index] or can_close[index]
            partnered = (can_open[index] and seen) or (can_close[index] and opener_before[index])
            if active and (partnered or (char == "*" and len(seg.text) >= 2)):
                chosen.add(index)
            if can_close[index]:
                seen = True
    for index, seg in enumerate(segs):
        if seg.kind == "run" and seg.char == "`" and (len(seg.text) >= 3 or backticks > 1):
            chosen.add(index)
    return chosen


def join_pieces(pieces: Sequence[Piece]) -> str:
    """The mrkdwn text of one paragraph's pieces: U+200B where markers need it, literal runs made literal."""
    segs = _add_zwsp(_segments(pieces))
    chosen = _literal_runs_to_neutralise(segs)
    return "".join(literal_token(seg.text) if index in chosen else seg.text for index, seg in enumerate(segs))


def literal_label(text: str) -> str:
    """A link label (already escaped) with marker runs that Slack could act on replaced by look-alikes."""
    segs = _segments([Piece(text, literal=True)])
    chosen = _literal_runs_to_neutralise(segs)
    return "".join(
        "".join(_LOOKALIKES[c] for c in seg.text) if index in chosen else seg.text for index, seg in enumerate(segs)
    )
