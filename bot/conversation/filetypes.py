"""What a file is, decided by its content (magic bytes), never by its name (pure).

Slack's `name`, `filetype` and `mimetype` are what the uploader's client claimed; a GIF renamed `.png` is still
a GIF, and Bedrock rejects an image whose declared format is not what its bytes are. `sniff(data)` looks at
the bytes and says which `Kind` a file is and, for the kinds the model can read, its `format`:

* IMAGE — `png`, `jpeg`, `gif`, `webp` (what Bedrock takes), and `bmp`, `tiff`, `avif` (converted with
  Pillow), `heic` (Pillow cannot read it: left out with a note);
* DOCUMENT — `pdf`, `docx`, `xlsx`, `doc`, `xls` (sent to Bedrock as document blocks);
* TEXT — UTF-8 (or UTF-16 with a byte-order mark) without NUL characters: code, logs, CSV, Markdown, JSON,
  HTML…; sent to the model as fenced text;
* EMPTY, and UNSUPPORTED (programs, archives, audio, video, unknown binary data), each with a `label` that
  names what the file is for the note that says why it was left out.

`sniff` also works on the first bytes only (a download's first chunk), so that a download can stop as soon as
its kind is known to be useless.
"""

from __future__ import annotations

import enum
import io
import re
import zipfile
from dataclasses import dataclass


class Kind(enum.Enum):
    IMAGE = "image"
    DOCUMENT = "document"
    TEXT = "text"
    EMPTY = "empty"
    UNSUPPORTED = "unsupported"


@dataclass(frozen=True)
class Sniffed:
    kind: Kind
    format: str  # e.g. "png", "pdf", "docx", "text", "html", "exe"
    label: str  # what it is, for notes: "a PNG image", "a Windows program"
    complete: bool = True  # False: only the start was seen and the rest may change the verdict (a ZIP file)


BEDROCK_IMAGE_FORMATS = frozenset({"png", "jpeg", "gif", "webp"})
BEDROCK_DOCUMENT_FORMATS = frozenset({"pdf", "docx", "xlsx", "doc", "xls"})
PILLOW_FORMATS = {"png": "PNG", "jpeg": "JPEG", "gif": "GIF", "webp": "WEBP", "bmp": "BMP", "tiff": "TIFF",
                  "avif": "AVIF"}  # the only formats Pillow is allowed to open (never EPS, which runs Ghostscript)

_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"hevm", b"hevs", b"mif1", b"msf1"}
_AVIF_BRANDS = {b"avif", b"avis"}
_HTML = re.compile(rb"\A(?:\xef\xbb\xbf)?\s*(?:<!--.*?-->\s*)*<(?:!doctype\s+html|html[\s>])",
                   re.IGNORECASE | re.DOTALL)

# (prefix, format, label) of formats the model cannot read
_UNSUPPORTED: tuple[tuple[bytes, str, str], ...] = (
    (b"MZ", "exe", "a Windows program"),
    (b"\x7fELF", "elf", "a Linux program"),
    (b"\xcf\xfa\xed\xfe", "macho", "a macOS program"),
    (b"\xca\xfe\xba\xbe", "macho", "a macOS program"),
    (b"\x1f\x8b", "gzip", "a compressed archive"),
    (b"7z\xbc\xaf\x27\x1c", "7z", "a compressed archive"),
    (b"Rar!\x1a\x07", "rar", "a compressed archive"),
    (b"ID3", "mp3", "an audio file"),
    (b"OggS", "ogg", "an audio or video file"),
    (b"fLaC", "flac", "an audio file"),
    (b"\x1a\x45\xdf\xa3", "mkv", "a video"),
    (b"%!PS", "ps", "a PostScript file"),
    (b"SQLite format 3\x00", "sqlite", "a database file"),
)


def _image(fmt: str, label: str) -> Sniffed:
    return Sniffed(Kind.IMAGE, fmt, label)


def _iso_media(data: bytes) -> Sniffed | None:
    """HEIC/AVIF pictures and MP4/QuickTime videos share the ISO media container (`ftyp` box first)."""
    if data[4:8] != b"ftyp":
        return None
    brands = {data[8:12]} | {data[i:i + 4] for i in range(16, min(len(data), 64), 4)}
    if brands & _AVIF_BRANDS:
        return _image("avif", "an AVIF image")
    if brands & _HEIF_BRANDS:
        return _image("heic", "a HEIC photo")
    return Sniffed(Kind.UNSUPPORTED, "video", "a video")


def _office_zip(data: bytes, complete: bool) -> Sniffed:
    """A ZIP container: a Word or Excel file, or another archive. Its table of contents is at the end, so only
    the whole file tells for sure."""
    if not complete:
        if b"word/" in data[:4096]:
            return Sniffed(Kind.DOCUMENT, "docx", "a Word document", complete=False)
        if b"xl/" in data[:4096]:
            return Sniffed(Kind.DOCUMENT, "xlsx", "an Excel workbook", complete=False)
        return Sniffed(Kind.DOCUMENT, "zip", "a ZIP file", complete=False)
    try:
        names = set(zipfile.ZipFile(io.BytesIO(data)).namelist())
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return Sniffed(Kind.UNSUPPORTED, "zip", "a damaged ZIP file")
    if "word/document.xml" in names:
        return Sniffed(Kind.DOCUMENT, "docx", "a Word document")
    if "xl/workbook.xml" in names:
        return Sniffed(Kind.DOCUMENT, "xlsx", "an Excel workbook")
    if "ppt/presentation.xml" in names:
        return Sniffed(Kind.UNSUPPORTED, "pptx", "a PowerPoint presentation")
    return Sniffed(Kind.UNSUPPORTED, "zip", "a ZIP archive")


def _ole(data: bytes, complete: bool) -> Sniffed:
    """An old Office file (OLE compound file): its directory names the streams it holds (in UTF-16)."""
    if "WordDocument".encode("utf-16-le") in data:
        return Sniffed(Kind.DOCUMENT, "doc", "a Word document")
    if "Workbook".encode("utf-16-le") in data or "Book".encode("utf-16-le") in data:
        return Sniffed(Kind.DOCUMENT, "xls", "an Excel workbook")
    if not complete:
        return Sniffed(Kind.DOCUMENT, "ole", "an Office file", complete=False)
    return Sniffed(Kind.UNSUPPORTED, "ole", "an Office file of a kind the model cannot read")


def decode_text(data: bytes, *, complete: bool = True) -> str | None:
    """The file as text if it is text: UTF-8 (a character cut by the end of a partial read is allowed), or
    UTF-16 with a byte-order mark; None for anything with NUL characters or invalid bytes."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            text = data.decode("utf-16")
        except UnicodeDecodeError:
            if complete:
                return None
            text = data[:len(data) - len(data) % 2].decode("utf-16", "ignore")
        return None if "\x00" in text else text.lstrip("\ufeff")
    if b"\x00" in data:
        return None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        if not complete and error.start >= len(data) - 3:  # a multi-byte character cut by the chunk's end
            return data[:error.start].decode("utf-8-sig", "strict") if error.start else ""
        return None


def is_html(data: bytes) -> bool:
    """An HTML page (what Slack sends instead of a file when the token may not read files)."""
    return bool(_HTML.match(data[:2048]))


def sniff(data: bytes, *, complete: bool = True) -> Sniffed:
    """What `data` is (see the module docstring). `complete=False`: `data` is only the file's first bytes."""
    if not data:
        return Sniffed(Kind.EMPTY, "empty", "an empty file") if complete else Sniffed(
            Kind.TEXT, "text", "a text file", complete=False)
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return _image("png", "a PNG image")
    if data.startswith(b"\xff\xd8\xff"):
        return _image("jpeg", "a JPEG image")
    if data.startswith((b"GIF87a", b"GIF89a")):
        return _image("gif", "a GIF image")
    if data.startswith(b"RIFF") and data[8:12] == b"WEBP":
        return _image("webp", "a WebP image")
    if data.startswith(b"BM") and len(data) >= 18 and int.from_bytes(data[14:18], "little") in (
            12, 40, 52, 56, 64, 108, 124):
        return _image("bmp", "a BMP image")
    if data.startswith((b"II*\x00", b"MM\x00*")):
        return _image("tiff", "a TIFF image")
    media = _iso_media(data)
    if media is not None:
        return media
    if b"%PDF-" in data[:1024]:
        return Sniffed(Kind.DOCUMENT, "pdf", "a PDF document")
    if data.startswith(b"PK\x03\x04"):
        return _office_zip(data, complete)
    if data.startswith(_OLE):
        return _ole(data, complete)
    for prefix, fmt, label in _UNSUPPORTED:
        if data.startswith(prefix):
            return Sniffed(Kind.UNSUPPORTED, fmt, label)
    text = decode_text(data, complete=complete)
    if text is None:
        return Sniffed(Kind.UNSUPPORTED, "binary", "binary data of a kind the model cannot read")
    if is_html(data):
        return Sniffed(Kind.TEXT, "html", "an HTML page", complete=complete)
    return Sniffed(Kind.TEXT, "text", "a text file", complete=complete)
