"""sniff: what a file is, from its bytes only (never its name)."""

from __future__ import annotations

import io
import zipfile

import pytest

from bot.conversation.filetypes import Kind, decode_text, is_html, sniff
from tests.files_support import EXE, HEIC, pdf, picture


def zipped(*names: str) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        for name in names:
            archive.writestr(name, "<x/>")
    return out.getvalue()


OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 500


@pytest.mark.parametrize(("data", "kind", "fmt"), [
    (picture(8, 8, "PNG"), Kind.IMAGE, "png"),
    (picture(8, 8, "JPEG"), Kind.IMAGE, "jpeg"),
    (picture(8, 8, "GIF"), Kind.IMAGE, "gif"),
    (picture(8, 8, "WEBP"), Kind.IMAGE, "webp"),
    (picture(8, 8, "BMP"), Kind.IMAGE, "bmp"),
    (picture(8, 8, "TIFF"), Kind.IMAGE, "tiff"),
    (picture(8, 8, "AVIF"), Kind.IMAGE, "avif"),
    (HEIC, Kind.IMAGE, "heic"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2mp41" + b"\x00" * 64, Kind.UNSUPPORTED, "video"),
    (pdf(1), Kind.DOCUMENT, "pdf"),
    (b"\xef\xbb\xbfjunk before the header %PDF-1.7\n...", Kind.DOCUMENT, "pdf"),
    (zipped("word/document.xml"), Kind.DOCUMENT, "docx"),
    (zipped("xl/workbook.xml"), Kind.DOCUMENT, "xlsx"),
    (zipped("ppt/presentation.xml"), Kind.UNSUPPORTED, "pptx"),
    (zipped("src/main.py"), Kind.UNSUPPORTED, "zip"),
    (OLE + "WordDocument".encode("utf-16-le"), Kind.DOCUMENT, "doc"),
    (OLE + "Workbook".encode("utf-16-le"), Kind.DOCUMENT, "xls"),
    (OLE, Kind.UNSUPPORTED, "ole"),
    (EXE, Kind.UNSUPPORTED, "exe"),
    (b"\x7fELF\x02\x01\x01" + b"\x00" * 40, Kind.UNSUPPORTED, "elf"),
    (b"\x1f\x8b\x08\x00" + b"\x00" * 20, Kind.UNSUPPORTED, "gzip"),
    (b"def main():\n    print('hi')\n", Kind.TEXT, "text"),
    ("ログ: 接続が拒否されました\n".encode(), Kind.TEXT, "text"),
    (b"\xef\xbb\xbfname,amount\nalice,3\n", Kind.TEXT, "text"),
    ("line one\r\nline two\r\n".encode("utf-16"), Kind.TEXT, "text"),
    (b"<!DOCTYPE html>\n<html><body>hi</body></html>", Kind.TEXT, "html"),
    (b"text with a \x00 NUL", Kind.UNSUPPORTED, "binary"),
    ("caf\xe9 in latin-1".encode("latin-1"), Kind.UNSUPPORTED, "binary"),
    (b"", Kind.EMPTY, "empty"),
])
def test_sniff_decides_by_content(data: bytes, kind: Kind, fmt: str) -> None:
    found = sniff(data)
    assert (found.kind, found.format) == (kind, fmt)
    assert found.label


def test_a_gif_renamed_png_is_a_gif() -> None:
    assert sniff(picture(8, 8, "GIF")).format == "gif"  # the name never reaches sniff


def test_the_first_chunk_of_a_download_is_enough_to_stop_early() -> None:
    assert sniff(EXE[:4096], complete=False).kind is Kind.UNSUPPORTED
    cut_in_a_character = "接続".encode()[:4]
    assert sniff(b"log: " + cut_in_a_character, complete=False).kind is Kind.TEXT
    assert sniff(b"log: " + cut_in_a_character).kind is Kind.UNSUPPORTED  # the whole file: invalid UTF-8
    head = zipped("word/document.xml")[:200]
    assert (sniff(head, complete=False).kind, sniff(head, complete=False).complete) == (Kind.DOCUMENT, False)


def test_decode_text_and_is_html() -> None:
    assert decode_text(b"\xef\xbb\xbfhello") == "hello"
    assert decode_text("hi".encode("utf-16")) == "hi"
    assert decode_text(b"a\x00b") is None
    assert is_html(b"  <!-- page -->\n<HTML lang='en'>") and not is_html(b"I wrote <html> in a sentence")
