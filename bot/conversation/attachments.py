"""The files of a conversation → content blocks of its user turns, within Bedrock's limits (pure but for the
injected `FileSource` that downloads).

Which files: those attached to the messages of the conversation being answered — the message being answered
first, then the earlier messages newest first. Files inside forwarded messages belong to another
conversation and are not read; neither are files shared by people from another organisation unless
ALLOW_EXTERNAL_USERS allows them, links to files stored outside Slack, or files Slack no longer has.

How many (Bedrock's limits, checked against botocore's service model and the Bedrock and Anthropic docs):
at most `MAX_DOCUMENTS` (5) documents of at most `DOCUMENT_MAX_BYTES` (4.5 MB) each, and at most
`MAX_MEDIA` (20) images and documents together (Claude on Bedrock counts both: "too many images and
documents: 19 + 5 > 20"); all files of one request at most `REQUEST_FILE_BYTES` (Bedrock refuses request
bodies of about 20 MB as "Input is too long", and the bytes travel base64-encoded). Images are prepared by
`bot.conversation.images`, text files fenced by `bot.conversation.documents`.

Cost: files count against CONTEXT_BUDGET_TOKENS with the thread's text. The answered message's files come
first (a text file too long is cut to fit); files of earlier messages are kept newest first while they fit,
and once one does not, it and all older ones are left out (oldest first, like older messages).

Everything left out is named, with the reason, in the text the model reads and in a note under the answer.

What an answer prepared is kept in memory (`bot.conversation.recent_files`), so a follow-up in the same thread
neither downloads nor scales its files again, and sends the very same bytes (which the model's cache matches).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from bot.conversation import documents
from bot.conversation.content import file_label
from bot.conversation.filetypes import Kind, Sniffed, decode_text, sniff
from bot.conversation.history import estimate_tokens
from bot.conversation.images import ImageProblem, Picture, prepare
from bot.conversation.recent_files import RecentFiles, file_key

MAX_MEDIA = 20
MAX_DOCUMENTS = 5
DOCUMENT_MAX_BYTES = 4_500_000
REQUEST_FILE_BYTES = 14_000_000
MAX_DOWNLOADS = 30
MIN_TEXT_TOKENS = 200  # a text file cut shorter than this is left out instead
NOTE_NAMES = 5

IMAGE_MIMETYPES = ("image/",)
DOCUMENT_MIMETYPES = ("application/pdf", "application/msword", "application/vnd.ms-excel",
                      "application/vnd.openxmlformats-officedocument.wordprocessingml",
                      "application/vnd.openxmlformats-officedocument.spreadsheetml")

FileObject = Mapping[str, Any]
Key = Any  # a turn's anchor (bot.conversation.history.Turn.anchor)


@dataclass(frozen=True)
class Rules:
    """What the bot may read and how much: from the settings and the conversation being answered."""

    team_id: str
    channel: str
    allow_external: bool = False
    image_max_edge: int = 1568
    download_max_bytes: int = 40_000_000
    budget_tokens: int = 150_000


@dataclass(frozen=True)
class Fetched:
    file: FileObject  # the file object (for a Slack Connect stub: what files.info said)
    data: bytes


@dataclass(frozen=True)
class Unavailable:
    reason: str


@dataclass(frozen=True)
class Cap:
    """How much of a download to read: `limit` bytes; past it the file is left out because `over`."""

    limit: int
    over: str


class FileSource(Protocol):
    """Downloads files (bot.slack.files.FileFetcher). `cap(first bytes, file)` says how much to read, or why
    to stop at once."""

    def fetch_all(self, files: Sequence[FileObject],
                  cap: Callable[[bytes, FileObject], Cap | str]) -> list[Fetched | Unavailable]: ...


@dataclass
class TurnFiles:
    """What a turn's files add to its message: blocks (before its text) and lines (after it)."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


@dataclass
class Attached:
    """The plan: per turn (by anchor) its blocks and lines; what was left out, for the note."""

    turns: dict[Key, TurnFiles] = field(default_factory=dict)
    left_out: list[tuple[str, str]] = field(default_factory=list)  # (file name, reason)
    sent: int = 0
    sent_bytes: int = 0
    tokens: int = 0
    older_dropped: bool = False

    def note(self) -> str | None:
        """One line for the user: which files were left out and why (grouped by reason)."""
        if not self.left_out:
            return None
        groups: dict[str, list[str]] = {}
        for name, reason in self.left_out:
            groups.setdefault(reason, []).append(f"`{_shown(name)}`" if name else "a file")
        parts = []
        for reason, names in groups.items():
            more = f" and {len(names) - NOTE_NAMES} more" if len(names) > NOTE_NAMES else ""
            parts.append(f"{', '.join(names[:NOTE_NAMES])}{more} ({reason})")
        return "Not read: " + "; ".join(parts) + "."


def _shown(name: str) -> str:
    return name.replace("`", "'").replace("\n", " ")[:80]


def name_of(file: FileObject) -> str:
    """The file's name ("" when Slack did not say, as for a Slack Connect stub)."""
    return str(file.get("name") or file.get("title") or "")


def mb(size: int) -> str:
    return f"{size / 1_000_000:.1f} MB"


@dataclass
class _Item:
    key: Key
    file: FileObject
    current: bool
    reason: str | None = None  # left out before any download, and why
    result: Fetched | Unavailable | None = None
    line: str = ""
    blocks: list[dict[str, Any]] = field(default_factory=list)
    tokens: int = 0
    size: int = 0
    document: tuple[str, bytes] | None = None  # (format, bytes) until names are given


def _author_team(message_team: str, file: FileObject) -> str:
    team = str(file.get("user_team") or message_team or "")
    return "" if team.startswith("E") else team


def _screen(item: _Item, rules: Rules, team: str, counts: dict[str, int]) -> str | None:
    """Why a file is left out without downloading it, or None."""
    file = item.file
    mode = str(file.get("mode") or "")
    if mode in ("tombstone", "hidden_by_limit"):
        return "Slack no longer has this file"
    if file.get("is_external") or mode == "external":
        return "a link to a file stored outside Slack"
    author = _author_team(team, file)
    if author and author != rules.team_id and not rules.allow_external:
        return "shared by someone from another organisation (ALLOW_EXTERNAL_USERS is off)"
    shared_in = [c for key in ("channels", "groups", "ims") for c in (file.get(key) or []) if isinstance(c, str)]
    if shared_in and rules.channel not in shared_in:
        return "it belongs to another conversation"
    size = file.get("size")
    if isinstance(size, int) and size > rules.download_max_bytes:
        return f"{mb(size)} is more than this bot downloads (FILE_DOWNLOAD_MAX_MB)"
    if size == 0:
        return "the file is empty"
    mimetype = str(file.get("mimetype") or "")
    if counts["files"] >= MAX_DOWNLOADS:
        return f"only {MAX_DOWNLOADS} files of a thread are read"
    if mimetype.startswith(IMAGE_MIMETYPES) and counts["media"] >= MAX_MEDIA:
        return f"only {MAX_MEDIA} images and documents fit in one request"
    if mimetype.startswith(DOCUMENT_MIMETYPES) and (counts["documents"] >= MAX_DOCUMENTS
                                                     or counts["media"] >= MAX_MEDIA):
        return f"only {MAX_DOCUMENTS} documents fit in one request"
    counts["files"] += 1
    if mimetype.startswith(IMAGE_MIMETYPES):
        counts["media"] += 1
    elif mimetype.startswith(DOCUMENT_MIMETYPES):
        counts["media"] += 1
        counts["documents"] += 1
    return None


def download_cap(rules: Rules) -> Callable[[bytes, FileObject], Cap | str]:
    """For the downloader: from a file's first bytes, how much of it is worth reading (or why none is)."""

    def cap(head: bytes, file: FileObject) -> Cap | str:
        found = sniff(head, complete=False)
        if found.kind is Kind.UNSUPPORTED:
            return f"{found.label}, which the model cannot read"
        if found.kind is Kind.IMAGE and found.format == "heic":
            return "HEIC photos cannot be read here; share it as JPEG or PNG"
        if found.kind is Kind.DOCUMENT:
            return Cap(DOCUMENT_MAX_BYTES, "Bedrock takes documents of at most 4.5 MB")
        return Cap(rules.download_max_bytes, "more than this bot downloads (FILE_DOWNLOAD_MAX_MB)")

    return cap


def _items(turns: Sequence[Any]) -> list[tuple[_Item, str]]:
    """Every file of the user turns, the answered message's first, then earlier messages newest first; each
    with its author's team. Files of forwarded messages are left out at once."""
    found: list[tuple[_Item, str]] = []
    last = len(turns) - 1
    for index in range(last, -1, -1):
        turn = turns[index]
        if turn.role != "user":
            continue
        for file in turn.files:
            found.append((_Item(turn.anchor, file, current=index == last), turn.team))
        for file in turn.forwarded:
            found.append((_Item(turn.anchor, file, current=index == last,
                                reason="it belongs to a message forwarded from another conversation"), turn.team))
    return found


def attach(turns: Sequence[Any], *, source: FileSource, rules: Rules, recent: RecentFiles | None = None,
           downloading: Callable[[], object] = lambda: None) -> Attached:
    """The plan for `turns` (bot.conversation.history.Turn, oldest first, the last one being answered).
    `recent`: what earlier answers prepared, used instead of downloading again, and added to; `downloading` is
    called before anything is downloaded (the reply can say so)."""
    found = _items(turns)
    counts = {"files": 0, "media": 0, "documents": 0}
    for item, team in found:
        item.reason = item.reason or _screen(item, rules, team, counts)
    items = [item for item, _team in found]
    wanted = []
    for item in items:
        kept = recent.get(key) if item.reason is None and recent and (key := file_key(item.file)) else None
        if kept is not None:
            item.result = Fetched(*kept)
        elif item.reason is None:
            wanted.append(item)
    if wanted:
        downloading()
        results = source.fetch_all([item.file for item in wanted], download_cap(rules))
        for item, result in zip(wanted, results, strict=True):
            item.result = result
    all_text = sum(estimate_tokens(turn.text) for turn in turns)
    current_text = estimate_tokens(turns[-1].text) if turns else 0
    _convert(items, rules, _Budget(rules.budget_tokens, all_text, current_text))
    if recent is not None:
        _remember(items, recent)
    return _plan(turns, items)


def _remember(items: list[_Item], recent: RecentFiles) -> None:
    """Keep what was prepared for each file sent: the scaled image, the document, the text as downloaded."""
    for item in items:
        key = file_key(item.file)
        if item.reason is not None or key is None or not isinstance(item.result, Fetched):
            continue
        if item.document is not None:
            recent.put(key, item.result.file, item.document[1])
        elif item.blocks:
            recent.put(key, item.result.file, item.blocks[0]["image"]["source"]["bytes"])
        else:
            recent.put(key, item.result.file, item.result.data)


@dataclass
class _Budget:
    """The context budget as the files see it: the answered message's files may push older messages out (they
    are what the question is about); earlier files only take what the whole thread's text leaves."""

    total: int
    all_text: int
    current_text: int
    used: int = 0
    older_full: bool = False

    def room(self, current: bool) -> int:
        if current:
            return self.total - self.current_text - self.used
        return 0 if self.older_full else self.total - self.all_text - self.used


def _convert(items: list[_Item], rules: Rules, budget: _Budget) -> None:
    """Turn downloads into blocks, newest first, within the counts, the request's bytes and the budget."""
    media = documents_n = total_bytes = 0
    for item in items:
        if item.reason is not None or item.result is None:
            continue
        if isinstance(item.result, Unavailable):
            item.reason = item.result.reason
            continue
        data, file = item.result.data, item.result.file
        found = sniff(data)
        if found.kind is Kind.EMPTY:
            item.reason = "the file is empty"
        elif found.kind is Kind.UNSUPPORTED:
            item.reason = f"{found.label}, which the model cannot read"
        elif found.kind is Kind.TEXT:
            _text(item, data, found, file, budget.room(item.current) if item.current else 0)
        elif media >= MAX_MEDIA:
            item.reason = f"only {MAX_MEDIA} images and documents fit in one request"
        elif found.kind is Kind.IMAGE:
            _image(item, data, found, rules)
        elif documents_n >= MAX_DOCUMENTS:
            item.reason = f"only {MAX_DOCUMENTS} documents fit in one request"
        else:
            _document(item, data, found)
        if item.reason is not None:
            continue
        if total_bytes + item.size > REQUEST_FILE_BYTES:
            item.reason = "no room left in the request (Bedrock takes about 20 MB in all)"
        elif item.tokens > budget.room(item.current):
            if item.current:
                item.reason = f"too large for the model's context (about {item.tokens:,} tokens)"
            else:
                item.reason = "an older file, left out to fit the model's context"
                budget.older_full = True
        if item.reason is not None:
            item.blocks, item.document = [], None
            continue
        budget.used += item.tokens
        total_bytes += item.size
        if found.kind is not Kind.TEXT:
            media += 1
            documents_n += found.kind is Kind.DOCUMENT


def _text(item: _Item, data: bytes, found: Sniffed, file: FileObject, room: int) -> None:
    """A text file as fenced text; the answered message's one is cut to the room left if it is too long."""
    text = decode_text(data)
    if text is None:
        item.reason = "binary data of a kind the model cannot read"
        return
    lang = "html" if found.format == "html" else documents.language(file)
    body = documents.fence(text, lang)
    tokens = estimate_tokens(body)
    cut = 0
    if tokens > room and item.current and room >= MIN_TEXT_TOKENS:
        chars = max(1, int(len(text) * (room - 50) / tokens))
        text, cut = documents.cut_middle(text, chars)
        body = documents.fence(text, lang)
        tokens = estimate_tokens(body)
    item.tokens, item.size = tokens, 0
    suffix = f", cut to fit the model's context ({cut:,} characters left out)" if cut else ""
    item.line = f"[attached file: {file_label(file)}{suffix}]\n{body}"


def _image(item: _Item, data: bytes, found: Sniffed, rules: Rules) -> None:
    try:
        picture: Picture = prepare(data, found.format, max_edge=rules.image_max_edge)
    except ImageProblem as problem:
        item.reason = str(problem)
        return
    item.blocks = [{"image": {"format": picture.format, "source": {"bytes": picture.data}}}]
    item.tokens, item.size = picture.tokens, len(picture.data)


def _document(item: _Item, data: bytes, found: Sniffed) -> None:
    if len(data) > DOCUMENT_MAX_BYTES:
        item.reason = f"{mb(len(data))}; Bedrock takes documents of at most 4.5 MB"
        return
    item.document = (found.format, data)
    item.tokens, item.size = documents.document_tokens(found.format, data), len(data)


def _plan(turns: Sequence[Any], items: list[_Item]) -> Attached:
    """Names for the documents (in conversation order, so a follow-up sends the same ones), then each turn's
    blocks and lines in its files' order."""
    attached = Attached()
    by_turn = {key: list(group) for key, group in itertools.groupby(items, key=lambda i: i.key)}
    taken: set[str] = set()
    for turn in turns:
        mine = by_turn.get(turn.anchor)
        if not mine:
            continue
        parts = TurnFiles()
        images = 0
        for item in mine:
            file = item.result.file if isinstance(item.result, Fetched) else item.file
            if item.reason is not None:
                parts.lines.append(f"[attached file: {file_label(file)}, not read: {item.reason}]")
                attached.left_out.append((name_of(file), item.reason))
                attached.older_dropped |= item.reason.startswith("an older file")
                continue
            if item.document is not None:
                fmt, data = item.document
                name = documents.document_name(name_of(file), str(file.get("id") or ""), taken)
                item.blocks = [{"document": {"format": fmt, "name": name, "source": {"bytes": data}}}]
                item.line = f'[attached file: {file_label(file)}, attached above as the document "{name}"]'
            elif item.blocks:
                images += 1
                item.line = f"[attached file: {file_label(file)}, shown above as image {images}]"
            parts.blocks.extend(item.blocks)
            parts.lines.append(item.line)
            attached.sent += 1
            attached.sent_bytes += item.size
            attached.tokens += item.tokens
        attached.turns[turn.anchor] = parts
    return attached
