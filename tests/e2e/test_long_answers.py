"""Long Markdown answers end to end: good splits, mrkdwn rendering, nothing lost, limits never passed.

The expected Slack text is written out here from the shapes of the scripted answer (a list item, a
heading, a table row…), never computed with the bot's own converter; the parts are checked against the
model's scripted text, which they must give back exactly.
"""

from __future__ import annotations

import random
import re
from typing import Any

import pytest

from bot.render.splitting import join_parts
from tests.e2e.helpers import final_state, marks
from tests.fakes.bedrock import Answer, FakeBedrock, Stream
from tests.fakes.slack import FakeSlack

pytestmark = pytest.mark.usefixtures("fresh")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(BEDROCK_MAX_TOKENS="2000", MAX_CONTINUATIONS="10", UPDATE_INTERVAL_SECONDS="0.05")


def markdown_answer(size: int, seed: int = 7) -> str:
    rng = random.Random(seed)
    blocks: list[str] = []
    n = 0
    while sum(len(b) for b in blocks) < size:
        n += 1
        kind = n % 6
        if kind == 0:
            blocks.append(f"## Section {n}\n\n")
        elif kind == 1:
            blocks.append("".join(f"- item **{i}** with `code` and [a link](https://example.com/{n}/{i})\n"
                                  for i in range(rng.randint(2, 6))) + "\n")
        elif kind == 2:
            body = "".join(f"    x_{i} = compute({i}) & mask  # <tag>\n" for i in range(rng.randint(5, 40)))
            blocks.append(f"```python\ndef f{n}():\n{body}```\n\n")
        elif kind == 3:
            blocks.append("| key | value |\n|---|---|\n" + "".join(f"| k{i} | {i * i} |\n" for i in range(4)) + "\n")
        elif kind == 4:
            blocks.append("これは日本語の文章です。**重要な点**を説明します。" * rng.randint(3, 12) + "\n\n")
        else:
            words = " ".join(rng.choice(["alpha", "beta", "gamma", "delta", "x < y", "a & b"]) for _ in range(80))
            blocks.append(f"Paragraph {n}: {words}.\n\n")
    return "".join(blocks)


def utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def outside_code(text: str) -> str:
    """Slack text without its code blocks and code spans."""
    kept: list[str] = []
    in_code = False
    for line in text.split("\n"):
        if line.strip() == "```":
            in_code = not in_code
        elif not in_code:
            kept.append(re.sub(r"`[^`\n]*`", "", line))
    return "\n".join(kept)


ITEM = r"- item \*\*(\d+)\*\* with `code` and \[a link\]\((https://example\.com/\d+/\d+)\)"
JAPANESE = "これは日本語の文章です。**重要な点**を説明します。"
JAPANESE_SHOWN = "これは日本語の文章です。*重要な点*\u200bを説明します。"  # U+200B where bold touches a letter


def expected_lines(md: str) -> list[str]:
    """What Slack must show for the whole lines of a part's Markdown that have a known shape."""
    expected = []
    for line in md.split("\n"):
        if match := re.fullmatch(r"## Section (\d+)", line):
            expected.append(f"*Section {match[1]}*")
        elif match := re.fullmatch(ITEM, line):
            expected.append(f"• item *{match[1]}* with `code` and <{match[2]}|a link>")
        elif match := re.fullmatch(r"    x_(\d+) = compute\(\1\) & mask  # <tag>", line):
            expected.append(f"    x_{match[1]} = compute({match[1]}) &amp; mask  # &lt;tag&gt;")
        elif match := re.fullmatch(r"\| (k\d) \| (\d+) \|", line):
            expected.append(f"{match[1]}  | {match[2]}")
        elif re.fullmatch(f"(?:{re.escape(JAPANESE)})+", line):
            expected.append(JAPANESE_SHOWN * (len(line) // len(JAPANESE)))
        elif re.fullmatch(r"Paragraph \d+: [a-z<>& ]+\.", line):
            expected.append(line.replace("&", "&amp;").replace("<", "&lt;"))
    return expected


def test_a_50k_markdown_answer_arrives_whole_and_readable(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    text = markdown_answer(50_000)
    bedrock.set_fallback(lambda request: Answer(text, token_chars=8, delay=0.0))
    ts = slack.user_says("C1", "U1", "<@UBOT> write the whole manual")
    replies = final_state(slack, "C1", ts, timeout=60)
    assert len(bedrock.calls) >= 4  # continued past max_tokens several times
    assert len(replies) >= 13
    parts = [marks(m)["md"] for m in replies]
    assert join_parts(parts) in (text, text.rstrip())  # nothing lost or repeated
    checked = 0
    for message, part in zip(replies, parts, strict=True):
        shown = message["text"]
        assert 0 < utf16_length(shown) <= 3900
        assert shown.count("```") % 2 == 0  # every code block in a message is closed in it
        assert "**" not in outside_code(shown) and "](" not in outside_code(shown)  # no Markdown left over
        lines = shown.split("\n")
        for line in expected_lines(part):
            assert line in lines, (line, shown)
            checked += 1
    assert checked > 500  # most lines of the answer were checked as written out above
    for call in slack.calls_for("chat.update") + slack.calls_for("chat.postMessage"):
        assert len(call.params.get("text", "")) <= 4000  # interim edits never passed the limit either
    assert not [c for c in slack.calls if c.error == "msg_too_long"]


def test_a_table_continued_in_the_next_message_keeps_its_header(
    bot: Any, slack: FakeSlack, bedrock: FakeBedrock
) -> None:
    rows = "".join(f"| row {i:03d} | *{i}* |\n" for i in range(400))  # about 8,000 characters
    text = "Results:\n\n| name | value |\n|---|---|\n" + rows + "\nThat is all."
    bedrock.enqueue(Stream([text[i : i + 400] for i in range(0, len(text), 400)]))
    ts = slack.user_says("C1", "U1", "<@UBOT> the table please")
    replies = final_state(slack, "C1", ts, timeout=30)
    assert len(replies) >= 2
    tables = [m["text"][m["text"].index("```") :] for m in replies if "```" in m["text"]]
    assert len(tables) == len(replies)
    for table in tables:
        assert table.startswith("```\nname    | value\n--------+------\nrow ")  # the header, as a table
        assert "| row" not in table and "*" not in table  # no raw Markdown row anywhere
    assert join_parts([marks(m)["md"] for m in replies]) == text


def test_code_block_cut_by_a_split_is_closed_and_reopened(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    code = "".join(f"line_{i} = {i}  # some code\n" for i in range(400))  # ~11,000 chars of code
    text = "Here is the script:\n\n```python\n" + code + "```\n\nThat is all."
    bedrock.enqueue(Stream([text[i:i + 500] for i in range(0, len(text), 500)]))
    ts = slack.user_says("C1", "U1", "<@UBOT> code please")
    replies = final_state(slack, "C1", ts, timeout=30)
    assert len(replies) >= 3
    for message in replies[:-1]:
        assert message["text"].count("```") % 2 == 0  # every message's code block is closed
        assert message["text"].endswith("  # some code\n```")
    for message in replies[1:]:
        assert re.match(r"```\nline_\d+ = \d+  # some code\n", message["text"])  # and reopened in the next
    assert "python" not in "".join(m["text"] for m in replies)  # the fence language is dropped
    assert join_parts([marks(m)["md"] for m in replies]) == text


def test_msg_too_long_is_handled_by_splitting_smaller(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    text = " ".join(f"word{i}" for i in range(1200))  # ~9,000 characters
    slack.fail_next("chat.update", 2, error="msg_too_long")  # Slack disagrees with our measure, twice
    bedrock.enqueue(Stream([text]))
    ts = slack.user_says("C1", "U1", "<@UBOT> long")
    replies = final_state(slack, "C1", ts, timeout=30)
    assert " ".join(m["text"] for m in replies).split() == text.split()
    assert len([c for c in slack.calls_for("chat.update") if c.error == "msg_too_long"]) == 2


def test_history_round_trip_is_the_models_markdown(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    text = markdown_answer(12_000, seed=3)
    bedrock.enqueue(Stream([text[i:i + 300] for i in range(0, len(text), 300)]))
    root = slack.user_says("C1", "U1", "<@UBOT> explain")
    assert len(final_state(slack, "C1", root, timeout=30)) >= 3
    bedrock.enqueue(Stream(["ok"]))
    ts2 = slack.user_says("C1", "U1", "thanks", thread_ts=root)
    final_state(slack, "C1", root, reply_to=ts2)
    assistant = bedrock.calls[-1].messages[1]
    assert assistant["role"] == "assistant"
    assert assistant["content"][0]["text"] == text.strip()
