"""The Markdown parser the mrkdwn converter reads (pure, configured once at import and only read).

markdown-it-py with CommonMark plus the GFM ``table`` and ``strikethrough`` rules, and our own rules:

* ``slack_sequence``: a Slack control sequence the model wrote on purpose (``<@U…>``, ``<#C…>``,
  ``<https://…|label>``…) becomes one token, kept verbatim by the converter;
* ``bare_url``: a bare ``http(s)://`` URL becomes one token before emphasis, so ``*`` in its path stays in it
  (:mod:`bot.render.urls` says where a URL ends);
* ``emphasis``: CommonMark's delimiter test, relaxed next to CJK text (``これは**「重要」**です`` is bold) and
  after a label (``**Note:**This``: bold "Note:");
* ``unclosable_bracket``: a run of ``[`` with no ``]`` after it is text (skips a slow scan of the link rule);
* ``strip_seams``: the splitter's seams (:mod:`bot.render.seams`) are removed before inline parsing.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from markdown_it import MarkdownIt
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.rules_inline.state_inline import Delimiter

from bot.render.cjk import is_cjk
from bot.render.seams import SEAM, TABLE_SEAM
from bot.render.urls import starts_url, url_at

_LABEL_END: Final = frozenset(":.!?,;)]}”’»")  # what a bold label typically ends with ("**Note:**")
# Slack control sequences that the model may write on purpose and that are kept verbatim (only a bare "&"
# inside them is escaped). Broadcasts such as <!here> deliberately do not match and therefore get escaped.
SLACK_SEQUENCE_RE: Final = re.compile(
    r"<(?:"
    r"@[A-Z0-9]+"  # user mention: <@U123ABC> or <@U123|name>
    r"|#[A-Z0-9]+"  # channel: <#C123ABC> or <#C123|name>
    r"|!subteam\^[A-Z0-9]+"  # user group: <!subteam^S123>
    r"|(?:https?://|mailto:)[^\s<>|]+"  # link: <https://…>, <https://…|label>, <mailto:…>
    r")(?:\|[^<>\n]*)?>"
)


def _slack_sequence_rule(state: StateInline, silent: bool) -> bool:
    """markdown-it inline rule: turn a Slack control sequence into a single ``slack_sequence`` token.

    It runs before ``autolink``/``html_inline`` so that ``<https://x|label>`` is not mangled into an
    autolink and ``<!subteam^S1>`` is not taken for an HTML declaration. Code spans are consumed by the
    earlier ``backticks`` rule, so sequences inside code stay code.
    """
    if state.src[state.pos] != "<":
        return False
    match = SLACK_SEQUENCE_RE.match(state.src, state.pos, state.posMax)
    if match is None:
        return False
    if not silent:
        token = state.push("slack_sequence", "", 0)
        token.content = match.group(0)
    state.pos = match.end()
    return True


def _bare_url_rule(state: StateInline, silent: bool) -> bool:
    """markdown-it inline rule: a bare ``http(s)://`` URL becomes one ``bare_url`` token.

    It fires at the ``:`` of the scheme (the ``text`` rule stops there and has put the scheme into
    ``state.pending``), before emphasis, so ``https://example.com/*star*/x`` stays one URL; where it ends
    is :func:`bot.render.urls.url_at`'s business. Not inside link labels (links do not nest).
    """
    pos = state.pos
    src = state.src
    if state.linkLevel > 0 or not src.startswith("://", pos):
        return False
    for scheme in ("https", "http"):
        start = pos - len(scheme)
        if state.pending.lower().endswith(scheme) and start >= 0 and src[start:pos].lower() == scheme:
            break
    else:
        return False
    if not starts_url(src, start):
        return False
    end = url_at(src, start, state.posMax)
    if end <= start:
        return False
    if not silent:
        state.pending = state.pending[: -len(scheme)]
        token = state.push("bare_url", "", 0)
        token.content = src[start:end]
    state.pos = end
    return True


def _unclosable_bracket_rule(state: StateInline, silent: bool) -> bool:
    """markdown-it inline rule: a run of ``[`` with no ``]`` after it is text, so skip the link rule for it.

    The link rule would scan ahead for a label from every one of them (about 14 µs a character for a line
    of ``[``); none can start a link or reference, so the result is the same.
    """
    pos = state.pos
    if state.src[pos] != "[" or state.src.find("]", pos, state.posMax) >= 0:
        return False
    end = pos
    while end < state.posMax and state.src[end] == "[":
        end += 1
    if not silent:
        state.pending += state.src[pos:end]
    state.pos = end
    return True


def _is_unicode_space(char: str) -> bool:
    return char in "\t\n\f\r" or unicodedata.category(char) == "Zs"


def _is_unicode_punct(char: str) -> bool:
    return unicodedata.category(char).startswith(("P", "S"))


def _scan_emphasis(src: str, start: int, end: int, marker: str) -> tuple[bool, bool, int]:
    """CommonMark's delimiter-run classification, relaxed next to CJK text.

    CommonMark does not let ``**`` open when it follows a letter and precedes punctuation, so
    ``これは**「重要」**です`` stays literal. Japanese has no spaces to put there, so (as in the
    "CJK-friendly" emphasis proposals) a CJK character on the outside counts like whitespace for the
    punctuation test. Returns ``(can_open, can_close, run_length)``.
    """
    pos = start
    while pos < end and src[pos] == marker:
        pos += 1
    before = src[start - 1] if start > 0 else " "
    after = src[pos] if pos < end else " "
    before_space, after_space = _is_unicode_space(before), _is_unicode_space(after)
    before_punct, after_punct = _is_unicode_punct(before), _is_unicode_punct(after)
    left = not after_space and (not after_punct or before_space or before_punct or is_cjk(before))
    right = not before_space and (not before_punct or after_space or after_punct or is_cjk(after))
    if marker == "*" and pos - start >= 2 and before in _LABEL_END and after.isalnum():
        # "**Note:**This" (a common typo in model output): CommonMark leaves it literal, a reader sees bold.
        right = True
    if marker == "*":
        return left, right, pos - start
    return left and (not right or before_punct), right and (not left or after_punct), pos - start


def _emphasis_rule(state: StateInline, silent: bool) -> bool:
    """Replacement for markdown-it's ``emphasis`` tokenizer that uses :func:`_scan_emphasis`.

    Like the original it only records delimiters; markdown-it's own ``balance_pairs`` and emphasis
    post-processing still pair them into ``em``/``strong`` tokens.
    """
    marker = state.src[state.pos]
    if silent or marker not in "_*":
        return False
    can_open, can_close, length = _scan_emphasis(state.src, state.pos, state.posMax, marker)
    for _ in range(length):
        token = state.push("text", "", 0)
        token.content = marker
        state.delimiters.append(
            Delimiter(
                marker=ord(marker),
                length=length,
                token=len(state.tokens) - 1,
                end=-1,
                open=can_open,
                close=can_close,
            )
        )
    state.pos += length
    return True


_SEAM_CHARS: Final = frozenset(SEAM + TABLE_SEAM)
MAX_NESTING: Final = 20  # markdown-it drops blocks nested deeper (and parses links slowly with more): shown as text


def _strip_seams(state: StateCore) -> None:
    """markdown-it core rule (after block parsing, before inline): remove the splitter's seams.

    A seam (see :mod:`bot.render.seams`) only occurs where a part starts. Removing it from the
    content before inline parsing means emphasis and links right after it parse as in the whole answer;
    the whitespace a continuation line starts with is dropped (CommonMark drops it there), and so is the
    line break after a seam that ended a line (that line was shown in the previous part). In code the
    seam's line is dropped if nothing else is on it.
    """
    if not _SEAM_CHARS.intersection(state.src[:1000]):
        return
    for token in state.tokens:
        content = token.content
        if SEAM not in content and TABLE_SEAM not in content:
            continue
        if token.type == "inline":
            content = content.replace(TABLE_SEAM, "")
            if content.startswith(SEAM):
                content = content[len(SEAM) :].lstrip(" \t")
                content = content[2:] if content.startswith("\r\n") else content
                content = content[1:] if content[:1] in ("\n", "\r") else content
            token.content = content.replace(SEAM, "")
        elif token.type in ("code_block", "fence", "html_block"):
            head, _newline, rest = content.partition("\n")
            if head.strip(" \t\r") == SEAM:
                content = rest
            token.content = content.replace(SEAM, "")


def _build_parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"maxNesting": MAX_NESTING}).enable(["table", "strikethrough"])
    parser.core.ruler.before("inline", "strip_seams", _strip_seams)
    parser.inline.ruler.at("emphasis", _emphasis_rule)
    parser.inline.ruler.before("autolink", "slack_sequence", _slack_sequence_rule)
    parser.inline.ruler.before("linkify", "bare_url", _bare_url_rule)
    parser.inline.ruler.before("link", "unclosable_bracket", _unclosable_bracket_rule)
    return parser


# Configured once and only ever read afterwards: MarkdownIt.parse keeps all its state in per-call objects.
PARSER: Final = _build_parser()
