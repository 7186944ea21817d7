"""Markdown → Slack mrkdwn: one table row per conversion rule, plus property tests."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.render.mrkdwn import HR_LINE, ZWSP, display_width, render_growing, to_mrkdwn

Z = ZWSP
LIT = "<!date^00000000^{_}|"  # a Slack date token with an invalid format: Slack shows its fallback as plain text

CASES: list[tuple[str, str, str]] = [
    # --- emphasis
    ("bold_stars", "**bold**", "*bold*"),
    ("bold_underscores", "__bold__", "*bold*"),
    ("italic_star", "*it*", "_it_"),
    ("italic_underscore", "_it_", "_it_"),
    ("strike", "~~gone~~", "~gone~"),
    ("bold_italic", "***both***", "_*both*_"),
    ("italic_inside_bold", "**a *b* c**", "*a _b_ c*"),
    ("bold_inside_bold_flattened", "**a **b** c**", "*a b c*"),
    ("bold_inside_strike", "~~**x**~~", "~*x*~"),
    ("two_bold_runs", "**a** and **b**", "*a* and *b*"),
    ("single_star_with_spaces_literal", "x * y * z", "x * y * z"),
    # --- zero-width spaces next to word characters
    ("ja_bold_between_kana", "これは**重要**です", f"これは{Z}*重要*{Z}です"),
    ("ja_italic_between_kana", "日本*語*です", f"日本{Z}_語_{Z}です"),
    ("ja_strike_between_kana", "これは~~取消~~です", f"これは{Z}~取消~{Z}です"),
    ("ja_bold_at_start", "**重要**です", f"*重要*{Z}です"),
    ("ja_bold_before_punctuation", "**重要**。", "*重要*。"),
    ("ja_bold_around_brackets", "これは**「重要」**です", f"これは{Z}*「重要」*{Z}です"),
    ("ja_bold_ending_in_punctuation", "**重要。**次", f"*重要。*{Z}次"),
    ("ja_inline_code", "値は`x`です", f"値は{Z}`x`{Z}です"),
    ("latin_intraword_bold", "foo**bar**baz", f"foo{Z}*bar*{Z}baz"),
    ("digits_intraword_bold", "1**2**3", f"1{Z}*2*{Z}3"),
    ("bold_then_letters", "**bold**text", f"*bold*{Z}text"),
    ("spaces_need_no_zwsp", "a **b** c", "a *b* c"),
    ("parentheses_need_no_zwsp", "(**b**)", "(*b*)"),
    ("ja_underscore_intraword_stays_literal", "これは_強調_です", "これは_強調_です"),
    # --- links
    ("link", "[text](https://e.com)", "<https://e.com|text>"),
    ("link_text_escaped", "[a & <b>](https://e.com)", "<https://e.com|a &amp; &lt;b&gt;>"),
    ("link_text_pipe", "[a|b](https://e.com)", "<https://e.com|a∣b>"),
    ("link_text_gt", "[a > b](https://e.com)", "<https://e.com|a &gt; b>"),
    ("link_url_ampersand", "[x](https://e.com/?a=1&b=2)", "<https://e.com/?a=1&amp;b=2|x>"),
    ("link_text_equals_url", "[https://e.com](https://e.com)", "<https://e.com>"),
    ("link_formatting_in_label_dropped", "[**b**](https://e.com)", "<https://e.com|b>"),
    ("bold_link_before_kana", "**[link](https://e.com)**です", f"*<https://e.com|link>*{Z}です"),
    ("autolink", "<https://e.com>", "<https://e.com>"),
    ("email_autolink", "<a@b.co>", "<mailto:a@b.co|a@b.co>"),
    ("bare_url", "see https://e.com/x.", "see <https://e.com/x>."),
    ("bare_url_parentheses", "(http://x.com/a_(b)_c).", "(<http://x.com/a_(b)_c>)."),
    # issue 13, defect 6: a bare URL keeps its non-ASCII path and its "*" (the link goes to the right page)
    ("bare_url_non_ascii_path", "https://ja.wikipedia.org/wiki/東京", "<https://ja.wikipedia.org/wiki/東京>"),
    ("bare_url_star_in_path", "https://example.com/*star*/x", "<https://example.com/*star*/x>"),
    ("bare_url_japanese_after_ascii_path", "詳細はhttps://example.com/docsを参照", "詳細は<https://example.com/docs>を参照"),
    ("bare_url_inside_bold", "**https://e.com/x**", "*<https://e.com/x>*"),
    ("relative_link", "[doc](/path)", "doc (/path)"),
    ("image", "![alt](https://e.com/i.png)", "<https://e.com/i.png|alt>"),
    ("image_without_alt", "![](https://e.com/i.png)", "<https://e.com/i.png>"),
    # --- headings
    ("h1", "# Title", "*Title*"),
    ("h6", "###### Six", "*Six*"),
    ("heading_then_paragraph", "# Title\nText", "*Title*\n\nText"),
    ("heading_inner_bold_flattened", "## A **b** c", "*A b c*"),
    ("setext_heading", "Title\n---\ntext", "*Title*\n\ntext"),
    ("ja_heading", "## 概要", "*概要*"),
    # --- lists
    ("bullets", "- a\n- b", "• a\n• b"),
    (
        "nested_bullets",
        "* a\n    * b\n        * c\n            * d",
        "• a\n    ◦ b\n        ▪ c\n            ▪ d",
    ),
    ("ordered", "1. x\n2. y", "1. x\n2. y"),
    ("ordered_keeps_start", "3. x\n4. y", "3. x\n4. y"),
    ("ordered_renumbers_lazy_numbers", "1. one\n1. two", "1. one\n2. two"),
    ("ordered_paren_delimiter", "1) x\n2) y", "1) x\n2) y"),
    ("ordered_with_nested_bullets", "1. a\n   - b", "1. a\n    ◦ b"),
    ("task_items_as_text", "- [ ] todo\n- [x] done", "• [ ] todo\n• [x] done"),
    ("loose_list", "- a\n\n- b", "• a\n\n• b"),
    ("item_continuation_paragraph", "- a\n\n  more", "• a\n\n    more"),
    ("list_after_paragraph", "Steps:\n\n- a\n- b", "Steps:\n\n• a\n• b"),
    # --- block quotes
    ("quote", "> q", "> q"),
    ("quote_two_lines", "> a\n> b", "> a\n> b"),
    ("quote_two_paragraphs", "> a\n>\n> b", "> a\n>\n> b"),
    ("quote_with_list", "> - x", "> • x"),
    # --- code
    ("fence_language_dropped", "```python\nx = 1\n```", "```\nx = 1\n```"),
    ("fence_escaped_only", "```\na < b && c > d\n```", "```\na &lt; b &amp;&amp; c &gt; d\n```"),
    ("fence_not_converted", "```\n**not bold** [x](y) _z_\n```", "```\n**not bold** [x](y) _z_\n```"),
    ("fence_mention_literal", "```\n<@U123ABC>\n```", "```\n&lt;@U123ABC&gt;\n```"),
    ("fence_backtick_run_broken", "````\n```\n````", f"```\n`{Z}`{Z}`\n```"),
    ("tilde_fence", "~~~sh\nls\n~~~", "```\nls\n```"),
    ("indented_code", "    code\n    more", "```\ncode\nmore\n```"),
    ("empty_fence", "```\n```", "```\n \n```"),
    ("code_in_list", "- run:\n\n  ```sh\n  ls -l\n  ```", "• run:\n\n    ```\nls -l\n    ```"),
    ("inline_code", "`a < b`", "`a &lt; b`"),
    ("inline_code_not_converted", "`**x** _y_`", "`**x** _y_`"),
    ("inline_code_backtick", "`` a`b ``", "`aˋb`"),
    ("inline_code_mention_literal", "`<@U1>`", "`&lt;@U1&gt;`"),
    # --- tables
    ("table", "| a | b |\n|---|---|\n| 1 | 22 |", "```\na | b\n--+---\n1 | 22\n```"),
    (
        "table_cjk_width",
        "| 名前 | x |\n|---|---|\n| 太郎さん | y |",
        "```\n名前     | x\n---------+--\n太郎さん | y\n```",
    ),
    (
        "table_alignment",
        "| a | b |\n|--:|:-:|\n| 1 | 22 |\n| 333 | 4 |",
        "```\n  a | b\n----+---\n  1 | 22\n333 | 4\n```",
    ),
    (
        "table_inline_content",
        "| x | y |\n|---|---|\n| **b** `c` | [l](http://e.com) |\n| a & b | <@U1> |",
        "```\nx     | y\n------+-----------------\nb c   | l (http://e.com)\na &amp; b | &lt;@U1&gt;\n```",
    ),
    (  # issue 13, defect 9: a ZWJ family is one picture, two columns wide, as Slack shows it
        "table_zwj_emoji_two_columns",
        "| a | b |\n|---|---|\n| 👨\u200d👩\u200d👧 | x |\n| ab | y |",
        "```\na  | b\n---+--\n👨\u200d👩\u200d👧 | x\nab | y\n```",
    ),
    (  # issue 13, defect 9: an escaped pipe stays inside its cell and does not read as a column separator
        "table_escaped_pipe_in_cell",
        "| a | b |\n|---|---|\n| x \\| y \\| z | w |",
        "```\na         | b\n----------+--\nx ∣ y ∣ z | w\n```",
    ),
    # --- horizontal rule
    ("hr", "a\n\n---\n\nb", f"a\n\n{HR_LINE}\n\nb"),
    ("hr_stars", "***", HR_LINE),
    # --- escaping and Slack sequences
    ("escape_text", "a & b < c > d", "a &amp; b &lt; c &gt; d"),
    ("entities_decoded_then_escaped", "&amp; &lt; &copy;", "&amp; &lt; ©"),
    ("user_mention_kept", "hi <@U123ABC>!", "hi <@U123ABC>!"),
    ("user_mention_with_name_kept", "x <@U1|bob> y", "x <@U1|bob> y"),
    ("channel_kept", "<#C123ABC> and <#C123|general>", "<#C123ABC> and <#C123|general>"),
    ("subteam_kept", "<!subteam^S123> please", "<!subteam^S123> please"),
    ("slack_link_kept", "<https://e.com|the site>", "<https://e.com|the site>"),
    (
        "slack_link_ampersand_escaped",
        "<https://e.com/?a=1&b=2|A & B>",
        "<https://e.com/?a=1&amp;b=2|A &amp; B>",
    ),
    ("mailto_kept", "<mailto:a@b.co>", "<mailto:a@b.co>"),
    ("here_neutralised", "<!here> look", "&lt;!here&gt; look"),
    ("channel_ping_neutralised", "x <!channel>", "x &lt;!channel&gt;"),
    ("everyone_neutralised", "x <!everyone>", "x &lt;!everyone&gt;"),
    ("here_with_label_neutralised", "x <!here|here>", "x &lt;!here|here&gt;"),
    ("inline_html_shown", "a <b>bold</b>", "a &lt;b&gt;bold&lt;/b&gt;"),
    ("html_block_shown", "<div>\nhi\n</div>", "&lt;div&gt;\nhi\n&lt;/div&gt;"),
    ("html_comment_shown", "<!-- c -->", "&lt;!-- c --&gt;"),
    ("html_block_keeps_mention", "<div>\n<@U1> hi\n</div>", "&lt;div&gt;\n<@U1> hi\n&lt;/div&gt;"),
    ("literal_gt_at_line_start_not_quote", "\\> not quote", f"{Z}&gt; not quote"),
    # --- issue 13, defect 2: a literal ``` outside code never pairs with a real fence
    (
        "literal_triple_backtick_in_prose",
        "Type ``` to open a block:\n\n```py\nx = 1\n```",
        f"Type {LIT}```> to open a block:\n\n```\nx = 1\n```",
    ),
    ("cm_example_347_unmatched_backtick_runs", "```foo``", f"{LIT}```>foo{LIT}``>"),
    (
        "cm_example_161_html_block_with_fence_lines",
        "<div></div>\n``` c\nint x = 33;\n```",
        f"&lt;div&gt;&lt;/div&gt;\n{LIT}```> c\nint x = 33;\n{LIT}```>",
    ),
    (
        "html_block_markers_literal",
        "<div>\n**Hello**, _world_.\n</div>",
        f"&lt;div&gt;\n{LIT}**>Hello{LIT}**>, {LIT}_>world{LIT}_>.\n&lt;/div&gt;",
    ),
    # --- issue 13, defect 4: escapes and entities stay the characters the model wrote
    ("escaped_star_not_bold", "\\*not emphasized*", f"{LIT}*>not emphasized{LIT}*>"),
    ("escaped_backticks_not_code", "\\`not code\\`", f"{LIT}`>not code{LIT}`>"),
    ("entity_stars_not_bold", "&#42;foo&#42;", f"{LIT}*>foo{LIT}*>"),
    ("escaped_underscores_not_italic", "\\_not italic\\_", f"{LIT}_>not italic{LIT}_>"),
    ("single_tildes_not_struck", "~not struck~", f"{LIT}~>not struck{LIT}~>"),
    ("lone_star_between_spaces_untouched", "2 * 3 * 4", "2 * 3 * 4"),
    ("snake_case_untouched", "call snake_case_name now", "call snake_case_name now"),
    ("tilde_paths_untouched", "see ~/.config and ~/.bashrc", "see ~/.config and ~/.bashrc"),
    ("link_label_markers_look_alike", "[\\*a\\*](https://e.com)", "<https://e.com|∗a∗>"),
    # --- issue 13, defect 5: no "**" left in the output
    ("heading_with_escaped_stars", "# foo *bar* \\*baz\\*", f"*foo _bar_ {LIT}*>baz{LIT}*>*"),
    ("bold_then_literal_star", "**foo***", f"*foo*{LIT}*>"),
    ("bold_label_without_space", "**Note:**This has no space.", f"*Note:*{Z}This has no space."),
    ("bold_label_without_space_ja", "**注意：**これは大事", f"*注意：*{Z}これは大事"),
    ("literal_star_run_inside_bold", "**a****b**", f"*a{LIT}****>b*"),
    ("adjacent_strikes_kept_apart", "~~a~~~~b~~", f"~a~{Z}~b~"),
    # --- issue 13, defect 7: Markdown that renders to nothing still gives Slack the model's text
    ("reference_definitions_only_shown", "[a]: https://x.com\n[b]: https://y.com", "[a]: https://x.com\n[b]: https://y.com"),
    ("empty_heading_shown", "#", "#"),
    # markdown-it drops what is nested deeper than its limit: such input is shown as it is instead
    ("deep_nesting_shown_as_text", "> " * 120 + "deep", Z + "&gt; " * 120 + "deep"),
    # --- layout
    ("paragraphs_one_blank_line", "a\n\n\n\nb", "a\n\nb"),
    ("soft_break_kept", "a\nb", "a\nb"),
    ("hard_break", "a  \nb", "a\nb"),
    ("no_trailing_whitespace", "a   \n\n", "a"),
    ("empty", "", ""),
    ("only_spaces", "   ", ""),
]


@pytest.mark.parametrize(("markdown", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_to_mrkdwn(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown) == expected


STREAMING_CASES: list[tuple[str, str, str]] = [
    ("unclosed_bold", "**bold", f"{LIT}**>bold"),
    ("unclosed_bold_after_closed_one", "done **x** and **y", f"done *x* and {LIT}**>y"),
    ("unclosed_italic", "_x", "_x"),
    ("unclosed_inline_code", "`x and **y**", "`x and *y*"),
    ("ja_unclosed_bold", "これは**重要", f"これは{LIT}**>重要"),
    ("unclosed_fence", "```py\nx = 1", "```\nx = 1\n```"),
    ("unclosed_fence_then_nothing", "```py", "```\n \n```"),
    ("partial_closing_fence_hidden", "```py\nx = 1\n``", "```\nx = 1\n```"),
    ("partial_closing_fence_one_backtick", "```py\nx = 1\n`", "```\nx = 1\n```"),
    ("partial_closing_fence_in_quote", "> ```py\n> x = 1\n> ``", "> ```\n> x = 1\n> ```"),
    ("text_before_unclosed_fence", "Code:\n\n```py\nif a < b:", "Code:\n\n```\nif a &lt; b:\n```"),
]


@pytest.mark.parametrize(
    ("markdown", "expected"), [c[1:] for c in STREAMING_CASES], ids=[c[0] for c in STREAMING_CASES]
)
def test_to_mrkdwn_streaming(markdown: str, expected: str) -> None:
    assert to_mrkdwn(markdown, streaming=True) == expected


def test_partial_closing_fence_is_content_when_final() -> None:
    assert to_mrkdwn("```py\nx = 1\n``") == "```\nx = 1\n``\n```"


def test_streaming_equals_final_for_finished_text() -> None:
    text = "# T\n\n**a** `b`\n\n```py\nx\n```\n\n- c"
    assert to_mrkdwn(text, streaming=True) == to_mrkdwn(text)


@pytest.mark.parametrize(
    ("text", "width"),
    [
        ("abc", 3),
        ("日本", 4),
        ("ｱ", 1),
        ("é", 1),
        ("e\u0301", 1),
        (f"a{Z}b", 2),
        ("", 0),
        ("👨\u200d👩\u200d👧", 2),
        ("🇯🇵", 2),
        ("👍🏽", 2),
        ("1\ufe0f\u20e3", 2),
        ("❤\ufe0f", 2),
    ],
    ids=[
        "ascii", "wide", "halfwidth_kana", "precomposed", "combining", "zwsp", "empty",
        "zwj_family", "flag", "skin_tone", "keycap", "emoji_presentation",
    ],
)
def test_display_width(text: str, width: int) -> None:
    assert display_width(text) == width


# ------------------------------------------------------------------------------------------ properties

_ALLOWED_SEQUENCE_RE = re.compile(
    r"<(?:@[A-Z0-9]+|#[A-Z0-9]+|!subteam\^[A-Z0-9]+|[A-Za-z][A-Za-z0-9+.\-]*:[^\s<>|]*)(?:\|[^<>]*)?>"
    r"|<!date\^00000000\^\{_\}\|[*_~`]+>"  # literal marker characters (see bot.render.slack_text)
)
# Block quote markers: ">" at the start of a line, possibly after list markers/indentation or other ">".
_QUOTE_PREFIX_RE = re.compile(r"^(?:[ ]*(?:(?:[•◦▪]|\d+[.)])[ ]*)*>)+", re.MULTILINE)
_FRAGMENTS = [
    "**",
    "*",
    "_",
    "__",
    "~~",
    "`",
    "```",
    "#",
    "-",
    "1.",
    ">",
    "|",
    "---",
    "<@U123ABC>",
    "<#C1|gen>",
    "<!here>",
    "<!channel>",
    "<!everyone>",
    "<!subteam^S1>",
    "<mailto:a@b.co>",
    "<b>",
    "</div>",
    "&",
    "&amp;",
    "<",
    ">",
    "https://example.com/x_y",
    "重要",
    "です",
    "。",
    "😀",
    "\\",
    "!",
    "[",
    "]",
    "(",
    ")",
    "abc",
    "```py\n",
    "\n",
    "\n\n",
    " ",
    "\t",
    "<div>\n",
    "[x](https://e.com/a?b=1&c=2)",
    "<https://e.com|a & b>",
]
_markdownish = st.lists(
    st.one_of(st.sampled_from(_FRAGMENTS), st.text(alphabet="ab <>&*_`~|\n日本😀", max_size=5)), max_size=40
).map("".join)


@settings(max_examples=200, deadline=None)
@given(_markdownish, st.booleans())
def test_output_is_escaped_except_allowed_sequences(markdown: str, streaming: bool) -> None:
    out = to_mrkdwn(markdown, streaming=streaming)
    assert out == out.rstrip()
    for broadcast in ("<!here", "<!channel", "<!everyone"):
        assert broadcast not in out
    rest = _ALLOWED_SEQUENCE_RE.sub("", _QUOTE_PREFIX_RE.sub("", out))
    assert "<" not in rest
    assert ">" not in rest
    assert re.search(r"&(?!amp;|lt;|gt;)", out) is None


_plain_text = st.text(
    alphabet=st.sampled_from([*"abcXYZ019 \nこれは重要な日本語テキストです한국어", "é", "ß"]), max_size=120
)


@settings(max_examples=200, deadline=None)
@given(_plain_text, st.booleans())
def test_every_word_of_plain_text_survives(text: str, streaming: bool) -> None:
    out = to_mrkdwn(text, streaming=streaming)
    for word in re.findall(r"\w+", text):
        assert word in out


_GROWING_FRAGMENTS = st.sampled_from(
    [
        "alpha ", "**b** ", "\n", "\n\n", "- item\n", "  - nested\n", "1. one\n", "2. two\n", "> q\n", ">",
        "```py\n", "```\n", "~~~\n", "| a | b |\n", "|---|---|\n", "# H\n", "===\n", "---\n", "    code\n",
        "[r]: https://x.com\n", "[x]: /u \"t\"\n", "\"title\"\n", "[r] ", "[x]\n", "<div>\n", "<!-- c\n", "-->\n",
        "`", "*", "_", "|", "=", "+", "1)", " ", "\t", "これは**重要**です",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_GROWING_FRAGMENTS, max_size=40), st.lists(st.integers(1, 30), min_size=1, max_size=40))
def test_rendering_a_growing_text_piece_by_piece_equals_rendering_it_whole(
    fragments: list[str], steps: list[int]
) -> None:
    """The layout renders only the last block again as the answer grows; that must not change the text."""
    text = "".join(fragments)
    state = None
    pos = 0
    for index in range(len(text)):
        if pos >= len(text):
            break
        pos = min(len(text), pos + steps[index % len(steps)])
        shown, length, state = render_growing(text[:pos], state, streaming=True)
        assert length == pos
        assert shown == to_mrkdwn(text[:pos], streaming=True)
    assert render_growing(text, state, streaming=False)[0] == to_mrkdwn(text)


@pytest.mark.parametrize(
    ("steps", "expected"),
    [
        # "*" would start a list; "**" continues the item before it, so the item is not final yet
        (["- item\n*", "*"], "• item\n    **"),
        # the table that "-" made of the line before is undone by "->", so that line is not final either
        (["alpha \n|- item\n--", ">"], "alpha\n|- item\n--&gt;"),
        # a definition still being written must not decide how earlier text renders
        (['alpha [x]: /u "t"\n- item\n\n[x]: /u ', '"'], 'alpha [x]: /u "t"\n\n• item\n\n[x]: /u "'),
        # a definition that arrives later turns earlier text into a link
        (
            ["[y] is a link\n\n- a\n- b\n\nmore text\n\n", "[y]: https://y.com\n"],
            "<https://y.com|y> is a link\n\n• a\n• b\n\nmore text",
        ),
    ],
    ids=["lazy_line", "table_undone", "definition_being_written", "late_definition"],
)
def test_growing_text_is_not_settled_too_early(steps: list[str], expected: str) -> None:
    state = None
    text = ""
    for step in steps:
        text += step
        shown, _length, state = render_growing(text, state, streaming=True)
    assert shown == expected
