"""attach: which files of a thread become content blocks, within Bedrock's counts, the request's bytes and the
context budget; what is left out is named with its reason. Downloads come from an in-memory source here (the
real download path is tested against the fake Slack in tests/unit/slack/test_files.py and tests/e2e/)."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from bot.conversation.attachments import (
    MAX_DOCUMENTS,
    MAX_MEDIA,
    Attached,
    Cap,
    Fetched,
    Rules,
    Unavailable,
    attach,
)
from bot.conversation.history import thread_turns, to_bedrock
from bot.conversation.recent_files import RecentFiles
from tests.files_support import EXE, padded_pdf, pdf, picture

RULES = Rules(team_id="T1", channel="C1")
BEDROCK_NAME = re.compile(r"[A-Za-z0-9()\[\]\-]+(?: [A-Za-z0-9()\[\]\-]+)*")


class Source:
    """Serves bytes by file id, applying the cap the planner gives (as a downloader must)."""

    def __init__(self, blobs: Mapping[str, bytes | Unavailable]) -> None:
        self.blobs = blobs
        self.asked: list[str] = []

    def fetch_all(self, files: Sequence[Mapping[str, Any]],
                  cap: Callable[[bytes, Mapping[str, Any]], Cap | str]) -> list[Fetched | Unavailable]:
        out: list[Fetched | Unavailable] = []
        for file in files:
            self.asked.append(str(file["id"]))
            blob = self.blobs[str(file["id"])]
            if isinstance(blob, Unavailable):
                out.append(blob)
                continue
            verdict = cap(blob[:4096], file)
            if isinstance(verdict, str):
                out.append(Unavailable(verdict))
            elif len(blob) > verdict.limit:
                out.append(Unavailable(f"too big; {verdict.over}"))
            else:
                out.append(Fetched(file, blob))
        return out


def file(file_id: str, name: str, mimetype: str, size: int | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": file_id, "name": name, "mimetype": mimetype, **({"size": size} if size is not None else {}),
            **extra}


def message(ts: str, text: str, *files: dict[str, Any], user: str = "U1", **extra: Any) -> dict[str, Any]:
    return {"type": "message", "user": user, "ts": ts, "text": text, "files": list(files), **extra}


def plan(messages: list[dict[str, Any]], blobs: Mapping[str, bytes | Unavailable],
         rules: Rules = RULES) -> tuple[Attached, list[dict[str, Any]], Source]:
    turns = thread_turns(messages, bot_user_id="UBOT", bot_id="BBOT", upto_ts=messages[-1]["ts"])
    source = Source(blobs)
    attached = attach(turns, source=source, rules=rules)
    return attached, to_bedrock(turns, prefix_speakers=False, files=attached.turns), source


def kinds(content: list[dict[str, Any]]) -> list[str]:
    return [next(iter(block)) for block in content]


def test_an_image_and_a_pdf_become_blocks_before_the_text_that_names_them() -> None:
    attached, messages, _ = plan([message("1.0", "what is wrong here?",
                                          file("F1", "shot.png", "image/png"), file("F2", "Q3 report.pdf",
                                                                                     "application/pdf"))],
                                 {"F1": picture(4000, 3000), "F2": pdf(3)})
    (only,) = messages
    assert kinds(only["content"]) == ["image", "document", "text"]
    assert only["content"][0]["image"]["format"] == "png"
    assert only["content"][1]["document"]["name"] == "Q3 report"
    assert only["content"][2]["text"] == (
        "what is wrong here?\n[attached file: shot.png (image/png), shown above as image 1]\n"
        '[attached file: Q3 report.pdf (application/pdf), attached above as the document "Q3 report"]')
    assert attached.note() is None and attached.sent == 2


def test_a_gif_named_png_is_sent_as_a_gif() -> None:
    _attached, messages, _ = plan([message("1.0", "?", file("F1", "anim.png", "image/png"))],
                                  {"F1": picture(50, 50, "GIF")})
    assert messages[0]["content"][0]["image"]["format"] == "gif"


def test_25_images_in_a_thread_send_the_20_newest_and_name_the_5_oldest() -> None:
    thread = [message(f"{n + 1}.0", f"batch {n}", *(file(f"F{n}{i}", f"img{n}{i}.png", "image/png")
                                                     for i in range(5)))
              for n in range(5)]
    blobs = {f"F{n}{i}": picture(40, 30, seed=n * 10 + i) for n in range(5) for i in range(5)}
    attached, messages, source = plan(thread, blobs)
    assert sum(kinds(m["content"]).count("image") for m in messages) == MAX_MEDIA
    assert sorted(source.asked) == sorted(f"F{n}{i}" for n in range(1, 5) for i in range(5))  # 20, not 25
    assert [name for name, _ in attached.left_out] == [f"img0{i}.png" for i in range(5)]
    assert attached.note() == ("Not read: `img00.png`, `img01.png`, `img02.png`, `img03.png`, `img04.png` "
                               "(only 20 images and documents fit in one request).")


def test_6_pdfs_in_one_message_send_5_and_name_the_sixth() -> None:
    files = [file(f"F{i}", f"part {i}.pdf", "application/pdf") for i in range(6)]
    attached, messages, _ = plan([message("1.0", "compare these", *files)], {f"F{i}": pdf(1, seed=i) for i in range(6)})
    content = messages[0]["content"]
    assert kinds(content).count("document") == MAX_DOCUMENTS
    names = [b["document"]["name"] for b in content if "document" in b]
    assert names == [f"part {i}" for i in range(5)] and all(BEDROCK_NAME.fullmatch(n) for n in names)
    assert attached.left_out == [("part 5.pdf", "only 5 documents fit in one request")]


def test_what_the_model_cannot_read_is_named_with_the_reason() -> None:
    files = [file("F1", "setup.exe", "application/x-msdownload"), file("F2", "empty.txt", "text/plain"),
             file("F3", "gone.png", "image/png"), file("F4", "empty2.txt", "text/plain", size=0)]
    attached, messages, _ = plan([message("1.0", "can you run this?", *files)],
                                 {"F1": EXE, "F2": b"", "F3": Unavailable("the download stalled")})
    text = messages[0]["content"][-1]["text"]
    assert "[attached file: setup.exe (application/x-msdownload), not read: a Windows program, which the model " \
           "cannot read]" in text
    assert "[attached file: empty.txt (text/plain), not read: the file is empty]" in text
    assert "[attached file: gone.png (image/png), not read: the download stalled]" in text
    assert [r for _n, r in attached.left_out] == ["a Windows program, which the model cannot read",
                                                  "the file is empty", "the download stalled", "the file is empty"]
    assert kinds(messages[0]["content"]) == ["text"]


def test_files_of_other_organisations_forwarded_messages_and_other_conversations_are_not_downloaded() -> None:
    forwarded = {"is_share": True, "author_name": "Bob", "text": "see attached",
                 "files": [file("F9", "private.pdf", "application/pdf")]}
    thread = [message("1.0", "from a partner", file("F1", "theirs.png", "image/png"), user="UEXT", user_team="T2"),
              message("2.0", "fwd", file("F2", "elsewhere.png", "image/png", channels=["C2"]),
                      attachments=[forwarded]),
              message("3.0", "what do you see?")]
    attached, _messages, source = plan(thread, {})
    assert source.asked == []
    assert dict(attached.left_out) == {
        "theirs.png": "shared by someone from another organisation (ALLOW_EXTERNAL_USERS is off)",
        "elsewhere.png": "it belongs to another conversation",
        "private.pdf": "it belongs to a message forwarded from another conversation"}
    _attached, messages, source = plan(thread, {"F1": picture(20, 20), "F2": picture(20, 20)},
                                       Rules(team_id="T1", channel="C1", allow_external=True))
    assert source.asked == ["F1"] and kinds(messages[0]["content"]) == ["image", "text"]


def test_sizes_are_checked_before_downloading() -> None:
    huge = file("F1", "raw.tiff", "image/tiff", size=50_000_000)
    attached, _messages, source = plan([message("1.0", "?", huge)], {}, Rules(team_id="T1", channel="C1"))
    assert source.asked == []
    assert attached.left_out == [("raw.tiff", "50.0 MB is more than this bot downloads (FILE_DOWNLOAD_MAX_MB)")]


def test_a_document_over_4_5_mb_is_not_read_past_its_cap() -> None:
    attached, _messages, _source = plan([message("1.0", "?", file("F1", "big.pdf", "application/pdf"))],
                                        {"F1": padded_pdf(5_000_000)})
    assert attached.left_out == [("big.pdf", "too big; Bedrock takes documents of at most 4.5 MB")]


def test_text_files_are_fenced_and_a_long_one_is_cut_to_the_budget() -> None:
    log = "".join(f"2026-01-01 12:00:{i % 60:02d} worker {i} failed: timeout\n" for i in range(20_000))
    thread = [message("1.0", "why does it fail?", file("F1", "app.py", "text/x-python"),
                      file("F2", "worker.log", "text/plain"))]
    attached, messages, _ = plan(thread, {"F1": b"print('hi')\n", "F2": log.encode()},
                                 Rules(team_id="T1", channel="C1", budget_tokens=5000))
    text = messages[0]["content"][0]["text"]
    assert "[attached file: app.py (text/x-python)]\n```python\nprint('hi')\n```" in text
    assert "[attached file: worker.log (text/plain), cut to fit the model's context (" in text
    assert "worker 0 failed" in text and "worker 19999 failed" in text and "worker 10000 failed" not in text
    assert attached.tokens <= 5000 and attached.note() is None


def test_older_files_are_dropped_oldest_first_to_fit_the_budget() -> None:
    thread = [message("1.0", "first", file("F1", "old-small.png", "image/png")),
              message("2.0", "second", file("F2", "middle.png", "image/png")),
              message("3.0", "third", file("F3", "recent.png", "image/png")),
              message("4.0", "and this one?", file("F4", "now.png", "image/png"))]
    blobs = {"F1": picture(100, 75), "F2": picture(1500, 1000), "F3": picture(1500, 1000), "F4": picture(1500, 1000)}
    attached, messages, _ = plan(thread, blobs, Rules(team_id="T1", channel="C1", budget_tokens=4200))
    assert [n for n, _ in attached.left_out] == ["old-small.png", "middle.png"]  # the small oldest one too
    assert {r for _, r in attached.left_out} == {"an older file, left out to fit the model's context"}
    assert attached.older_dropped
    (merged,) = messages  # four user messages in a row: one turn
    assert kinds(merged["content"]) == ["text", "image", "text", "image", "text"]
    assert "now.png" in merged["content"][-1]["text"] and "recent.png" in merged["content"][-3]["text"]


def test_documents_of_different_messages_get_different_names_the_oldest_keeps_its_own() -> None:
    thread = [message("1.0", "v1", file("F1", "report.pdf", "application/pdf")),
              message("2.0", "v2", file("F2", "report.pdf", "application/pdf"))]
    _attached, messages, _ = plan(thread, {"F1": pdf(1, seed=1), "F2": pdf(1, seed=2)})
    names = [b["document"]["name"] for b in messages[0]["content"] if "document" in b]
    assert names == ["report", "report [F2]"]


def test_the_request_keeps_its_files_under_14_mb() -> None:
    files = [file(f"F{i}", f"scan{i}.pdf", "application/pdf") for i in range(4)]
    attached, messages, _ = plan([message("1.0", "?", *files)], {f"F{i}": padded_pdf(4_400_000) for i in range(4)})
    assert kinds(messages[0]["content"]).count("document") == 3
    assert attached.left_out == [("scan3.pdf", "no room left in the request (Bedrock takes about 20 MB in all)")]


def test_a_follow_up_uses_what_the_first_answer_prepared() -> None:
    thread = [message("1.0", "look", file("F1", "big.png", "image/png", size=1, timestamp=1),
                      file("F2", "notes.pdf", "application/pdf", size=2, timestamp=1),
                      file("F3", "run.log", "text/plain", size=3, timestamp=1))]
    blobs = {"F1": picture(3000, 2000), "F2": pdf(2), "F3": b"ok\n"}
    recent = RecentFiles()
    turns = thread_turns(thread, bot_user_id="UBOT", bot_id="BBOT", upto_ts="1.0")
    first = attach(turns, source=Source(blobs), rules=RULES, recent=recent)
    again = Source({})  # downloads nothing
    calls: list[str] = []
    second = attach(turns, source=again, rules=RULES, recent=recent, downloading=lambda: calls.append("x"))
    assert again.asked == [] and calls == []
    assert second.turns[turns[0].anchor].blocks == first.turns[turns[0].anchor].blocks  # the very same bytes
    assert second.turns[turns[0].anchor].lines == first.turns[turns[0].anchor].lines
