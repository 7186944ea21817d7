"""Feedback buttons and clicks (pure): the block Slack documents, sections within 3,000, reading a click."""

from __future__ import annotations

import pytest

from bot.slack.feedback import Click, buttons, edit_blocks, read_click, sections


def test_buttons_are_a_context_actions_block_with_feedback_buttons_naming_the_answer() -> None:
    block = buttons("T1-C1-1.0")
    assert block["type"] == "context_actions"
    (element,) = block["elements"]
    assert element["type"] == "feedback_buttons" and element["action_id"] == "answer_feedback"
    assert element["positive_button"]["value"] == "good:T1-C1-1.0"
    assert element["negative_button"]["value"] == "bad:T1-C1-1.0"
    assert all(len(element[k]["text"]["text"]) <= 75 for k in ("positive_button", "negative_button"))


def test_sections_cut_at_line_ends_within_3000_and_reopen_code() -> None:
    text = "intro\n```\n" + "line of code\n" * 300 + "```\nend"
    blocks = sections(text)
    texts = [b["text"]["text"] for b in blocks]
    assert all(len(t) <= 3000 for t in texts)
    assert texts[0].endswith("\n```") and texts[1].startswith("```\n")
    assert all(t.count("```") % 2 == 0 for t in texts)


def test_a_short_text_is_one_section_then_the_buttons() -> None:
    blocks = edit_blocks("*Bold* answer.", "A")
    assert blocks[0] == {"type": "section", "text": {"type": "mrkdwn", "text": "*Bold* answer."}}
    assert blocks[1]["type"] == "context_actions" and len(blocks) == 2


@pytest.mark.parametrize(("action", "expected"), [
    ({"action_id": "answer_feedback", "value": "good:T-C-1.0"}, Click("T-C-1.0", True)),
    ({"action_id": "answer_feedback", "value": "bad:T-C-1.0"}, Click("T-C-1.0", False)),
    ({"action_id": "answer_feedback", "value": "meh:T-C-1.0"}, None),
    ({"action_id": "answer_feedback", "value": "good:"}, None),
    ({"action_id": "other", "value": "good:T-C-1.0"}, None),
])
def test_read_click(action: dict[str, str], expected: Click | None) -> None:
    assert read_click(action) == expected
