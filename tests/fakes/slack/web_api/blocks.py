"""Block Kit checks Slack makes on a message's ``blocks`` (the parts the bot uses).

At most 50 blocks (``msg_blocks_too_many``); a ``section``'s text at most 3,000 characters (``invalid_blocks``);
``markdown`` blocks at most 12,000 characters together (``msg_blocks_too_long``); a ``context_actions`` block
holds 1–5 ``feedback_buttons`` or ``icon_button`` elements, each feedback button with a ``text`` of at most 75
characters and a ``value`` of at most 2,000 (``invalid_blocks``).
"""

from __future__ import annotations

from typing import Any

MAX_BLOCKS = 50
SECTION_TEXT = 3000
MARKDOWN_TOTAL = 12_000


def _feedback_ok(element: Any) -> bool:
    if not isinstance(element, dict) or element.get("type") not in ("feedback_buttons", "icon_button"):
        return False
    if element["type"] == "icon_button":
        return True
    for key in ("positive_button", "negative_button"):
        button = element.get(key)
        if not isinstance(button, dict):
            return False
        text = (button.get("text") or {}).get("text") if isinstance(button.get("text"), dict) else None
        value = button.get("value")
        if not isinstance(text, str) or not text or len(text) > 75 or not isinstance(value, str) or len(value) > 2000:
            return False
    return True


def check_blocks(blocks: list[Any]) -> str | None:
    """Slack's error for these blocks, or None if it accepts them."""
    if len(blocks) > MAX_BLOCKS:
        return "msg_blocks_too_many"
    markdown = 0
    for block in blocks:
        if not isinstance(block, dict):
            return "invalid_blocks"
        kind = block.get("type")
        if kind == "section":
            text = (block.get("text") or {}).get("text")
            if not isinstance(text, str) or len(text) > SECTION_TEXT:
                return "invalid_blocks"
        elif kind == "markdown":
            text = block.get("text")
            if not isinstance(text, str):
                return "invalid_blocks"
            markdown += len(text)
        elif kind == "context_actions":
            elements = block.get("elements")
            if not isinstance(elements, list) or not 1 <= len(elements) <= 5 or not all(map(_feedback_ok, elements)):
                return "invalid_blocks"
    return "msg_blocks_too_long" if markdown > MARKDOWN_TOTAL else None
