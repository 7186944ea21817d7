"""Files people share, end to end: the real bot downloads them from the fake Slack's file host over HTTP and
sends them to the fake Bedrock through boto3, which validates image and document blocks as Bedrock does.

Every bad input of issue 15 gets an answer or a clear note, never a crash or a ValidationException."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
from PIL import Image

from tests.e2e.helpers import final_state
from tests.fakes.bedrock import FakeBedrock, Request, Stream
from tests.fakes.slack import FakeSlack
from tests.files_support import EXE, jpeg_of_size, padded_pdf, pdf, picture

pytestmark = pytest.mark.usefixtures("fresh")
ANSWER = "Here is what I see."
LOGIN_NOTE = ("Slack sent its sign-in page instead of the file (operator: add the files:read scope to the Slack "
              "app and reinstall it)")


@pytest.fixture(scope="module")
def bot(start_bot: Any) -> Any:
    return start_bot(FILE_DOWNLOAD_TIMEOUT_SECONDS="2")


def blocks(request: Request, kind: str) -> list[dict[str, Any]]:
    return [b[kind] for m in request.messages for b in m["content"] if kind in b]


def decoded(block: dict[str, Any]) -> bytes:
    return base64.b64decode(block["source"]["bytes"])


def pixels(block: dict[str, Any]) -> tuple[str, int, int]:
    with Image.open(io.BytesIO(decoded(block))) as img:
        return str(img.format).lower(), img.width, img.height


def question_text(request: Request) -> str:
    return str([b["text"] for b in request.messages[-1]["content"] if "text" in b][-1])


def ask(slack: FakeSlack, bedrock: FakeBedrock, text: str, files: list[dict[str, Any]], *, channel: str = "C1",
        thread_ts: str | None = None, timeout: float = 20.0) -> tuple[str, Request]:
    """Ask with files; return the reply's text and the Bedrock request (which Bedrock accepted)."""
    bedrock.set_fallback(lambda request: Stream([ANSWER]))
    ts = slack.user_says(channel, "U1", text, files=files, thread_ts=thread_ts)
    replies = final_state(slack, channel, thread_ts or ts, reply_to=ts, timeout=timeout)
    assert bedrock.rejections == []
    reply = "".join(m["text"] for m in replies)
    assert reply.startswith(ANSWER)
    return reply, bedrock.calls[-1]


def downloads(slack: FakeSlack, n: int) -> list[Any]:
    """The fake's download records once `n` exist (each is recorded as its response ends)."""
    return list(slack.wait_for(lambda s: len(s.downloads) >= n and s.downloads))


def upload(slack: FakeSlack, name: str, data: bytes, **kwargs: Any) -> dict[str, Any]:
    return slack.upload_file("U1", name, data, channel=kwargs.pop("channel", "C1"), **kwargs)


# ------------------------------------------------------------------------------------------ what works


def test_a_screenshot_is_seen_scaled_to_the_max_edge(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    shot = upload(slack, "Screenshot 2026-01-01.png", picture(4000, 3000))
    reply, request = ask(slack, bedrock, "<@UBOT> what is this error?", [shot])
    assert reply == ANSWER  # no note: nothing was left out
    (image,) = blocks(request, "image")
    assert pixels(image) == ("png", 1568, 1176) and image["format"] == "png"
    assert question_text(request) == ("what is this error?\n[attached file: Screenshot 2026-01-01.png (image/png), "
                                      "shown above as image 1]")
    assert [d.token for d in downloads(slack, 1)] == ["xoxb-fake-bot-token"]


def test_a_pdf_is_a_document_and_the_follow_up_reads_it_from_the_cache(bot: Any, slack: FakeSlack,
                                                                       bedrock: FakeBedrock) -> None:
    report = upload(slack, "Q3 report.final.pdf", pdf(40))
    _reply, first = ask(slack, bedrock, "<@UBOT> summarise this", [report])
    (document,) = blocks(first, "document")
    assert (document["format"], document["name"], decoded(document)) == ("pdf", "Q3 report final", pdf(40))
    assert '"Q3 report final"' in question_text(first) and "Q3 report.final.pdf" in question_text(first)
    before = bedrock.usage_totals
    pdf_tokens = len(pdf(40)) // 4  # what the fake model charges for it
    assert before["cacheWriteInputTokens"] >= pdf_tokens  # the question with the PDF was written to the cache
    root = first_ts(slack)
    _reply, follow = ask(slack, bedrock, "and the totals?", [], thread_ts=root)
    assert blocks(follow, "document") == [document]  # the same block, resent
    read = bedrock.usage_totals["cacheReadInputTokens"] - before["cacheReadInputTokens"]
    assert read >= pdf_tokens  # ... and read from the cache
    assert len(downloads(slack, 1)) == 1  # the follow-up used what the first answer had downloaded


def first_ts(slack: FakeSlack) -> str:
    return str(next(m["ts"] for m in slack.messages("C1") if m.get("user") == "U1"))


def test_a_snippet_and_a_log_are_fenced_text(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    snippet = upload(slack, "Untitled", b"def retry():\n    return 'ok'\n", mimetype="text/plain",
                     filetype="python")
    log = upload(slack, "worker.log", b"12:00 started\n12:01 ERROR timeout\n")
    _reply, request = ask(slack, bedrock, "<@UBOT> why does it fail?", [snippet, log])
    assert question_text(request) == (
        "why does it fail?\n[attached file: Untitled (text/plain)]\n```python\ndef retry():\n    return 'ok'\n```\n"
        "[attached file: worker.log (application/octet-stream)]\n```\n12:00 started\n12:01 ERROR timeout\n```")
    # ".log" is no type Python's mimetypes knows: the content said it was text


# ------------------------------------------------------------------------------------------ bad input


def test_a_30_mb_photo_is_scaled_down(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    photo = upload(slack, "IMG_0001.JPG", jpeg_of_size(5000, 4000, 30_000_000))
    assert photo["size"] == 30_000_000
    reply, request = ask(slack, bedrock, "<@UBOT> what is in this photo?", [photo])
    (image,) = blocks(request, "image")
    assert pixels(image) == ("jpeg", 1568, 1254) and len(decoded(image)) <= 3_750_000
    assert reply == ANSWER


def test_a_9000_by_6000_png_is_scaled_down(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    _reply, request = ask(slack, bedrock, "<@UBOT> read the diagram", [upload(slack, "map.png", picture(9000, 6000))])
    (image,) = blocks(request, "image")
    assert pixels(image) == ("png", 1568, 1045)


def test_a_gif_renamed_png_is_sent_as_a_gif(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    renamed = upload(slack, "funny.png", picture(120, 90, "GIF"))
    assert renamed["mimetype"] == "image/png"  # what the name claims
    _reply, request = ask(slack, bedrock, "<@UBOT> what is this?", [renamed])
    (image,) = blocks(request, "image")
    assert image["format"] == "gif" and pixels(image) == ("gif", 120, 90)


def test_a_zero_byte_file_gets_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    reply, request = ask(slack, bedrock, "<@UBOT> see attached", [upload(slack, "notes.txt", b"")])
    assert reply.endswith("_Not read: `notes.txt` (the file is empty)._")
    assert "[attached file: notes.txt (text/plain), not read: the file is empty]" in question_text(request)


def test_a_50_mb_pdf_is_not_downloaded(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    scan = upload(slack, "scan.pdf", padded_pdf(50_000_000))
    reply, request = ask(slack, bedrock, "<@UBOT> summarise", [scan])
    assert reply.endswith("_Not read: `scan.pdf` (50.0 MB is more than this bot downloads (FILE_DOWNLOAD_MAX_MB))._")
    assert blocks(request, "document") == [] and slack.downloads == []


def test_25_images_in_a_thread_send_the_20_newest(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    root = slack.user_says("C1", "U2", "photos from the offsite")  # people talking: not the bot's thread
    for batch in range(5):
        files = [upload(slack, f"photo{batch}{i}.png", picture(64, 48, noise=True, seed=batch * 5 + i))
                 for i in range(5)]
        slack.user_says("C1", "U2", f"batch {batch}", files=files, thread_ts=root)
    reply, request = ask(slack, bedrock, "<@UBOT> which one is blurry?", [], thread_ts=root)
    images = blocks(request, "image")
    assert len(images) == 20
    assert reply.endswith("_Not read: `photo00.png`, `photo01.png`, `photo02.png`, `photo03.png`, `photo04.png` "
                          "(only 20 images and documents fit in one request)._")
    assert len(downloads(slack, 20)) == 20  # the oldest five were not even downloaded


def test_6_pdfs_in_one_message_send_5(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    files = [upload(slack, f"contract {i}.pdf", pdf(2, seed=i)) for i in range(6)]
    reply, request = ask(slack, bedrock, "<@UBOT> compare these", files)
    assert [d["name"] for d in blocks(request, "document")] == [f"contract {i}" for i in range(5)]
    assert reply.endswith("_Not read: `contract 5.pdf` (only 5 documents fit in one request)._")


def test_an_exe_gets_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    reply, request = ask(slack, bedrock, "<@UBOT> is this safe?", [upload(slack, "setup.exe", EXE * 50)])
    assert reply.endswith("_Not read: `setup.exe` (a Windows program, which the model cannot read)._")
    assert blocks(request, "image") == blocks(request, "document") == []


def test_a_download_that_returns_the_sign_in_page_says_to_add_files_read(bot: Any, slack: FakeSlack,
                                                                          bedrock: FakeBedrock) -> None:
    shot = upload(slack, "shot.png", picture(100, 100))
    slack.set_file_scope(False)
    reply, request = ask(slack, bedrock, "<@UBOT> what is this?", [shot])
    assert reply.endswith(f"_Not read: `shot.png` ({LOGIN_NOTE})._")
    assert f"not read: {LOGIN_NOTE}" in question_text(request)
    assert downloads(slack, 1)[0].login_page


def test_a_download_that_stalls_gets_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    shot = upload(slack, "slow.png", picture(600, 600, noise=True))
    slack.stall_download(shot["id"], after=50_000, seconds=30.0)
    reply, _request = ask(slack, bedrock, "<@UBOT> what is this?", [shot])
    assert reply.endswith("_Not read: `slow.png` (the download stalled (FILE_DOWNLOAD_TIMEOUT_SECONDS))._")


def test_a_download_cut_short_gets_a_note(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    shot = upload(slack, "cut.png", picture(600, 600, noise=True))
    slack.cut_download(shot["id"], after=50_000)
    reply, _request = ask(slack, bedrock, "<@UBOT> what is this?", [shot])
    assert reply.endswith("_Not read: `cut.png` (the download broke off)._")


def test_files_from_another_channel_are_not_read(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    secret = upload(slack, "salaries.pdf", pdf(1), channel="G1")
    forwarded = {"is_share": True, "is_msg_unfurl": True, "author_id": "U1", "channel_id": "G1",
                 "channel_name": "secret", "text": "the numbers", "files": [secret]}
    elsewhere = upload(slack, "roadmap.png", picture(50, 50), channel="C2")
    bedrock.set_fallback(lambda request: Stream([ANSWER]))
    ts = slack.user_says("C1", "U1", "<@UBOT> what do these say?", files=[elsewhere], attachments=[forwarded])
    reply = final_state(slack, "C1", ts)[0]["text"]
    assert reply.endswith("_Not read: `roadmap.png` (it belongs to another conversation); `salaries.pdf` (it belongs "
                          "to a message forwarded from another conversation)._")
    assert slack.downloads == [] and bedrock.rejections == []


def test_a_file_only_message_without_text_is_answered(bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    report = upload(slack, "report.pdf", pdf(1), channel="D1")
    shot = upload(slack, "shot.png", picture(80, 60), channel="D1")
    reply, request = ask(slack, bedrock, "", [report, shot], channel="D1")
    assert reply == ANSWER
    content = request.messages[-1]["content"]
    assert [next(iter(b)) for b in content] == ["document", "image", "text", "cachePoint"]
    assert content[2]["text"] == ('[attached file: report.pdf (application/pdf), attached above as the document '
                                  '"report"]\n[attached file: shot.png (image/png), shown above as image 1]')


# ------------------------------------------------------------------------------------------ access


def test_slack_connect_stubs_are_filled_in_and_other_organisations_files_follow_the_external_rule(
        bot: Any, slack: FakeSlack, bedrock: FakeBedrock) -> None:
    slack.add_user("UEXT", name="partner", team_id="T0THEM")
    slack.add_channel("C7", "shared", members=("U1", "UEXT"), ext_shared=True)
    theirs = slack.upload_file("UEXT", "their-error.png", picture(40, 40), channel="C7")
    root = slack.user_says("C7", "UEXT", "here is our error", files=[FakeSlack.file_stub(theirs)])
    ours = slack.upload_file("U1", "our-log.txt", b"ERROR 42\n", channel="C7")
    reply, request = ask(slack, bedrock, "<@UBOT> compare with our log", [FakeSlack.file_stub(ours)], channel="C7",
                         thread_ts=root)
    assert reply.endswith("_Not read: a file (shared by someone from another organisation (ALLOW_EXTERNAL_USERS is "
                          "off))._")  # a stub not filled in: its name is unknown
    assert "[attached file: our-log.txt (text/plain)]\n```\nERROR 42\n```" in question_text(request)
    assert [c.params["file"] for c in slack.calls_for("files.info")] == [ours["id"]]
    assert [d.file_id for d in downloads(slack, 1)] == [ours["id"]]


# ------------------------------------------------------------------------------------------ continuing


def test_continuations_and_stream_resumes_resend_the_same_blocks(bot: Any, slack: FakeSlack,
                                                                 bedrock: FakeBedrock) -> None:
    bedrock.enqueue(Stream(["The chart shows"], stop_reason="max_tokens"))  # continued
    bedrock.enqueue(Stream([" growth", " in Q3", " and more"], fail_after=2, exception="modelStreamErrorException"))
    bedrock.enqueue(Stream([" and a dip."]))  # the broken stream, resumed
    chart = upload(slack, "chart.png", picture(2000, 1000))
    report = upload(slack, "notes.pdf", pdf(2))
    ts = slack.user_says("C1", "U1", "<@UBOT> explain", files=[chart, report])
    replies = final_state(slack, "C1", ts)
    assert replies[0]["text"] == "The chart shows growth in Q3 and a dip."
    calls = bedrock.calls
    assert len(calls) == 3 and bedrock.rejections == []
    first = calls[0].messages[0]["content"][:2]
    assert all(call.messages[0]["content"][:2] == first for call in calls)  # the very same image and document
    assert len(downloads(slack, 2)) == 2  # downloaded once for all three calls
