"""Where long answers are cut into Slack messages: boundary tables, fence handling, properties, speed."""

from __future__ import annotations

import math
from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.mrkdwn import to_mrkdwn
from bot.render.splitting import REOPEN_MARK, join_parts, slack_length, split_all, split_markdown


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
    (
        "list_prefix",
        "- step:\n\n  ```sh\n  aaa\n  bbb\n  ccc\n  ```\n",
        30,
        f"  ```sh{REOPEN_MARK}0\n  bbb\n  ccc\n  ```\n",
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
