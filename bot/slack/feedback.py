"""Feedback buttons under an answer, and reading a click back (pure).

The final message of every answer carries Slack's own `context_actions` block with a `feedback_buttons`
element. Each button's `value` names the answer (`good:<answer id>` / `bad:<answer id>`), so a click says which
answer it is about without a look-up.

On the native route the buttons go in `chat.stopStream(blocks=…)`, which Slack renders under the streamed text.
A message that has `blocks` shows the blocks instead of its `text`, so on the edit route the final message's
text is repeated as `section` blocks (mrkdwn, at most `SECTION_LIMIT` characters each, cut at line ends) above
the buttons; `text` stays the same (the fallback for notifications, and what every length check measures), so
the buttons never count toward the length at which an answer is split into messages. The marks (message
metadata) are what history is rebuilt from, so the buttons never reach the model either.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

ACTION_ID = "answer_feedback"
BLOCK_ID = "answer_feedback"
SECTION_LIMIT = 3000  # Slack's limit of a section block's text
POSITIVE = "good"
NEGATIVE = "bad"


def buttons(answer_id: str) -> dict[str, Any]:
    """The `context_actions` block with the two feedback buttons of one answer."""
    return {
        "type": "context_actions",
        "block_id": BLOCK_ID,
        "elements": [{
            "type": "feedback_buttons",
            "action_id": ACTION_ID,
            "positive_button": {"text": {"type": "plain_text", "text": "Good answer"},
                                "accessibility_label": "This answer was helpful", "value": f"{POSITIVE}:{answer_id}"},
            "negative_button": {"text": {"type": "plain_text", "text": "Bad answer"},
                                "accessibility_label": "This answer was not helpful",
                                "value": f"{NEGATIVE}:{answer_id}"},
        }],
    }


def sections(text: str, limit: int = SECTION_LIMIT) -> list[dict[str, Any]]:
    """`text` (mrkdwn) as section blocks of at most `limit` characters, cut at line ends where possible. A code
    block (```) cut between two sections is closed at the end of one and reopened at the start of the next."""
    blocks: list[dict[str, Any]] = []
    rest = text
    reopen = ""
    while rest:
        room = limit - len(reopen) - 4  # room for a closing fence
        if len(rest) <= limit - len(reopen):
            head, rest = rest, ""
        else:
            at = rest.rfind("\n", 0, room)
            if at <= 0:
                at = rest.rfind(" ", 0, room)
            at = at + 1 if at > 0 else room
            head, rest = rest[:at], rest[at:]
        chunk = reopen + head
        reopen = ""
        if chunk.count("```") % 2 == 1 and rest:
            chunk = chunk.rstrip("\n") + "\n```"
            reopen = "```\n"
        if chunk.strip():
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": chunk}})
    return blocks


def edit_blocks(text: str, answer_id: str) -> list[dict[str, Any]]:
    """The blocks of an edit-route answer's final message: its text as sections, then the buttons."""
    return [*sections(text), buttons(answer_id)]


@dataclass(frozen=True)
class Click:
    """One click on a feedback button."""

    answer_id: str
    positive: bool


def read_click(action: dict[str, Any]) -> Click | None:
    """The click an action of a `block_actions` payload is, or None if it is not one of ours."""
    if action.get("action_id") != ACTION_ID:
        return None
    value = action.get("value")
    if not isinstance(value, str):
        chosen = action.get("selected_button") or action.get("button")
        value = chosen.get("value") if isinstance(chosen, dict) else None
    if not isinstance(value, str) or ":" not in value:
        return None
    kind, answer_id = value.split(":", 1)
    if kind not in (POSITIVE, NEGATIVE) or not answer_id:
        return None
    return Click(answer_id=answer_id, positive=kind == POSITIVE)
