"""What a Slack message says, for the model (pure): its text, blocks, attachments and files.

A message can say more than its `text`:

* **blocks** — people's messages carry `rich_text` blocks (the client's composer writes them) that say
  the same as `text`; apps often send a short `text` fallback ("ERROR") with the content in `section`,
  `header`, `context` or `rich_text` blocks. Blocks are rendered and compared with `text` by their words
  (markup, mentions, links and emoji aside): whichever says everything the other says is sent, both when
  each says something the other does not. So nothing is sent twice and nothing is lost.
* **attachments** — a forwarded message (`is_share`, `is_msg_unfurl`: the original's text, author and
  channel), a message link unfurled, a link preview (`title`, `text`, `service_name`), another bot's alert
  (`pretext`, `title`, `text`, `fields`, `footer`). Each is read, under a header saying what it is, after
  the message's own text; together they are cut at `ATTACHMENTS_CHAR_LIMIT` with a note saying so.
* **files** — named (`[attached file: name (type)]`); with `with_files=False` they are left to the caller,
  which reads them (`bot.conversation.attachments`) and names them itself.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from bot.slack import markup

ATTACHMENTS_CHAR_LIMIT = 16_000  # per message, all attachments together (about 4,000 tokens of English)
CUT_NOTE = "[attachment cut: {n} characters left out]"

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """Drop control characters (tabs and newlines stay) and replace lone surrogates with U+FFFD, which
    JSON can carry but UTF-8 (and so Bedrock) cannot."""
    return _SURROGATE.sub("\ufffd", _CONTROL.sub("", text))


_DROPPED = "\x00"  # where the bot's own mention was (clean_text removes NULs from what people wrote)
_AROUND_DROPPED = re.compile(f"(^|\n)?[ \t]*{_DROPPED}[ \t]*")


def _close_gap(text: str) -> str:
    """Remove the bot's dropped mention with the space around it, so no double space is left."""
    return _AROUND_DROPPED.sub(lambda m: m.group(1) if m.group(1) is not None else " ", text)


_CODE = re.compile(r"(```.*?```|`[^`\n]*`)", re.DOTALL)
_SPACES = re.compile(r"(?<=\S)[ \t]{2,}")


def _tidy_spaces(text: str) -> str:
    """Runs of spaces inside a line become one (removed markup and control characters leave them), except
    in code, where they may be alignment; indentation at the start of a line stays."""
    return "".join(part if i % 2 else _SPACES.sub(" ", part) for i, part in enumerate(_CODE.split(text)))


def _link(url: str, label: str | None) -> str:
    shown = url.removeprefix("mailto:")
    if not label or label in (url, shown):
        return shown
    return f"{label} ({url})"


def slack_to_model(text: str, *, bot_user_id: str) -> str:
    """Slack markup → plain text for the model: the bot's own mention removed, `<@U…>` kept as an id,
    `<#C…|name>` → `#name`, `<url|text>` → `text (url)`, `&amp; &lt; &gt;` unescaped."""
    text = clean_text(text)

    def mention(m: re.Match[str]) -> str:
        return _DROPPED if m.group(1) == bot_user_id else f"<@{m.group(1)}>"

    text = _close_gap(markup.USER_MENTION.sub(mention, text))
    text = markup.CHANNEL.sub(lambda m: f"#{m.group(2) or m.group(1)}", text)
    text = markup.SUBTEAM.sub(lambda m: m.group(2) or f"@{m.group(1)}", text)
    text = markup.SPECIAL.sub(lambda m: f"@{m.group(1)}", text)
    text = markup.DATE.sub(lambda m: m.group(1), text)
    text = markup.LINK.sub(lambda m: _link(m.group(1), m.group(2)), text)
    return _tidy_spaces(markup.unescape(text)).strip()


# ---------------------------------------------------------------------------------------------- blocks

def _list(value: Any) -> list[Any]:
    """A payload field that should be a list (anything else, as from a malformed payload, is empty)."""
    return value if isinstance(value, list) else []


def _number(value: Any) -> int:
    try:
        return max(0, int(value or 0))
    except (TypeError, ValueError):
        return 0


def _styled(text: str, style: Any) -> str:
    core = text.strip()
    if not isinstance(style, Mapping) or not core:
        return text
    if style.get("code"):
        core = f"`{core}`"
    else:
        if style.get("bold"):
            core = f"**{core}**"
        if style.get("italic"):
            core = f"_{core}_"
        if style.get("strike"):
            core = f"~~{core}~~"
    lead, trail = len(text) - len(text.lstrip()), len(text) - len(text.rstrip())
    return text[:lead] + core + text[len(text) - trail:]


def _date(element: Mapping[str, Any]) -> str:
    if element.get("fallback"):
        return str(element["fallback"])
    try:
        return datetime.fromtimestamp(float(element.get("timestamp", 0)), UTC).strftime("%Y-%m-%d %H:%M UTC")
    except (TypeError, ValueError, OverflowError, OSError):
        return ""


def _inline(elements: Any, bot_user_id: str) -> str:
    """The inline elements of a rich text section, quote or preformatted block as text."""
    out: list[str] = []
    for element in _list(elements):
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind == "text":
            out.append(_styled(clean_text(str(element.get("text") or "")), element.get("style")))
        elif kind == "link":
            out.append(_link(str(element.get("url") or ""), clean_text(str(element.get("text") or "")) or None))
        elif kind == "user":
            user = str(element.get("user_id") or "")
            out.append(_DROPPED if user == bot_user_id else f"<@{user}>")
        elif kind == "channel":
            out.append(f"#{element.get('channel_id', '')}")
        elif kind == "usergroup":
            out.append(f"@{element.get('usergroup_id', '')}")
        elif kind == "broadcast":
            out.append(f"@{element.get('range', 'here')}")
        elif kind == "emoji":
            out.append(f":{element.get('name', '')}:")
        elif kind == "date":
            out.append(_date(element))
        elif kind == "color":
            out.append(str(element.get("value") or ""))
        elif isinstance(element.get("text"), str):  # newer inline kinds that carry their text
            out.append(clean_text(element["text"]))
    return "".join(out)


def _rich_text(elements: Any, bot_user_id: str) -> str:
    """A rich_text block's sections, lists (nested by `indent`, ordered ones numbered from `offset`, and
    continued after a nested list), quotes and preformatted text as Markdown-like text."""
    parts: list[str] = []
    counted: dict[int, tuple[str, int]] = {}  # per indent level: the list style there and its last number
    last_indent = -1  # indent of the list element just before, -1 after anything else
    for element in _list(elements):
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind != "rich_text_list":
            counted, last_indent = {}, -1
        if kind == "rich_text_section":
            parts.append(_close_gap(_inline(element.get("elements"), bot_user_id)).rstrip())
        elif kind == "rich_text_list":
            indent = _number(element.get("indent"))
            style = str(element.get("style") or "bullet")
            previous = counted.get(indent)
            resumes = last_indent > indent and previous is not None and previous[0] == style
            number = _number(element.get("offset")) or (previous[1] if resumes and previous else 0)
            lines = []
            for item in _list(element.get("elements")):
                if not isinstance(item, Mapping):
                    continue
                number += 1
                marker = f"{number}." if style == "ordered" else "-"
                said = _close_gap(_inline(item.get("elements"), bot_user_id)).strip()
                lines.append(f"{'  ' * indent}{marker} {said}".rstrip().replace("\n", "\n" + "  " * (indent + 1)))
            counted = {level: value for level, value in counted.items() if level < indent}
            counted[indent] = (style, number)
            last_indent = indent
            parts.append("\n".join(lines))
        elif kind == "rich_text_quote":
            quoted = _close_gap(_inline(element.get("elements"), bot_user_id)).strip()
            parts.append("\n".join(f"> {line}" if line else ">" for line in quoted.split("\n")))
        elif kind == "rich_text_preformatted":
            code = _inline(element.get("elements"), bot_user_id).replace(_DROPPED, "").strip("\n")
            parts.append(f"```\n{code}\n```")
    return "\n".join(p for p in parts if p.strip())


def _text_object(obj: Any, bot_user_id: str) -> str:
    """A Block Kit text object: `mrkdwn` is read like a message's text, `plain_text` as it is."""
    if not isinstance(obj, Mapping):
        return ""
    text = str(obj.get("text") or "")
    return slack_to_model(text, bot_user_id=bot_user_id) if obj.get("type") == "mrkdwn" else clean_text(text).strip()


def render_blocks(blocks: Any, *, bot_user_id: str) -> str:
    """`rich_text`, `section` (text and fields), `header`, `context` and `markdown` blocks as text for the
    model; other blocks (dividers, images, buttons…) say nothing."""
    parts: list[str] = []
    for block in _list(blocks):
        if not isinstance(block, Mapping):
            continue
        kind = block.get("type")
        if kind == "rich_text":
            parts.append(_rich_text(block.get("elements"), bot_user_id))
        elif kind == "section":
            parts.append(_text_object(block.get("text"), bot_user_id))
            parts.extend(_text_object(field, bot_user_id) for field in _list(block.get("fields")))
        elif kind == "header":
            parts.append(_text_object(block.get("text"), bot_user_id))
        elif kind == "context":
            said = (_text_object(element, bot_user_id) for element in _list(block.get("elements")))
            parts.append(" ".join(t for t in said if t))
        elif kind == "markdown":
            parts.append(clean_text(str(block.get("text") or "")).strip())
    return "\n".join(p for p in parts if p.strip()).strip()


_NOT_WORDS = re.compile(r"<@[^>\s]*>|(?:https?|mailto|tel|ftp):\S+|[@#][\w.-]+|:[\w+-]+:")
_WORD = re.compile(r"\w+")


def _words(text: str) -> Counter[str]:
    """What a text says, for comparing: its words, without mentions, channels, links' URLs and emoji codes
    (which `text` and blocks spell differently)."""
    return Counter(_WORD.findall(_NOT_WORDS.sub(" ", text).casefold()))


def either_or_both(text: str, rendered: str) -> str:
    """`text`, or the rendering of its blocks if that says everything `text` says, or both if each says
    something the other does not."""
    if not rendered:
        return text
    if not text:
        return rendered
    said, shown = _words(text), _words(rendered)
    if not shown - said:
        return text
    if not said - shown:
        return rendered
    return f"{text}\n\n{rendered}"


# ----------------------------------------------------------------------------------------- attachments

def _attachment(attachment: Mapping[str, Any], bot_user_id: str, with_files: bool = True) -> str:
    def model(key: str) -> str:
        return slack_to_model(str(attachment.get(key) or ""), bot_user_id=bot_user_id)

    if attachment.get("is_share") or attachment.get("is_msg_unfurl"):
        author = model("author_name") or model("author_subname")
        if not author and attachment.get("author_id"):
            author = f"<@{attachment['author_id']}>"
        channel = model("channel_name")
        header = "[forwarded message" if attachment.get("is_share") else "[linked message"
        header += f" from {author}" if author else ""
        header += f" in #{channel}" if channel else ""
        shared = [wrapper["message"] for wrapper in _list(attachment.get("message_blocks"))
                  if isinstance(wrapper, Mapping) and isinstance(wrapper.get("message"), Mapping)]
        shared_blocks = [block for message in shared for block in _list(message.get("blocks"))]
        body = either_or_both(model("text"), render_blocks(shared_blocks or attachment.get("blocks"),
                                                           bot_user_id=bot_user_id))
        lines = [header + "]", body or model("fallback"), _files_note(attachment) if with_files else ""]
        return "\n".join(line for line in lines if line)
    link = str(attachment.get("original_url") or attachment.get("from_url") or "")
    if link:
        service = model("service_name")
        header = f"[link preview: {service}]" if service else "[link preview]"
    else:
        header = "[attachment]"
    title = model("title")
    if title and attachment.get("title_link") and str(attachment["title_link"]) not in title:
        title = f"{title} ({attachment['title_link']})"
    fields = []
    for field in _list(attachment.get("fields")):
        if isinstance(field, Mapping):
            name = slack_to_model(str(field.get("title") or ""), bot_user_id=bot_user_id)
            value = slack_to_model(str(field.get("value") or ""), bot_user_id=bot_user_id)
            fields.append(f"{name}: {value}" if name and value else name or value)
    body = either_or_both(model("text"), render_blocks(attachment.get("blocks"), bot_user_id=bot_user_id))
    parts = [model("pretext"), model("author_name"), title, body, *fields, model("footer")]
    if not any(parts):
        parts = [model("fallback")]
    if not any(parts) and link:
        parts = [link]
    content = "\n".join(p for p in parts if p)
    return f"{header}\n{content}" if content else ""


def render_attachments(attachments: Any, *, bot_user_id: str, limit: int = ATTACHMENTS_CHAR_LIMIT,
                       with_files: bool = True) -> str:
    """The message's attachments as text, each under a header saying what it is; cut at `limit`
    characters with a note saying how much was left out."""
    rendered = [_attachment(a, bot_user_id, with_files) for a in _list(attachments) if isinstance(a, Mapping)]
    text = "\n\n".join(r for r in rendered if r)
    if len(text) <= limit:
        return text
    kept = text[:limit].rstrip()
    return f"{kept}\n{CUT_NOTE.format(n=len(text) - len(kept))}"


def files_of(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The file objects attached to a message (or to an attachment: a forwarded message's files)."""
    return [f for f in _list(message.get("files")) if isinstance(f, Mapping)]


def forwarded_files(message: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The files of the messages a message forwards or links to (they belong to another conversation)."""
    return [f for a in _list(message.get("attachments")) if isinstance(a, Mapping) for f in files_of(a)]


def file_label(file: Mapping[str, Any]) -> str:
    """`name (type)`, as files are named for the model."""
    name = file.get("name") or file.get("title") or "a file"
    return f"{name} ({file.get('mimetype') or file.get('filetype') or 'unknown type'})"


def _files_note(message: Mapping[str, Any]) -> str:
    return "\n".join(f"[attached file: {file_label(f)}]" for f in files_of(message))


def message_text(message: Mapping[str, Any], *, bot_user_id: str, with_files: bool = True) -> str:
    """What a person's (or another bot's) message says, for the model: its text or blocks (or both, see
    `either_or_both`), then its attachments, then its files (unless `with_files` is False)."""
    text = slack_to_model(str(message.get("text") or ""), bot_user_id=bot_user_id)
    body = either_or_both(text, render_blocks(message.get("blocks"), bot_user_id=bot_user_id))
    attached = render_attachments(message.get("attachments"), bot_user_id=bot_user_id, with_files=with_files)
    said = "\n\n".join(part for part in (body, attached) if part)
    return "\n".join(part for part in (said, _files_note(message) if with_files else "") if part)
