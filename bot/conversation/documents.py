"""Documents and text files for the model (pure): names Bedrock accepts, cost estimates, fenced text.

* Bedrock's document `name` may hold only letters, digits, single spaces, hyphens, parentheses and square
  brackets (1–200 characters; no dots, so no extension), and two documents of one request may not share a
  name ("Messages can't contain duplicate document names"). `document_name` keeps what it can of the file's
  name (ASCII letters and digits; everything else becomes a space) and makes it unique with the Slack file
  id; the original name is given to the model in the text beside the block.
* Cost: a PDF is estimated by its pages (`PDF_PAGE_TOKENS` each, when the page count can be read), other
  documents by their size (about 4 bytes a token, as for text).
* Text files are sent as fenced text: the fence is longer than any run of backticks inside, so the file
  cannot close it; a file too long for the context keeps its start and its end (a log's last lines matter).
"""

from __future__ import annotations

import math
import re
import zlib
from collections.abc import Mapping
from typing import Any

from bot.conversation.images import image_size, image_tokens

NAME_MAX = 200
PDF_PAGE_TOKENS = 1_500  # Anthropic: a PDF page costs about 1,500–3,000 tokens of text
BYTES_PER_TOKEN = 4

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9()\[\] -]+")
_SPACES = re.compile(r"\s+")
_EXTENSION = re.compile(r"(?<=.)\.[A-Za-z0-9]{1,8}$")
_PAGE = re.compile(rb"/Type\s*/Page(?![A-Za-z])")
_OBJECT_STREAM = re.compile(rb"/Type\s*/ObjStm\b.*?stream\r?\n", re.DOTALL)
_LANGUAGES = {"py": "python", "js": "javascript", "ts": "typescript", "tsx": "tsx", "jsx": "jsx", "rb": "ruby",
              "go": "go", "rs": "rust", "java": "java", "kt": "kotlin", "c": "c", "h": "c", "cpp": "cpp",
              "cs": "csharp", "php": "php", "sh": "bash", "bash": "bash", "zsh": "bash", "ps1": "powershell",
              "sql": "sql", "json": "json", "yaml": "yaml", "yml": "yaml", "toml": "toml", "xml": "xml",
              "html": "html", "css": "css", "md": "markdown", "csv": "csv", "tf": "hcl", "swift": "swift",
              "dockerfile": "dockerfile", "ini": "ini"}


def document_name(original: str, file_id: str, taken: set[str]) -> str:
    """A Bedrock document name for a file called `original`, not in `taken` (compared without case); the
    result is added to `taken`."""
    stem = _EXTENSION.sub("", original.strip())
    name = _SPACES.sub(" ", _NOT_ALLOWED.sub(" ", stem)).strip()[:NAME_MAX - 20].strip() or "Document"
    suffix = _NOT_ALLOWED.sub("", file_id)[:16]
    candidate, n = name, 1
    while candidate.lower() in taken:
        n += 1
        candidate = f"{name} [{suffix}]" if n == 2 and suffix else f"{name} ({n})"
    taken.add(candidate.lower())
    return candidate


def pdf_pages(data: bytes) -> int | None:
    """How many pages a PDF has, if its page objects can be counted (also inside compressed object streams)."""
    count = len(_PAGE.findall(data))
    if count:
        return count
    for match in _OBJECT_STREAM.finditer(data):
        end = data.find(b"endstream", match.end())
        if end < 0:
            continue
        try:
            inflated = zlib.decompressobj().decompress(data[match.end():end], 4_000_000)
        except zlib.error:
            continue
        count += len(_PAGE.findall(inflated))
    return count or None


def document_tokens(fmt: str, data: bytes) -> int:
    """An estimate of what a document costs the model."""
    if fmt == "pdf":
        pages = pdf_pages(data)
        if pages:
            return pages * PDF_PAGE_TOKENS
    return max(1, math.ceil(len(data) / BYTES_PER_TOKEN))


def language(file: Mapping[str, Any]) -> str:
    """The fence's language for a file: from Slack's `filetype` of a snippet, else its extension."""
    name = str(file.get("name") or "").lower()
    extension = name.rsplit(".", 1)[-1] if "." in name else name
    filetype = str(file.get("filetype") or "").lower()
    if extension in _LANGUAGES:
        return _LANGUAGES[extension]
    if filetype in _LANGUAGES.values() or filetype == "shell":  # a snippet's type names its language
        return "bash" if filetype == "shell" else filetype
    return _LANGUAGES.get(filetype, "")


def fence(text: str, lang: str = "") -> str:
    """`text` in a Markdown code fence that nothing inside can close."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * max(3, longest + 1)
    return f"{ticks}{lang}\n{text.rstrip(chr(10))}\n{ticks}"


def cut_middle(text: str, max_chars: int) -> tuple[str, int]:
    """At most about `max_chars` characters of `text`: its first two thirds and last third, with a line saying
    how much was left out between them. Returns the text and the number of characters left out."""
    if len(text) <= max_chars:
        return text, 0
    head = text[:max_chars * 2 // 3]
    tail = text[len(text) - max_chars // 3:] if max_chars >= 3 else ""
    left_out = len(text) - len(head) - len(tail)
    return f"{head}\n[… {left_out:,} characters left out to fit the model's context …]\n{tail}", left_out


def block_tokens(block: Mapping[str, Any]) -> int:
    """The estimated cost of an image or document content block (0 for any other block)."""
    image = block.get("image")
    if isinstance(image, Mapping):
        data = (image.get("source") or {}).get("bytes")
        return image_tokens(*image_size(data)) if isinstance(data, bytes) else 0
    document = block.get("document")
    if isinstance(document, Mapping):
        data = (document.get("source") or {}).get("bytes")
        return document_tokens(str(document.get("format") or ""), data) if isinstance(data, bytes) else 0
    return 0
