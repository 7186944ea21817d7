"""Pictures for the model (pure, with Pillow): within Bedrock's limits and no larger than Claude can use.

Bedrock takes PNG, JPEG, GIF and WebP images of at most 3.75 MB and 8,000 × 8,000 px; Claude scales anything
whose long side passes 1,568 px down itself, so a larger image only costs upload time and tokens (about
`width × height / 750` tokens). `prepare` therefore:

* passes an image through untouched when it is already in a format Bedrock takes, small enough in bytes and
  no longer than `max_edge` on its long side;
* otherwise decodes it (JPEG at a reduced scale where it can: Pillow's draft mode), turns it upright (EXIF
  orientation), scales it down keeping its aspect ratio until the long side is at most `max_edge`, and
  re-encodes it: PNG for pictures with transparency or drawn ones (PNG, GIF, BMP sources) when that fits,
  JPEG otherwise; a result still over the byte limit is made smaller until it fits;
* converts BMP, TIFF and AVIF the same way; HEIC, which Pillow cannot read, raises `ImageProblem`.

Only the formats named in `bot.conversation.filetypes.PILLOW_FORMATS` are ever opened, and nothing larger than
Pillow's decompression-bomb bound (about 89 megapixels) is decoded.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

from bot.conversation.filetypes import BEDROCK_IMAGE_FORMATS, PILLOW_FORMATS

IMAGE_MAX_BYTES = 3_750_000  # Bedrock: 3.75 MB per image (it checks 5 MiB of base64, i.e. 3.93 MB raw)
IMAGE_MAX_PIXELS = 8000  # Bedrock: at most 8,000 px on either side
MAX_DECODE_PIXELS = Image.MAX_IMAGE_PIXELS or 89_478_485  # what Pillow calls a decompression bomb
JPEG_QUALITY = 85


class ImageProblem(Exception):
    """The image cannot be sent; `str()` is the reason, for the note."""


@dataclass(frozen=True)
class Picture:
    data: bytes
    format: str  # one of BEDROCK_IMAGE_FORMATS
    width: int
    height: int
    original: tuple[int, int]  # its size as shared
    changed: bool  # re-encoded (scaled down or converted)

    @property
    def tokens(self) -> int:
        return image_tokens(self.width, self.height)


def image_tokens(width: int, height: int) -> int:
    """Anthropic's estimate of what an image costs: width × height / 750 tokens."""
    return max(1, math.ceil(width * height / 750))


def image_size(data: bytes) -> tuple[int, int]:
    """Width and height of an image the bot prepared (read from its header; (0, 0) if unreadable)."""
    try:
        with Image.open(io.BytesIO(data), formats=list(PILLOW_FORMATS.values())) as img:
            return img.size
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return 0, 0


def _scaled(size: tuple[int, int], edge: int) -> tuple[int, int]:
    width, height = size
    ratio = min(1.0, edge / max(width, height))
    return max(1, round(width * ratio)), max(1, round(height * ratio))


def _encode(img: Image.Image, fmt: str) -> bytes:
    out = io.BytesIO()
    if fmt == "png":
        img.save(out, "PNG", optimize=False, compress_level=6)
    else:
        if img.mode not in ("RGB", "L"):
            if "A" in img.getbands() or img.mode == "P":
                base = Image.new("RGB", img.size, (255, 255, 255))
                rgba = img.convert("RGBA")
                base.paste(rgba, mask=rgba.getchannel("A"))
                img = base
            else:
                img = img.convert("RGB")
        img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def _has_alpha(img: Image.Image) -> bool:
    return "A" in img.getbands() or (img.mode == "P" and "transparency" in img.info)


def prepare(data: bytes, source_format: str, *, max_edge: int, max_bytes: int = IMAGE_MAX_BYTES) -> Picture:
    """`data` (an image of `source_format`, as `filetypes.sniff` found it) as Bedrock should get it.

    Raises ImageProblem with the reason when it cannot be made into one."""
    if source_format not in PILLOW_FORMATS:
        raise ImageProblem(f"{source_format.upper()} images cannot be read here; share it as PNG or JPEG")
    edge = min(max_edge, IMAGE_MAX_PIXELS)
    try:
        with Image.open(io.BytesIO(data), formats=[PILLOW_FORMATS[source_format]]) as img:
            original = img.size
            if original[0] * original[1] > MAX_DECODE_PIXELS:
                raise ImageProblem(f"{original[0]:,} × {original[1]:,} px is more than this bot decodes "
                                   f"({MAX_DECODE_PIXELS // 1_000_000} megapixels)")
            if source_format in BEDROCK_IMAGE_FORMATS and len(data) <= max_bytes and max(original) <= edge:
                img.load()  # decodes: a damaged file is found here, not by Bedrock
                return Picture(data, source_format, original[0], original[1], original, changed=False)
            return _reencode(img, source_format, original, edge, max_bytes)
    except ImageProblem:
        raise
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError):
        raise ImageProblem("the image could not be read (damaged, or a variant this bot cannot decode)") from None


def _reencode(img: Image.Image, source_format: str, original: tuple[int, int], edge: int,
              max_bytes: int) -> Picture:
    target = _scaled(original, edge)
    if source_format == "jpeg":
        img.draft("RGB", target)  # decode at 1/2, 1/4 or 1/8 scale when that is still at least the target
    img.seek(0)  # the first frame of an animated GIF or a multi-page TIFF
    frame = ImageOps.exif_transpose(img.copy()) or img.copy()
    if frame.mode in ("I;16", "I", "F"):
        frame = frame.convert("RGB")  # deep colour (scientific TIFFs): 8 bits a channel is what PNG/JPEG take
    photo = source_format in ("jpeg", "webp", "avif") and not _has_alpha(frame)
    while True:
        scaled = frame.copy()
        scaled.thumbnail((edge, edge), Image.Resampling.LANCZOS, reducing_gap=3.0)
        encoded, fmt = b"", "png"
        if not photo:
            encoded = _encode(scaled, "png")
        if photo or len(encoded) > max_bytes:
            encoded, fmt = _encode(scaled, "jpeg"), "jpeg"
        if len(encoded) <= max_bytes:
            return Picture(encoded, fmt, scaled.width, scaled.height, original, changed=True)
        if edge <= 200:
            raise ImageProblem("the image could not be made small enough for Bedrock")
        edge = int(edge * 0.75)
