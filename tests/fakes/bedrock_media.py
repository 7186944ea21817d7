"""The fake Bedrock's checks of image and document blocks, with Bedrock's own error wording.

boto3 sends blobs base64-encoded in the JSON body; these checks decode them and look at the bytes as Bedrock
does (Pillow reads an image's real format and pixel size). Limits are those of botocore's service model
(`Message.content`: 20 images of at most 3.75 MB and 8,000 × 8,000 px, 5 documents of at most 4.5 MB, a text
block beside any document, images and documents in user turns only), and what Claude on Bedrock adds (images
and documents count together against 20; image size is measured on the base64 text, 5 MiB).

Wording: taken from errors Bedrock returned to other projects (GitHub issue threads) where one was found —
``MSG_TOO_MANY_MEDIA`` (boto/boto3#4632), ``MSG_TOO_MANY_DOCUMENTS`` and ``MSG_DUPLICATE_NAMES``
(aws-samples/generative-ai-use-cases#1685, maximhq/bifrost#7003), ``MSG_DOCUMENT_NAME`` (simonw/llm-bedrock#8),
``MSG_IMAGE_MISMATCH`` (aws-samples/amazon-bedrock-client-for-mac#130), ``MSG_IMAGE_TOO_LARGE``
(aws-solutions-library-samples/…#778), ``MSG_DOCUMENT_NEEDS_TEXT`` (maximhq/bifrost#5817), ``MSG_INPUT_TOO_LONG``
(…#994: a 27.7 MB request was refused so, 19.1 MB accepted). The others follow the pattern of those
(marked "modelled").
"""

from __future__ import annotations

import base64
import binascii
import io
import math
import re
from typing import Any

from PIL import Image, UnidentifiedImageError

MSG_FORMAT_ENUM = ("1 validation error detected: Value '{value}' at 'messages.{i}.member.content.{j}.member.{kind}."
                   "format' failed to satisfy constraint: Member must satisfy enum value set: [{allowed}]")
MSG_TOO_MANY_MEDIA = ("The model returned the following errors: messages: too many images and documents: "
                      "{images} + {documents} > 20")
MSG_TOO_MANY_DOCUMENTS = "You can't include more than 5 documents in a request."
MSG_DUPLICATE_NAMES = "Messages can't contain duplicate document names. Rename the document and retry your request."
MSG_DOCUMENT_NAME = (
    "The document file name can only contain alphanumeric characters, whitespace characters, hyphens, parentheses, "
    "and square brackets. The name can't contain more than one consecutive whitespace character. Check that the "
    "file name conforms to these restrictions and retry your request."
)
MSG_DOCUMENT_NEEDS_TEXT = "A text block must be included when using documents."
MSG_IMAGE_MISMATCH = ("The model returned the following errors: messages.{i}.content.{j}.image.source.bytes: The image "
                      "was specified using the image/{declared} media type, but the image appears to be a "
                      "image/{actual} image")
MSG_IMAGE_TOO_LARGE = ("The model returned the following errors: messages.{i}.content.{j}.image.source.bytes: image "
                       "exceeds 5 MB maximum: {size} bytes > 5242880 bytes")
MSG_INPUT_TOO_LONG = "Input is too long for requested model."
# modelled on the above
MSG_IMAGE_PIXELS = ("The model returned the following errors: messages.{i}.content.{j}.image.source.bytes: At least "
                    "one of the image dimensions exceed max allowed size: 8000 pixels")
MSG_IMAGE_UNREADABLE = ("The model returned the following errors: messages.{i}.content.{j}.image.source.bytes: "
                        "Could not process image")
MSG_DOCUMENT_TOO_LARGE = "The document at messages.{i}.content.{j} is larger than the maximum size of 4.5 MB."
MSG_MEDIA_ROLE = "messages.{i}.content.{j}: You can only include images and documents if the role is user."
MSG_EMPTY_BYTES = ("1 validation error detected: Value at 'messages.{i}.member.content.{j}.member.{kind}.source."
                   "member.bytes' failed to satisfy constraint: Member must have length greater than or equal to 1")

IMAGE_FORMATS = ("png", "jpeg", "gif", "webp")
DOCUMENT_FORMATS = ("pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md")
MAX_MEDIA = 20
MAX_DOCUMENTS = 5
IMAGE_BASE64_LIMIT = 5 * 1024 * 1024
MAX_PIXELS = 8000
DOCUMENT_LIMIT = 4_500_000
BODY_LIMIT = 20 * 1024 * 1024
_NAME = re.compile(r"[A-Za-z0-9()\[\]\-]+(?: [A-Za-z0-9()\[\]\-]+)*")
_PIL_NAMES = {"PNG": "png", "JPEG": "jpeg", "GIF": "gif", "WEBP": "webp"}


def _bytes(source: Any) -> tuple[bytes | None, int]:
    """The decoded bytes of a `source.bytes` (base64 in the JSON body) and the length of its base64 text."""
    raw = source.get("bytes") if isinstance(source, dict) else None
    if not isinstance(raw, str):
        return None, 0
    try:
        return base64.b64decode(raw, validate=True), len(raw)
    except (binascii.Error, ValueError):
        return None, len(raw)


def image_size(data: bytes) -> tuple[str, int, int] | None:
    """(format, width, height) of an image as Bedrock reads it, or None."""
    try:
        with Image.open(io.BytesIO(data)) as img:
            return _PIL_NAMES.get(img.format or "", (img.format or "").lower()), img.width, img.height
    except (UnidentifiedImageError, OSError, ValueError):
        return None


def _image(block: dict[str, Any], i: int, j: int, role: str) -> str | None:
    if role != "user":
        return MSG_MEDIA_ROLE.format(i=i, j=j)
    fmt = block.get("format")
    if fmt not in IMAGE_FORMATS:
        return MSG_FORMAT_ENUM.format(value=fmt, i=i, j=j, kind="image", allowed=", ".join(IMAGE_FORMATS))
    data, encoded = _bytes(block.get("source"))
    if not data:
        return MSG_EMPTY_BYTES.format(i=i, j=j, kind="image")
    if encoded > IMAGE_BASE64_LIMIT:
        return MSG_IMAGE_TOO_LARGE.format(i=i, j=j, size=encoded)
    seen = image_size(data)
    if seen is None:
        return MSG_IMAGE_UNREADABLE.format(i=i, j=j)
    actual, width, height = seen
    if actual != fmt:
        return MSG_IMAGE_MISMATCH.format(i=i, j=j, declared=fmt, actual=actual)
    if width > MAX_PIXELS or height > MAX_PIXELS:
        return MSG_IMAGE_PIXELS.format(i=i, j=j)
    return None


def _document(block: dict[str, Any], i: int, j: int, role: str) -> str | None:
    if role != "user":
        return MSG_MEDIA_ROLE.format(i=i, j=j)
    fmt = block.get("format")
    if fmt is not None and fmt not in DOCUMENT_FORMATS:
        return MSG_FORMAT_ENUM.format(value=fmt, i=i, j=j, kind="document", allowed=", ".join(DOCUMENT_FORMATS))
    name = block.get("name")
    if not isinstance(name, str) or not 1 <= len(name) <= 200 or not _NAME.fullmatch(name):
        return MSG_DOCUMENT_NAME
    data, _encoded = _bytes(block.get("source"))
    if not data:
        return MSG_EMPTY_BYTES.format(i=i, j=j, kind="document")
    if len(data) > DOCUMENT_LIMIT:
        return MSG_DOCUMENT_TOO_LARGE.format(i=i, j=j)
    return None


def validate_media(messages: list[Any], body_size: int) -> str | None:
    """Bedrock's ValidationException message for the images and documents of a request, else None."""
    if body_size > BODY_LIMIT:
        return MSG_INPUT_TOO_LONG
    images = documents = 0
    names: set[str] = set()
    for i, message in enumerate(messages):
        if not isinstance(message, dict) or not isinstance(message.get("content"), list):
            continue
        role = str(message.get("role"))
        has_document = has_text = False
        for j, block in enumerate(message["content"]):
            if not isinstance(block, dict):
                continue
            has_text = has_text or (isinstance(block.get("text"), str) and bool(block["text"].strip()))
            if isinstance(block.get("image"), dict):
                images += 1
                problem = _image(block["image"], i, j, role)
            elif isinstance(block.get("document"), dict):
                documents += 1
                has_document = True
                problem = _document(block["document"], i, j, role)
                name = block["document"].get("name")
                if problem is None and name in names:
                    return MSG_DUPLICATE_NAMES
                names.add(str(name))
            else:
                continue
            if problem is not None:
                return problem
        if has_document and not has_text:
            return MSG_DOCUMENT_NEEDS_TEXT
    if documents > MAX_DOCUMENTS:
        return MSG_TOO_MANY_DOCUMENTS
    if images + documents > MAX_MEDIA:
        return MSG_TOO_MANY_MEDIA.format(images=images, documents=documents)
    return None


def media_tokens(block: Any) -> int:
    """What the fake model charges for an image (width × height / 750) or a document (a token per 4 bytes)."""
    if not isinstance(block, dict):
        return 0
    if isinstance(block.get("image"), dict):
        data, _ = _bytes(block["image"].get("source"))
        seen = image_size(data) if data else None
        return math.ceil(seen[1] * seen[2] / 750) if seen else 0
    if isinstance(block.get("document"), dict):
        data, _ = _bytes(block["document"].get("source"))
        return math.ceil(len(data) / 4) if data else 0
    return 0
