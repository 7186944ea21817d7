"""A Slack thread → Bedrock Converse `messages` (pure).

Invariants of the result (Bedrock rejects anything else): the first turn is `user`, roles alternate
(consecutive same-role turns are merged, in order, with a blank line between parts), no text is empty,
and the last turn is the user message being answered.

The bot's own messages become `assistant` turns, rebuilt from the metadata marks the bot puts on them
(`bot.slack.marks`): the parts of an answer split over several messages are joined back into
the Markdown the model wrote, and placeholders, "still writing" markers and notes are left out. Messages
without marks (older ones, other installs) fall back to their visible text. Everything else — people and
other bots — becomes `user` turns (what a message says, with its blocks and attachments:
`bot.conversation.content`), prefixed `<@U…>: ` when more than one speaker takes part. A user turn keeps its
message's files (`Turn.files`, and `Turn.forwarded` for those of messages it forwards); `to_bedrock` puts what
`bot.conversation.attachments` made of them (image and document blocks before the turn's text, a line per
file after it) into the turn's message, or just names them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from bot.conversation.content import file_label, files_of, forwarded_files, message_text, slack_to_model
from bot.conversation.documents import block_tokens
from bot.render.layout import MARKER, PLACEHOLDER
from bot.slack.marks import read_marks

# Message subtypes that are part of the conversation (system messages, edits and deletions are not). Wider
# than what the bot answers (`handlers.routing.ANSWERED_SUBTYPES`): other bots' posts and /me lines are read.
CONVERSATION_SUBTYPES = frozenset({None, "file_share", "thread_broadcast", "bot_message", "me_message"})
# A deleted thread root (Slack's tombstone) keeps its place as this user turn, so that the bot's answer to
# it stays in the history (an assistant turn cannot open a conversation) without anything of what was
# deleted; it has no speaker.
DELETED_ROOT = "[This message was deleted.]"
MULTI_USER_PROMPT = (
    "The conversation is a Slack thread with several participants. Each of their messages starts with "
    "the author's Slack id, like `<@U123ABC>: `. Use these ids to tell people apart; you may mention "
    "someone by writing their id exactly as it appears."
)

Message = dict[str, Any]


def ts_key(ts: str) -> tuple[int, int]:
    seconds, _, fraction = ts.partition(".")
    return int(seconds or 0), int(fraction or 0)


_NOTE_LINE = re.compile(r"\n*:warning: _[^\n]*_\s*$")


def visible_answer_text(text: str, *, bot_user_id: str) -> str:
    """Fallback for a bot message without marks (or without their Markdown): its text minus the marker,
    note and placeholder, with Slack's markup read as in people's messages (`<url|label>` → `label (url)`,
    `&amp;` → `&`…). The mrkdwn the bot wrote (`*bold*`, `•`) is not turned back into Markdown."""
    text = text.removesuffix(MARKER)
    text = _NOTE_LINE.sub("", text)
    if text.strip() == PLACEHOLDER:
        return ""
    return slack_to_model(text, bot_user_id=bot_user_id)


@dataclass(frozen=True)
class Turn:
    role: str  # "user" | "assistant"
    text: str
    speaker: str = ""  # Slack user (or bot) id of a user turn ("" for a deleted root)
    anchor: tuple[tuple[int, int], int, tuple[int, int]] = ((0, 0), 0, (0, 0))
    files: tuple[Mapping[str, Any], ...] = ()  # the message's files (user turns)
    forwarded: tuple[Mapping[str, Any], ...] = ()  # files of messages it forwards (another conversation's)
    team: str = ""  # the author's workspace, when the message says (Slack Connect)


def _is_ours(message: Mapping[str, Any], bot_user_id: str, bot_id: str) -> bool:
    return message.get("user") == bot_user_id or (bool(bot_id) and message.get("bot_id") == bot_id)


def thread_turns(
    messages: Iterable[Mapping[str, Any]],
    *,
    bot_user_id: str,
    bot_id: str,
    upto_ts: str,
    skip_answers: Iterable[str] = (),
    join_markdown: Callable[[list[str]], str] = "".join,
) -> list[Turn]:
    """The thread's turns in conversation order, up to and including the message `upto_ts`.

    Our answers are placed right after the message they answer (their `reply_to` mark), whatever their
    own ts (a long answer posts its later parts after people may have written more). Answers in
    `skip_answers` (the one being written) are left out, and so are answers to later messages.
    """
    limit = ts_key(upto_ts)
    skip = set(skip_answers)
    turns: list[Turn] = []
    answers: dict[str, list[tuple[int, dict[str, Any], Mapping[str, Any]]]] = {}
    for message in messages:
        ts = str(message.get("ts", "0"))
        if message.get("subtype") == "tombstone" and ts_key(ts) <= limit:
            turns.append(Turn("user", DELETED_ROOT, anchor=(ts_key(ts), 0, ts_key(ts))))
            continue
        if message.get("subtype") not in CONVERSATION_SUBTYPES:
            continue
        if _is_ours(message, bot_user_id, bot_id):
            payload = read_marks(message)
            if payload is not None:
                answer = str(payload["answer"])
                if answer in skip or ts_key(str(payload.get("reply_to", ts))) > limit:
                    continue
                answers.setdefault(answer, []).append((int(payload.get("part", 0)), payload, message))
                continue
            if ts_key(ts) > limit:
                continue
            text = visible_answer_text(str(message.get("text") or ""), bot_user_id=bot_user_id)
            if text:
                turns.append(Turn("assistant", text, anchor=(ts_key(ts), 1, ts_key(ts))))
            continue
        if ts_key(ts) > limit:
            continue
        text = message_text(message, bot_user_id=bot_user_id, with_files=False)
        speaker = str(message.get("user") or message.get("bot_id") or "unknown")
        files, forwarded = tuple(files_of(message)), tuple(forwarded_files(message))
        if text or files or forwarded:
            team = str(message.get("user_team") or message.get("source_team") or message.get("team") or "")
            turns.append(Turn("user", text, speaker=speaker, anchor=(ts_key(ts), 0, ts_key(ts)), files=files,
                              forwarded=forwarded, team=team))
    for parts in answers.values():
        parts.sort(key=lambda p: p[0])
        payloads = [p[1] for p in parts]
        if all(pl.get("state") == "thinking" for pl in payloads):
            continue  # a placeholder that never got text
        if all("md" in pl for pl in payloads):
            text = join_markdown([str(pl["md"]) for pl in payloads]).strip()
        else:
            text = "\n".join(visible_answer_text(str(p[2].get("text") or ""), bot_user_id=bot_user_id)
                             for p in parts).strip()
        if text:
            first = parts[0][2]
            reply_to = ts_key(str(payloads[0].get("reply_to", first.get("ts", "0"))))
            turns.append(Turn("assistant", text, anchor=(reply_to, 1, ts_key(str(first.get("ts", "0"))))))
    turns.sort(key=lambda t: t.anchor)
    return turns


def speakers(turns: Sequence[Turn]) -> set[str]:
    return {t.speaker for t in turns if t.role == "user" and t.speaker}


def _file_parts(turn: Turn, files: Mapping[Any, Any] | None) -> tuple[list[dict[str, Any]], list[str]]:
    """A user turn's file blocks and the lines naming its files: from the plan when there is one, else the
    files are only named."""
    if files is not None and turn.anchor in files:
        planned = files[turn.anchor]
        return list(planned.blocks), list(planned.lines)
    return [], [f"[attached file: {file_label(f)}]" for f in (*turn.files, *turn.forwarded)]


def to_bedrock(turns: Sequence[Turn], *, prefix_speakers: bool,
               files: Mapping[Any, Any] | None = None) -> list[Message]:
    """Turns → Converse messages obeying Bedrock's rules (see the module docstring). `files`: the plan of
    `bot.conversation.attachments` (blocks and lines per turn anchor); without it, files are named."""
    merged: list[tuple[str, list[dict[str, Any] | str]]] = []
    for turn in turns:
        blocks, lines = _file_parts(turn, files) if turn.role == "user" else ([], [])
        body = "\n".join(part for part in (turn.text, *lines) if part)
        prefix = prefix_speakers and turn.role == "user" and turn.speaker
        text = f"<@{turn.speaker}>: {body}" if prefix else body
        if not text.strip():
            continue
        if not (merged and merged[-1][0] == turn.role):
            merged.append((turn.role, []))
        merged[-1][1].extend([*blocks, text])
    while merged and merged[0][0] != "user":
        merged.pop(0)
    while merged and merged[-1][0] != "user":
        merged.pop()
    return [{"role": role, "content": _content(parts)} for role, parts in merged]


def _content(parts: list[dict[str, Any] | str]) -> list[dict[str, Any]]:
    """Content blocks: file blocks as they are, neighbouring texts joined with a blank line."""
    content: list[dict[str, Any]] = []
    texts: list[str] = []
    for part in parts:
        if isinstance(part, str):
            texts.append(part)
            continue
        if texts:
            content.append({"text": "\n\n".join(texts)})
            texts = []
        content.append(part)
    if texts:
        content.append({"text": "\n\n".join(texts)})
    return content


def estimate_tokens(text: str) -> int:
    """A cautious token estimate: about 4 ASCII characters per token, one per other character."""
    ascii_chars = sum(1 for ch in text if ord(ch) < 128)
    return ascii_chars // 4 + (len(text) - ascii_chars) + 1


def message_tokens(message: Message) -> int:
    """The estimate of a message: its text, and its images and documents (`bot.conversation.documents`)."""
    return sum(estimate_tokens(str(block["text"])) if "text" in block else block_tokens(block)
               for block in message["content"])


def trim_to_budget(messages: Sequence[Message], budget: int) -> tuple[list[Message], int]:
    """Drop the oldest turns until the estimate fits `budget`; return (messages, turns dropped).

    The first user message is kept (it usually sets the topic) and so is the last (the question);
    turns are dropped in assistant+user pairs after the first, so roles keep alternating.
    """
    result = list(messages)
    dropped = 0
    total = sum(message_tokens(m) for m in result)
    while total > budget and len(result) > 3:
        removed = result[1:3]
        del result[1:3]
        dropped += 2
        total -= sum(message_tokens(m) for m in removed)
    if total > budget and len(result) == 3:  # first question, one answer, current question
        del result[:2]
        dropped += 2
    return result, dropped
