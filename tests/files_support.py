"""Files for tests and the files probe, made on the spot (nothing large is committed): pictures with Pillow, PDFs
written by hand, and the odd bytes people share (programs, HEIC photos)."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def picture(width: int, height: int, fmt: str = "PNG", *, noise: bool = False, seed: int = 1,
            quality: int = 90, mode: str = "RGB") -> bytes:
    """An image: a few shapes and some text like a screenshot, or random noise (which compresses badly, so it
    makes large files of a given size in pixels)."""
    if noise:
        rng = random.Random(seed)
        img = Image.frombytes("RGB", (width, height), rng.randbytes(width * height * 3))
    else:
        img = Image.new("RGB", (width, height), (240, 242, 245))
        draw = ImageDraw.Draw(img)
        step = max(8, height // 30)
        for y in range(step, height - step, step * 2):
            draw.rectangle((step, y, width - step, y + step // 2), fill=(40 + y % 200, 90, 160))
            draw.text((step * 2, y), f"ERROR line {y}: connection refused", fill=(0, 0, 0))
    if mode != "RGB":
        img = img.convert(mode)
    out = io.BytesIO()
    options = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    img.save(out, fmt, **options)
    return out.getvalue()


def jpeg_of_size(width: int, height: int, target: int) -> bytes:
    """A noisy JPEG of `width` × `height` px and exactly `target` bytes, if one of that size in pixels can be that
    small: the best quality that fits, padded after its end marker (which decoders ignore), as cameras and
    screenshot tools leave metadata and previews in large files."""
    best = picture(width, height, "JPEG", noise=True, quality=30)
    for quality in (50, 70, 85, 92, 95, 98, 100):
        data = picture(width, height, "JPEG", noise=True, quality=quality)
        if len(data) > target:
            break
        best = data
    return best + b"\x00" * max(0, target - len(best))


def pdf(pages: int, words: int = 300, *, seed: int = 1) -> bytes:
    """A valid PDF of `pages` pages of text, written by hand (uncompressed, one Helvetica font)."""
    rng = random.Random(seed)
    vocabulary = ["invoice", "quarter", "revenue", "customer", "deploy", "latency", "region", "budget", "ticket",
                  "service", "error", "capacity", "report", "summary", "growth", "contract"]
    objects: list[bytes] = []
    kids = " ".join(f"{4 + 2 * k} 0 R" for k in range(pages))
    objects.append(b"<< /Type /Catalog /Pages 2 0 R >>")
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>".encode())
    objects.append(b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>")
    for k in range(pages):
        lines = []
        for row in range(max(1, words // 12)):
            text = " ".join(rng.choice(vocabulary) for _ in range(12))
            lines.append(f"BT /F1 10 Tf 50 {760 - row * 14} Td (Page {k + 1}: {text}) Tj ET")
        stream = "\n".join(lines).encode()
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {5 + 2 * k} 0 R "
                       f"/Resources << /Font << /F1 3 0 R >> >> >>".encode())
        objects.append(b"<< /Length " + str(len(stream)).encode() + b" >>\nstream\n" + stream + b"\nendstream")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n".encode() + body + b"\nendobj\n")
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def padded_pdf(size: int) -> bytes:
    """A one-page PDF padded to `size` bytes (a comment after the end: readers ignore it)."""
    head = pdf(1)
    return head + b"%" + b"0" * max(0, size - len(head) - 1)


HEIC = (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00\x00\x01\x00meta" + bytes(range(256)) * 40)
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"This program cannot be run " \
      b"in DOS mode.\r\r\n$" + bytes(range(256)) * 20
