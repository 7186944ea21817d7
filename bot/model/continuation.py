"""Continuing an answer that stopped early, and joining the pieces without a visible seam (pure).

An answer is continued when the model stops on `max_tokens` (or its stream breaks mid-way). Two forms:

* PREFILL: the partial answer is sent as the final assistant turn, with trailing whitespace removed
  (Bedrock rejects a final assistant turn that ends in whitespace). The model carries on mid-token.
* CONTINUE: for models that reject prefill (Claude 4.6 and later), the partial answer is an assistant
  turn followed by a short user turn asking to continue exactly where it stopped.

THE SEAM RULE. The text already shown (`shown`) is never changed; only the start of the continuation is
trimmed before it is appended:

1. Whitespace. Let W be the trailing whitespace of `shown` (what a prefill had to strip). The
   continuation's leading characters that repeat the start of W are dropped, so W is "put back"
   exactly when the continuation does not start with it, and never doubled when it does.
2. Overlap (CONTINUE form only). A model asked to continue sometimes repeats the last words. If the
   continuation (after its leading whitespace) starts with text that `shown` (without its trailing
   whitespace) ends with, that repeated text is dropped; rule 1 is then applied to what follows.
   To avoid eating a legitimate coincidence, an overlap counts only when it starts at a word start in
   `shown` (after whitespace/punctuation, or at a CJK character) and is at least 3 characters long
   (2 for CJK text, which has no spaces).
3. Otherwise the continuation is appended as it is: a continuation that starts mid-word ("ps over" after
   "jum") or on a new line is taken literally, since the model was told to continue exactly.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any

from bot.render.cjk import is_cjk

Message = dict[str, Any]

CONTINUE_PROMPT = (
    "Your previous answer was cut off. Continue it exactly where it stopped: start with the very next "
    "characters (finish the word if it was cut mid-word, keep the same language and formatting), do not "
    "repeat anything already written, and add no preamble or comment."
)

# How much of a continuation is buffered before the seam is decided: long enough to see a repeated
# sentence, short enough that the reader does not notice the wait.
SEAM_WINDOW = 160
MAX_OVERLAP = 400


class Form(enum.Enum):
    PREFILL = "prefill"
    CONTINUE = "continue"


def continuation_messages(messages: Sequence[Message], partial: str, form: Form) -> list[Message]:
    """The conversation to send to continue `partial`, which answers the last user turn of `messages`.

    `messages` ends with a user turn. An empty (or blank) partial needs no continuation turn: the same
    question is asked again.
    """
    result = [dict(m) for m in messages]
    stripped = partial.rstrip()
    if not stripped:
        return result
    result.append({"role": "assistant", "content": [{"text": stripped}]})
    if form is Form.CONTINUE:
        result.append({"role": "user", "content": [{"text": CONTINUE_PROMPT}]})
    return result


def _is_word_char(ch: str) -> bool:
    return ch.isalnum() or ch == "_"


def _common_prefix_len(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


def _overlap(stripped: str, head: str) -> int:
    """Length of the longest acceptable repeat: a suffix of `stripped` that `head` starts with."""
    longest = min(len(stripped), len(head), MAX_OVERLAP)
    for k in range(longest, 0, -1):
        if not stripped.endswith(head[:k]):
            continue
        first = stripped[-k]
        before = stripped[-k - 1] if k < len(stripped) else ""
        cjk = is_cjk(first)
        at_word_start = before == "" or not _is_word_char(before) or cjk or is_cjk(before)
        if at_word_start and k >= (2 if cjk else 3):
            return k
    return 0


def join_seam(shown: str, head: str, form: Form) -> str:
    """What to append to `shown` for a continuation that begins with `head` (see the module docstring)."""
    stripped = shown.rstrip()
    trailing_ws = shown[len(stripped):]
    if form is Form.CONTINUE and stripped:
        body = head.lstrip()
        k = _overlap(stripped, body)
        if k:
            head = body[k:]
    return head[_common_prefix_len(trailing_ws, head):]


class Seam:
    """Applies `join_seam` to a streamed continuation: buffers its first characters, then passes through.

    Usage: `piece = seam.feed(delta)` for each delta (append `piece` if non-empty), then
    `seam.flush()` when the stream ends or breaks.
    """

    def __init__(self, shown: str, form: Form | None) -> None:
        self._shown = shown
        self._form = form
        self._buffer = ""
        self._decided = form is None or not shown

    def feed(self, delta: str) -> str:
        if self._decided:
            return delta
        self._buffer += delta
        settled = self._buffer.lstrip()
        if len(settled) < SEAM_WINDOW and self._form is Form.CONTINUE:
            return ""
        if not settled:
            return ""  # only whitespace so far: cannot tell yet how much of W it repeats
        return self.flush()

    def flush(self) -> str:
        if self._decided:
            return ""
        self._decided = True
        head, self._buffer = self._buffer, ""
        assert self._form is not None
        return join_seam(self._shown, head, self._form)
