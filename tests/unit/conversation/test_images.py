"""prepare: images within Bedrock's limits and IMAGE_MAX_EDGE, by Pillow, with the aspect ratio kept."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.conversation.images import IMAGE_MAX_BYTES, ImageProblem, image_size, image_tokens, prepare
from tests.files_support import HEIC, picture


def opened(data: bytes) -> Image.Image:
    return Image.open(io.BytesIO(data))


def test_a_small_supported_image_passes_untouched() -> None:
    data = picture(800, 600)
    result = prepare(data, "png", max_edge=1568)
    assert (result.data, result.format, result.changed) == (data, "png", False)
    assert (result.width, result.height, result.tokens) == (800, 600, 640)


@pytest.mark.parametrize(("size", "expected"), [
    ((4000, 3000), (1568, 1176)),
    ((9000, 6000), (1568, 1045)),
    ((3000, 4000), (1176, 1568)),
    ((1569, 100), (1568, 100)),
])
def test_large_images_are_scaled_to_the_max_edge_keeping_the_aspect_ratio(size: tuple[int, int],
                                                                          expected: tuple[int, int]) -> None:
    result = prepare(picture(*size), "png", max_edge=1568)
    assert (result.width, result.height) == expected == opened(result.data).size
    assert result.original == size and result.changed
    assert opened(result.data).format.lower() == result.format


def test_the_max_edge_setting_is_honoured() -> None:
    result = prepare(picture(2000, 1000, "JPEG"), "jpeg", max_edge=800)
    assert (result.width, result.height, result.format) == (800, 400, "jpeg")


def test_too_many_bytes_at_a_small_size_is_reencoded_under_the_limit() -> None:
    noisy = picture(1500, 1500, noise=True)  # about 6.7 MB as PNG: noise does not compress
    assert len(noisy) > IMAGE_MAX_BYTES
    result = prepare(noisy, "png", max_edge=1568)
    assert len(result.data) <= IMAGE_MAX_BYTES and result.format == "jpeg"
    assert (result.width, result.height) == (1500, 1500)


def test_an_image_still_too_heavy_is_made_smaller_until_it_fits() -> None:
    result = prepare(picture(1500, 1500, noise=True), "png", max_edge=1568, max_bytes=300_000)
    assert len(result.data) <= 300_000 and result.width < 1500 and result.width == result.height


def test_transparency_keeps_png() -> None:
    result = prepare(picture(2000, 1000, mode="RGBA"), "png", max_edge=1568)
    assert result.format == "png" and opened(result.data).mode == "RGBA"


def test_a_gif_keeps_its_real_format_and_bmp_tiff_avif_are_converted() -> None:
    assert prepare(picture(100, 80, "GIF"), "gif", max_edge=1568).format == "gif"
    for fmt in ("BMP", "TIFF", "AVIF"):
        result = prepare(picture(100, 80, fmt), fmt.lower(), max_edge=1568)
        assert result.format in ("png", "jpeg") and result.changed
        assert opened(result.data).size == (100, 80)


def test_exif_orientation_is_applied() -> None:
    img = Image.new("RGB", (200, 100), (255, 0, 0))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif)
    result = prepare(out.getvalue(), "jpeg", max_edge=150)
    assert (result.width, result.height) == (75, 150)


@pytest.mark.parametrize(("data", "fmt", "reason"), [
    (HEIC, "heic", "HEIC images cannot be read here"),
    (picture(100, 100)[:200], "png", "could not be read"),
    (b"not a picture at all", "jpeg", "could not be read"),
])
def test_what_cannot_be_read_says_why(data: bytes, fmt: str, reason: str) -> None:
    with pytest.raises(ImageProblem) as caught:
        prepare(data, fmt, max_edge=1568)
    assert reason in str(caught.value)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns when it opens one
def test_a_decompression_bomb_is_not_decoded() -> None:
    out = io.BytesIO()
    Image.new("1", (10_000, 9_000)).save(out, "PNG")  # 90 megapixels in a few kilobytes
    with pytest.raises(ImageProblem) as caught:
        prepare(out.getvalue(), "png", max_edge=1568)
    assert "10,000 × 9,000 px is more than this bot decodes" in str(caught.value)


def test_tokens_and_sizes() -> None:
    assert image_tokens(1568, 1176) == 2459  # 1568 × 1176 / 750 = 2458.6
    assert image_size(picture(30, 20)) == (30, 20)
    assert image_size(b"junk") == (0, 0)
