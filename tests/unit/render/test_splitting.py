"""Where long answers are cut into Slack messages: boundary tables, fence handling, properties, speed."""

from __future__ import annotations

import math
import re
from collections.abc import Callable

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from markdown_it import MarkdownIt

from bot.render.mrkdwn import to_mrkdwn
from bot.render.splitting import (
    REOPEN_MARK,
    join_parts,
    slack_length,
    split_all,
    split_markdown,
)

# The splitter's insertions, as documented in bot/render/seams.py (written out, not imported).
SEAM = "\u2063\u2064\u2063"
TABLE_SEAM = "\u2063\u2062\u2063"
LIT = "<!date^00000000^{_}|"  # how the converter shows marker characters literally
# An independent CommonMark parser to ask what a part is (block level).
CM = MarkdownIt("commonmark").enable("table")


def identity(text: str) -> str:
    return text


def check_split(text: str, limit: int, render: Callable[[str], str], *, reserve: int = 0) -> tuple[str, str]:
    head, rest = split_markdown(text, limit, render=render, reserve=reserve)
    assert head
    assert slack_length(render(head)) + reserve <= limit
    assert join_parts([head, rest]) == text
    return head, rest


FENCED = "Intro:\n\n```python\n" + "".join(f"print({i})\n" for i in range(10)) + "```\n\nDone."

# (id, text, limit, render, expected head)
HEAD_CASES: list[tuple[str, str, int, Callable[[str], str], str]] = [
    (
        "paragraph_end",
        "aaaa aaaa aaaa.\n\nbbbb bbbb bbbb.\n\ncccc cccc cccc.",
        40,
        identity,
        "aaaa aaaa aaaa.\n\nbbbb bbbb bbbb.\n\n",
    ),
    ("line_end", "line one\nline two\nline three\nline four", 25, identity, "line one\nline two\n"),
    (
        "sentence_end",
        "One two three. Four five six. Seven eight nine.",
        35,
        identity,
        "One two three. Four five six. ",
    ),
    ("between_words", "alpha beta gamma delta epsilon zeta eta theta", 20, identity, "alpha beta gamma "),
    (
        "japanese_after_maru",
        "これは最初の文です。これは二番目の文です。これは三番目の文です。",
        25,
        identity,
        "これは最初の文です。これは二番目の文です。",
    ),
    ("japanese_without_punctuation", "日本語" * 20, 25, identity, "日本語" * 8 + "日"),
    (
        "japanese_no_comma_at_line_start",
        "あいうえおかきくけこ、さしすせそたちつてと",
        10,
        identity,
        "あいうえおかきくけ",
    ),
    (
        "long_url_not_cut",
        "Read this: https://example.com/" + "x" * 30 + " now please",
        40,
        identity,
        "Read this: ",
    ),
    (  # issue 13, defect 6: the splitter knows the same URLs as the converter
        "url_with_japanese_path_not_cut",
        "見て https://ja.wikipedia.org/wiki/東京都庁舎 です",
        36,
        identity,
        "見て ",
    ),
    ("mention_not_cut", "hello there <@U123ABCDEF> friend", 20, identity, "hello there "),
    ("mention_not_cut_rendered", "hello there <@U123ABCDEF> friend", 20, to_mrkdwn, "hello there "),
    ("emoji_code_not_cut", "great job :white_check_mark: team", 20, identity, "great job "),
    ("slack_link_not_cut", "go to <https://example.com|the docs site> now", 30, identity, "go to "),
    ("markdown_link_not_cut", "see [the docs page](https://example.com/docs) today", 30, identity, "see "),
    ("inline_code_not_cut", "run `pip install foo bar baz` first", 20, identity, "run "),
    (
        "list_items",
        "- item one\n- item two\n- item three\n- item four",
        25,
        identity,
        "- item one\n- item two\n",
    ),
    (
        "table_rows",
        "| a | b |\n|---|---|\n| 1 | 2 |\n| 3 | 4 |\n| 5 | 6 |",
        30,
        identity,
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
    ),
    (
        "heading_not_left_alone",
        "intro words.\n\nsecond para.\n\n# Head\n\nbody text",
        40,
        identity,
        "intro words.\n\nsecond para.\n\n",
    ),
    (
        "fence_closed_and_reopened",
        FENCED,
        60,
        identity,
        "Intro:\n\n```python\nprint(0)\nprint(1)\nprint(2)\nprint(3)\n```",
    ),
    (
        "fence_rendered_limit",
        FENCED,
        60,
        to_mrkdwn,
        "Intro:\n\n```python\nprint(0)\nprint(1)\nprint(2)\nprint(3)\nprint(4)\n```",
    ),
    ("fence_cut_mid_line", "```\n" + "x" * 100 + "\n```", 50, identity, "```\n" + "x" * 42 + "\n```"),
    (
        "fence_in_list_item",
        "- step:\n\n  ```sh\n  aaa\n  bbb\n  ccc\n  ```\n",
        30,
        identity,
        "- step:\n\n  ```sh\n  aaa\n  ```",
    ),
    ("fence_in_quote", "> ```\n> aaa\n> bbb\n> ccc\n> ```", 20, identity, "> ```\n> aaa\n> ```"),
    ("whole_text_fits", "short text", 100, identity, "short text"),
    ("whole_text_fits_rendered", "**short** text", 12, to_mrkdwn, "**short** text"),
]


@pytest.mark.parametrize(
    ("text", "limit", "render", "expected"), [c[1:] for c in HEAD_CASES], ids=[c[0] for c in HEAD_CASES]
)
def test_split_markdown_head(text: str, limit: int, render: Callable[[str], str], expected: str) -> None:
    head, rest = check_split(text, limit, render)
    assert head == expected
    if head == text:
        assert rest == ""


# (id, text, limit, expected rest) for cuts inside fenced code blocks
REOPEN_CASES: list[tuple[str, str, int, str]] = [
    (
        "language_kept_flag_0",
        FENCED,
        60,
        f"```python{REOPEN_MARK}0\nprint(4)\nprint(5)\nprint(6)\nprint(7)\nprint(8)\nprint(9)\n```\n\nDone.",
    ),
    ("mid_line_flag_1", "```\n" + "x" * 100 + "\n```", 50, f"```{REOPEN_MARK}1\n" + "x" * 58 + "\n```"),
    (  # the list item is reopened too (the converter does not show its bullet again)
        "list_item_reopened",
        "- step:\n\n  ```sh\n  aaa\n  bbb\n  ccc\n  ```\n",
        30,
        f"- ```sh{REOPEN_MARK}0\n  bbb\n  ccc\n  ```\n",
    ),
    ("quote_prefix", "> ```\n> aaa\n> bbb\n> ccc\n> ```", 20, f"> ```{REOPEN_MARK}0\n> bbb\n> ccc\n> ```"),
    ("tilde_fence", "~~~~text\naaa\nbbb\nccc\n~~~~", 20, f"~~~~text{REOPEN_MARK}0\nbbb\nccc\n~~~~"),
]


@pytest.mark.parametrize(
    ("text", "limit", "expected_rest"), [c[1:] for c in REOPEN_CASES], ids=[c[0] for c in REOPEN_CASES]
)
def test_fence_reopened_in_rest(text: str, limit: int, expected_rest: str) -> None:
    _head, rest = check_split(text, limit, identity)
    assert rest == expected_rest


def test_reopened_fence_renders_without_marker() -> None:
    head, rest = check_split(FENCED, 60, to_mrkdwn)
    assert to_mrkdwn(head).endswith("print(4)\n```")
    shown = to_mrkdwn(rest)
    assert shown.startswith("```\nprint(5)\n")
    assert "split" not in shown
    assert "\u2063" not in shown


def test_fence_split_repeatedly_joins_back() -> None:
    text = "Before.\n\n```js\n" + "".join(f"console.log({i});\n" for i in range(60)) + "```\nAfter."
    parts = split_all(text, 120)
    assert len(parts) > 5
    assert join_parts(parts) == text
    for part in parts:
        shown = to_mrkdwn(part)
        assert slack_length(shown) <= 120
        assert shown.count("```") % 2 == 0
    for part in parts[1:-1]:
        assert part.startswith(f"```js{REOPEN_MARK}")


def test_split_all_long_url_kept_whole_when_it_fits() -> None:
    url = "https://example.com/" + "a" * 60
    text = ("word " * 12) + url + " tail words here"
    parts = split_all(text, 90)
    assert join_parts(parts) == text
    assert any(url in part for part in parts)


def test_reserve_is_respected() -> None:
    head, _rest = check_split("word " * 20, 40, identity, reserve=10)
    assert head == "word " * 6


def test_limit_not_above_reserve_raises() -> None:
    with pytest.raises(ValueError):
        split_markdown("abc", 10, reserve=10)


@pytest.mark.parametrize(
    "cluster",
    ["👨\u200d👩\u200d👧", "🇯🇵", "e\u0301", "👍🏽", "1\ufe0f\u20e3", "か\u3099", "\r\n"],
    ids=["zwj_family", "flag", "combining_accent", "skin_tone", "keycap", "dakuten", "crlf"],
)
def test_clusters_are_never_cut(cluster: str) -> None:
    text = cluster * 40
    for part in split_all(text, 20, render=identity):
        assert part
        assert len(part) % len(cluster) == 0
        assert part == cluster * (len(part) // len(cluster))


@pytest.mark.parametrize(
    ("text", "length"),
    [("", 0), ("abc", 3), ("日本", 2), ("😀", 2), ("👨\u200d👩\u200d👧", 8), ("&amp;", 5)],
    ids=["empty", "ascii", "cjk", "astral", "zwj_sequence", "entity"],
)
def test_slack_length_counts_utf16_units(text: str, length: int) -> None:
    assert slack_length(text) == length


def test_join_parts_without_marks_concatenates() -> None:
    assert join_parts(["a", "b\n", "c"]) == "ab\nc"
    assert join_parts([]) == ""


def test_join_parts_ignores_a_marker_in_the_first_part() -> None:
    part = f"```{REOPEN_MARK}0\ncode\n```"
    assert join_parts([part]) == part


def test_split_all_empty_text() -> None:
    assert split_all("", 100) == []


def test_rendered_table_part_fits_and_cuts_between_rows() -> None:
    rows = "".join(f"| row {i} | value {i} |\n" for i in range(30))
    text = "| name | value |\n|---|---|\n" + rows
    parts = split_all(text, 200)
    assert len(parts) > 1
    assert join_parts(parts) == text
    for part in parts:
        assert slack_length(to_mrkdwn(part)) <= 200
        assert part.endswith("|\n")


# ------------------------------------------------------------------- issue 13: every part means what it meant


@pytest.mark.parametrize(
    ("marker", "shown"),
    [
        ("~~~", "~~~ four five six seven eight"),
        ("```", f"{LIT}```> four five six seven eight"),
        ("#", "# four five six seven eight"),
        ("-", "- four five six seven eight"),
        ("+", "+ four five six seven eight"),
        ("*", "* four five six seven eight"),
        ("1.", "1. four five six seven eight"),
        (">", "\u200b&gt; four five six seven eight"),
        ("<div>", "&lt;div&gt; four five six seven eight"),
    ],
    ids=["tildes", "backticks", "hash", "dash", "plus", "star", "number", "quote", "html"],
)
def test_rest_starting_with_a_block_marker_stays_text(marker: str, shown: str) -> None:
    """Issue 13, defect 1: the rest of a paragraph never opens a code block, heading, list, quote or HTML."""
    text = f"one two three {marker} four five six seven eight"
    head, rest = split_markdown(text, 14)
    assert head == "one two three "
    assert rest == f"{SEAM}{marker} four five six seven eight"
    assert to_mrkdwn(rest) == shown
    assert join_parts([head, rest]) == text


def test_a_paragraph_line_that_looks_like_a_list_item_stays_text() -> None:
    """Issue 13, defect 1 at a line break: '2.' cannot start a list inside a paragraph, but could a part."""
    text = "alpha beta gamma\n2. delta epsilon zeta"
    head, rest = split_markdown(text, 20, render=identity)
    assert (head, rest) == ("alpha beta gamma\n", f"{SEAM}2. delta epsilon zeta")
    assert to_mrkdwn(rest) == "2. delta epsilon zeta"
    assert [t.type for t in CM.parse(rest)] == ["paragraph_open", "inline", "paragraph_close"]


def test_a_long_paragraph_with_tildes_at_the_cut_stays_text() -> None:
    """Issue 13, defect 1 at the real limit: '~~~' at offset 3,898 of a 6,203-character paragraph."""
    text = ("a " * 1949 + "~~~ " + "b " * 1151).strip()
    assert len(text) == 6203 and text.index("~~~") == 3898
    parts = split_all(text, 3900)
    assert join_parts(parts) == text
    shown = [to_mrkdwn(part) for part in parts]
    assert all("```" not in s for s in shown)  # no part became a code block
    assert " ".join(shown).split() == text.split()  # every word is shown, as text
    for part in parts:
        assert [t.type for t in CM.parse(part)] == ["paragraph_open", "inline", "paragraph_close"]


def test_long_table_repeats_its_header_in_every_part() -> None:
    """Issue 13, defect 3: a table continued in the next message is still a table, with its header."""
    text = "| name | value |\n|---|---|\n" + "".join(f"| row {i} | *{i}* |\n" for i in range(1, 10))
    parts = split_all(text, 80)
    assert [to_mrkdwn(part) for part in parts] == [
        "```\nname  | value\n------+------\nrow 1 | 1\nrow 2 | 2\nrow 3 | 3\n```",
        "```\nname  | value\n------+------\nrow 4 | 4\nrow 5 | 5\nrow 6 | 6\nrow 7 | 7\n```",
        "```\nname  | value\n------+------\nrow 8 | 8\nrow 9 | 9\n```",
    ]
    assert parts[1].startswith(f"|{TABLE_SEAM} name | value |\n|---|---|\n| row 4 |")
    assert join_parts(parts) == text


def test_long_table_at_the_real_limit() -> None:
    """Issue 13, defect 3: an 8,600-character table split at 3,900 shows no raw pipes in any part."""
    rows = []
    while sum(len(row) for row in rows) < 8600:
        rows.append(f"| row {len(rows)} | *{len(rows)}* |\n")
    text = "| name | value |\n|---|---|\n" + "".join(rows)
    parts = split_all(text, 3900)
    assert len(parts) >= 2
    assert join_parts(parts) == text
    for part in parts:
        shown = to_mrkdwn(part)
        assert slack_length(shown) <= 3900
        assert shown.startswith("```\nname ")
        assert shown.endswith("\n```") and shown.count("```") == 2
        assert "| row" not in shown and "*" not in shown


def test_forced_cut_inside_indented_code_keeps_it_code() -> None:
    """Issue 13, defect 8: the rest of a code line cut in two is still code, so an entity stays literal."""
    parts = split_all("    f&ouml;f&ouml;\n", 20)
    assert [to_mrkdwn(part) for part in parts] == ["```\nf&amp;ouml;f\n```", "```\n&amp;ouml;\n```"]
    assert join_parts(parts) == "    f&ouml;f&ouml;\n"


@pytest.mark.parametrize("render", [to_mrkdwn, identity], ids=["mrkdwn", "as_is"])
def test_a_very_long_fence_never_raises(render: Callable[[str], str]) -> None:
    """Issue 13, defect 8: reopening a fence needs a line of bounded length, whatever the fence and language."""
    text = "~" * 7800 + " lang " + "i" * 7800 + "\n" + "".join(f"line {i}\n" for i in range(2000)) + "~" * 7800 + "\n"
    parts = split_all(text, 3900, render=render)
    assert join_parts(parts) == text
    assert all(slack_length(render(part)) <= 3900 for part in parts)
    if render is to_mrkdwn:
        assert all(to_mrkdwn(part).startswith("```\n") for part in parts)
        assert parts[1].startswith(f"~~~ lang{REOPEN_MARK}2\nline ")  # reopened short, nothing added before
        assert all(part.startswith(f"~~~ lang{REOPEN_MARK}") for part in parts[1:])


def test_trailing_spaces_get_no_part_of_their_own() -> None:
    """Issue 13, defect 10: no part renders to nothing."""
    parts = split_all("word " * 1000 + " " * 9000, 3900)
    assert [to_mrkdwn(part) for part in parts] == [("word " * 780).strip(), ("word " * 220).strip()]
    assert join_parts(parts) == "word " * 1000 + " " * 9000
    parts = split_all("\n" * 9000 + "word " * 1000, 3900)  # nor does leading whitespace
    assert all(to_mrkdwn(part).strip() for part in parts)
    assert " ".join(to_mrkdwn(part) for part in parts).split() == ["word"] * 1000


def test_a_nested_list_item_continues_inside_its_list() -> None:
    """A cut inside a nested item: the rest reopens both items (without showing their bullets again)."""
    text = "- a\n  - b1 b2 b3 b4 b5 b6 b7 b8 b9\n  - c\n- d\n"
    parts = split_all(text, 30)
    assert parts == ["- a\n  - b1 b2 b3 b4 b5 b6 ", f"- - {SEAM}b7 b8 b9\n  - c\n- d\n"]
    assert [to_mrkdwn(part) for part in parts] == ["• a\n    ◦ b1 b2 b3 b4 b5 b6", "        b7 b8 b9\n    ◦ c\n• d"]
    assert join_parts(parts) == text


def test_an_item_indented_four_spaces_continues_at_its_depth() -> None:
    """A nested item four columns in: its marker cannot share a line with its parent's, so the parent's marker
    gets a line of its own (a list item may start with an empty line)."""
    text = "- a\n    - b1 b2 b3 b4 b5 b6 b7 b8 b9\n    - c\n"
    parts = split_all(text, 30)
    assert parts == ["- a\n    - b1 b2 b3 b4 b5 b6 ", f"-\n    - {SEAM}b7 b8 b9\n    - c\n"]
    assert to_mrkdwn(parts[1]) == "        b7 b8 b9\n    ◦ c"
    assert join_parts(parts) == text


def test_a_quote_continues_as_a_quote() -> None:
    text = "> one two three four five six seven eight nine ten\n> eleven twelve\n"
    parts = split_all(text, 30)
    assert [to_mrkdwn(part) for part in parts] == [
        "> one two three four five six",
        "> seven eight nine ten",
        "> eleven twelve",
    ]
    assert join_parts(parts) == text


def test_a_heading_is_never_cut_from_its_underline() -> None:
    text = "Some words here\nand a title\n===\n\nbody text goes on and on"
    head, rest = split_markdown(text, 35, render=identity)
    assert head == "Some words here\nand a title\n===\n\n"
    assert rest == "body text goes on and on"


def test_a_cut_never_leaves_a_line_that_turns_into_a_rule() -> None:
    """'--- x' is text; '--- ' at the end of a part would be a thematic break."""
    text = "alpha beta\n--- gamma delta epsilon"
    head, rest = split_markdown(text, 16, render=identity)
    assert head == "alpha beta\n"
    assert join_parts([head, rest]) == text


# ------------------------------------------------------------------------------------------ properties

_ALPHABET = st.sampled_from([*"ab xyz\n\n`*_<>&|-#.。、!日本語です漢字😀👍", "\u200d", "é", "\t"])
_FRAGMENTS = st.sampled_from(
    [
        "```py\n",
        "```\n",
        "~~~\n",
        "\n```\n",
        "<@U123ABC>",
        ":smile:",
        "https://example.com/a/b?c=d&e=f",
        "[link](https://example.com)",
        "**bold**",
        "`code`",
        "- item\n",
        "1. one\n",
        "> quote\n",
        "| a | b |\n|---|---|\n| 1 | 2 |\n",
        "# Heading\n\n",
        "  ```sh\n",
        "これは**重要**です。",
        "<!here>",
    ]
)
_texts = st.lists(
    st.one_of(_FRAGMENTS, st.text(alphabet=_ALPHABET, min_size=1, max_size=30)), max_size=40
).map("".join)


@settings(max_examples=200, deadline=None)
@given(_texts, st.integers(min_value=50, max_value=500))
def test_split_all_properties(text: str, limit: int) -> None:
    parts = split_all(text, limit)
    assert join_parts(parts) == text
    for part in parts:
        assert part
        assert slack_length(to_mrkdwn(part)) <= limit


@settings(max_examples=200, deadline=None)
@given(_texts, st.integers(min_value=50, max_value=500), st.integers(min_value=0, max_value=40))
def test_split_markdown_head_fits_with_reserve(text: str, limit: int, reserve: int) -> None:
    head, rest = split_markdown(text, limit, reserve=reserve)
    assert join_parts([head, rest]) == text
    assert slack_length(to_mrkdwn(head)) + reserve <= limit
    assert head or not text
    assert rest == "" or head


# ---------------------------------------------------- property: every part keeps the block structure it had
#
# Written from the documented behaviour, not from the product's code: an independent CommonMark parse says
# what each line of the whole and of each part is (its leaf block and the quotes and lists around it), and
# each part's own text is found by the documented insertion format (bot/render/seams.py).

_LEAF_KINDS = {
    "paragraph_open": "paragraph",
    "heading_open": "heading",
    "fence": "code",
    "code_block": "code",
    "table_open": "table",
    "html_block": "html",
    "hr": "hr",
}
_CONTAINERS = ("blockquote", "bullet_list", "ordered_list", "list_item")
_REOPEN_RE = re.compile(re.escape(REOPEN_MARK) + r"([0-3])$")
_OPENER_LINE_RE = re.compile(r"[ \t>]*(?:(?:[-+*]|\d{1,9}[.)])[ \t>]*)*")


def _line_structure(text: str) -> list[tuple[str, tuple[str, ...]] | None]:
    """For each line: (its leaf block, the containers around it, outermost first), or None (blank...)."""
    lines = text.split("\n")
    info: list[tuple[str, tuple[str, ...]] | None] = [None] * len(lines)
    stack: list[str] = []
    for token in CM.parse(text):
        name = token.type.rsplit("_", 1)[0]
        if name in _CONTAINERS and token.nesting == 1:
            stack.append(name)
        elif name in _CONTAINERS and token.nesting == -1:
            stack.pop()
        elif token.type in _LEAF_KINDS and token.map:
            for line in range(token.map[0], min(token.map[1], len(lines))):
                info[line] = (_LEAF_KINDS[token.type], tuple(stack))
    return info


def _insertion_line(part: str) -> tuple[int, str] | None:
    """(offset, text) of the line ending the splitter's insertion at the start of ``part``, if any."""
    offset = 0
    lines = part.split("\n")
    for index, line in enumerate(lines[:9]):
        if SEAM in line or TABLE_SEAM in line or _REOPEN_RE.search(line):
            return offset, line
        if index == len(lines) - 1 or not _OPENER_LINE_RE.fullmatch(line):
            return None
        offset += len(line) + 1
    return None


def _own_text_spans(parts: list[str]) -> list[tuple[int, int]]:
    """For each part, where its own text (not inserted by the splitter) starts and ends."""
    spans = []
    for index, part in enumerate(parts):
        start = 0
        found = _insertion_line(part) if index else None
        if found:
            offset, line = found
            reopen = _REOPEN_RE.search(line)
            if reopen:
                fence = re.search(r"`{3,}|~{3,}", line)
                assert fence is not None
                continued = re.sub(r"[^\s>]", " ", line[: fence.start()]) if reopen.group(1) in "13" else ""
                start = offset + len(line) + 1 + len(continued)
            elif TABLE_SEAM in line:
                start = offset + len(line) + 1 + len(part[offset:].split("\n", 2)[1]) + 1
            else:
                start = offset + line.index(SEAM) + len(SEAM)
        end = len(part)
        following = _insertion_line(parts[index + 1]) if index + 1 < len(parts) else None
        reopen = _REOPEN_RE.search(following[1]) if following else None
        if following and reopen and reopen.group(1) in "01":
            fence = re.search(r"`{3,}|~{3,}", following[1])
            assert fence is not None
            closing = re.sub(r"[^\s>]", " ", following[1][: fence.start()]) + fence.group(0)
            assert part.endswith(closing)
            end -= len(closing) + (1 if reopen.group(1) == "1" else 0)
        spans.append((start, end))
    return spans


def _outside_code(shown: str) -> str:
    """Slack text without code blocks, code spans and literal-character tokens (each left as one letter)."""
    shown = re.sub(r"<!date\^00000000\^\{_\}\|[^>]*>", "x", shown)
    kept = []
    in_code = False
    for line in shown.split("\n"):
        if line.lstrip(" >•◦▪0123456789.)") == "```":
            in_code = not in_code
        elif not in_code:
            kept.append(re.sub(r"`[^`\n]*`", "c", line))
    return "\n".join(kept)


_WORDS = st.sampled_from(
    [
        "alpha", "beta", "gamma", "**bold**", "*it*", "`code`", "[link](https://e.com/x)", "https://e.com/a_b",
        "日本語の文章です。", "これは長い日本語の文章で句読点がありません", "#", "-", "+", "1.", "2.", ">", "~~~", "*",
        "|", "===", "---", "<b>bold</b>", "x", "end.", "Note:", "\\*esc\\*", "a_b_c", "~~strike~~",
    ]
)
_PARAGRAPH = st.lists(_WORDS, min_size=1, max_size=30).map(" ".join)
_LEAF = st.one_of(
    _PARAGRAPH,
    st.lists(_PARAGRAPH, min_size=2, max_size=4).map("\n".join),
    st.tuples(st.integers(1, 3), st.lists(_WORDS, min_size=1, max_size=4)).map(
        lambda t: "#" * t[0] + " " + " ".join(t[1])
    ),
    st.lists(_WORDS, min_size=1, max_size=4).map(lambda ws: " ".join(ws) + "\n==="),
    st.tuples(
        st.sampled_from(["```", "~~~", "````"]),
        st.sampled_from(["", "py", "sh"]),
        st.lists(st.sampled_from(["x = 1", "", "  indented", "```", "- item", "# c"]), max_size=12),
    ).map(lambda t: t[0] + t[1] + "\n" + "".join(line + "\n" for line in t[2]) + t[0]),
    st.lists(st.sampled_from(["a | b", "1 | *2*", "x \\| y | z"]), min_size=1, max_size=8).map(
        lambda rows: "| h1 | h2 |\n|---|---|\n" + "\n".join(f"| {row} |" for row in rows)
    ),
    st.lists(st.sampled_from(["code()", "more", "x < y"]), min_size=1, max_size=5).map(
        lambda lines: "\n".join("    " + line for line in lines)
    ),
    st.lists(st.sampled_from(["<div>", "**Hello**", "text _x_", "</div>"]), max_size=3).map(
        lambda lines: "\n".join(["<div>", *lines])
    ),
    st.just("---"),
)


def _indent(block: str, first: str, rest: str) -> str:
    lines = block.split("\n")
    return "\n".join((first if i == 0 else rest if line.strip() else "") + line for i, line in enumerate(lines))


_BLOCK = st.recursive(
    _LEAF,
    lambda inner: st.one_of(
        st.tuples(
            st.sampled_from(["- ", "* ", "1. ", "3) ", "10. "]),
            st.sampled_from([0, 1, 2]),  # extra indentation of the item's content lines (nested items deeper)
            st.lists(st.lists(inner, min_size=1, max_size=3), min_size=1, max_size=4),
            st.booleans(),
        ).map(
            lambda t: ("\n\n" if t[3] else "\n").join(
                _indent("\n\n".join(item), t[0], " " * (len(t[0]) + t[1])) for item in t[2]
            )
        ),
        st.lists(inner, min_size=1, max_size=3).map(lambda blocks: _indent("\n\n".join(blocks), "> ", "> ")),
    ),
    max_leaves=8,
)
_DOCUMENTS = st.lists(_BLOCK, min_size=1, max_size=6).map(lambda blocks: "\n\n".join(blocks) + "\n")


def _small_unsplittable_blocks(text: str, limit: int) -> bool:
    """Headings, HTML blocks, table rows and fence opening lines cannot be cut; keep them well under a part."""
    lines = text.split("\n")
    for token in CM.parse(text):
        block = "\n".join(lines[token.map[0] : token.map[1]]) if token.map else ""
        if token.type in ("heading_open", "html_block", "tr_open") and 8 * len(block) > limit:
            return False
        if token.map and token.type == "fence" and 2 * len(lines[token.map[0]]) > limit:
            return False
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much, HealthCheck.too_slow])
@given(_DOCUMENTS, st.integers(min_value=120, max_value=900), st.booleans())
def test_every_part_keeps_its_block_structure(text: str, limit: int, native: bool) -> None:
    """Issue 13: any generated answer, any cut: each part renders as the block structure it had in the whole
    (paragraph, heading, code, table, HTML, rule, and the quotes and lists around it), no literal ```
    or ** reaches Slack outside code, and the parts join back exactly."""
    assume(_small_unsplittable_blocks(text, limit))
    render = identity if native else to_mrkdwn
    parts = split_all(text, limit, render=render)
    assert join_parts(parts) == text
    spans = _own_text_spans(parts)
    assert "".join(part[start:end] for part, (start, end) in zip(parts, spans, strict=True)) == text
    whole = _line_structure(text)
    done = 0
    for part, (start, end) in zip(parts, spans, strict=True):
        shown = render(part)
        assert shown.strip() and slack_length(shown) <= limit
        mine = _line_structure(part)
        for index in range(start, end):
            if not part[index].isspace():
                where = done + index - start
                assert mine[part.count("\n", 0, index)] == whole[text.count("\n", 0, where)], (part, index)
        done += end - start
        if not native:
            assert "```" not in _outside_code(shown)
            assert "**" not in _outside_code(shown)


# ------------------------------------------------------------------------------------------ efficiency


def _long_answer(size: int) -> str:
    block = (
        "## Section\n\nこれは**重要**な文章です。Some *italic* text with `code` and a "
        "[link](https://example.com/a?b=1&c=2). More words follow, and then some more words.\n\n"
        "- item one\n- item **two**\n  - nested item\n\n"
        "```python\nprint('x')\nfor i in range(3):\n    pass\n```\n\n"
        "| a | b |\n|---|---|\n| 1 | 2 |\n\n"
    )
    return (block * (size // len(block) + 1))[:size]


def test_long_answer_splits_with_few_renders() -> None:
    text = _long_answer(50_000)
    calls = 0

    def counting_render(markdown: str) -> str:
        nonlocal calls
        calls += 1
        return to_mrkdwn(markdown)

    parts = split_all(text, 3900, render=counting_render)
    assert join_parts(parts) == text
    assert all(slack_length(to_mrkdwn(part)) <= 3900 for part in parts)
    assert calls <= len(parts) * 2 * math.ceil(math.log2(len(text)))
    assert calls <= 3 * len(parts)  # typically: one probe and one verification per split
