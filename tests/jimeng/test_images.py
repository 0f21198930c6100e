"""Fitting uploads to the upstream's image limits (docs/upstream/volcengine-visual.md)."""

from __future__ import annotations

import base64
import io

import pytest
from PIL import Image

from generations.jimeng.images import (
    MAX_BYTES,
    MAX_SIDE,
    MIN_SHORT_SIDE,
    ImageRejected,
    fit_image,
    nearest_aspect_ratio,
)
from tests import images


def _decoded(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def _within_limits(fitted) -> None:
    decoded = _decoded(fitted.data)
    assert decoded.format in ("JPEG", "PNG")
    assert len(fitted.data) <= MAX_BYTES
    assert max(decoded.size) <= MAX_SIDE
    assert min(decoded.size) >= MIN_SHORT_SIDE
    assert max(decoded.size) / min(decoded.size) <= 3
    assert decoded.size == (fitted.width, fitted.height)


def test_thirty_megapixel_png_is_fitted() -> None:
    data = images.gradient(6708, 4472)  # 30.0 MP
    fitted = fit_image(data)
    _within_limits(fitted)
    assert (fitted.width, fitted.height) == (2560, 1707)  # inside 4096: see FIT_MAX_SIDE
    assert (fitted.original_width, fitted.original_height) == (6708, 4472)
    assert fitted.changed and fitted.aspect_ratio == "4:3"


def test_detailed_image_is_recompressed_until_it_fits() -> None:
    data = images.noisy(3000, 2000, "JPEG")  # noise: a quality-92 JPEG is far over 4.7 MB
    assert MAX_BYTES < len(data) < 20 * 1024 * 1024
    fitted = fit_image(data)
    _within_limits(fitted)


def test_exif_rotated_jpeg_is_turned_upright() -> None:
    data = images.exif_rotated_jpeg(1200, 800, orientation=6)
    fitted = fit_image(data)
    decoded = _decoded(fitted.data).convert("RGB")
    assert decoded.size == (800, 1200)  # portrait, as a viewer shows it
    # Orientation 6 turns the picture clockwise: the red left half ends up on top.
    top = decoded.getpixel((400, 100))
    bottom = decoded.getpixel((400, 1100))
    assert top[0] > 150 and top[2] < 100
    assert bottom[2] > 150 and bottom[0] < 100
    assert fitted.aspect_ratio == "3:4"


def test_one_to_four_strip_is_refused() -> None:
    with pytest.raises(ImageRejected) as caught:
        fit_image(images.solid(400, 1600))
    assert caught.value.code == "ratio"
    assert "3 times" in caught.value.message


def test_truncated_jpeg_is_refused() -> None:
    data = images.noisy(800, 600, "JPEG")
    with pytest.raises(ImageRejected) as caught:
        fit_image(data[: len(data) // 2])
    assert caught.value.code == "truncated"


def test_png_bomb_is_refused_before_decoding() -> None:
    bomb = images.png_bomb()
    assert len(bomb) < 100_000
    with pytest.raises(ImageRejected) as caught:
        fit_image(bomb)
    assert caught.value.code == "bomb"


def test_pillow_bomb_guard_stays_on() -> None:
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS >= 80_000_000


@pytest.mark.parametrize(
    ("data", "code"),
    [
        (b"", "empty"),
        (b"%PDF-1.4 definitely not an image", "not_image"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "not_image"),
        (images.animated_png(), "animated"),
    ],
    ids=["empty", "pdf", "svg", "animated-png"],
)
def test_unusable_files_are_refused(data: bytes, code: str) -> None:
    with pytest.raises(ImageRejected) as caught:
        fit_image(data)
    assert caught.value.code == code


def test_gif_is_refused_as_a_format() -> None:
    buffer = io.BytesIO()
    Image.new("RGB", (400, 400)).save(buffer, "GIF")
    with pytest.raises(ImageRejected) as caught:
        fit_image(buffer.getvalue())
    assert caught.value.code == "format"


def test_upload_over_twenty_megabytes_is_refused() -> None:
    with pytest.raises(ImageRejected) as caught:
        fit_image(io.BytesIO(b"\xff\xd8" + b"0" * (20 * 1024 * 1024)))
    assert caught.value.code == "too_large"


def test_webp_is_converted_to_jpeg() -> None:
    fitted = fit_image(images.solid(800, 600, fmt="WEBP"))
    assert fitted.format == "JPEG" and fitted.original_format == "WEBP"
    _within_limits(fitted)


def test_transparent_png_is_flattened_onto_white() -> None:
    fitted = fit_image(images.solid(600, 600, (10, 10, 10), fmt="PNG_ALPHA"))
    decoded = _decoded(fitted.data).convert("RGB")
    assert decoded.mode == "RGB"
    assert min(decoded.getpixel((300, 300))) > 240  # white, not black


def test_small_image_is_scaled_up_to_the_minimum_short_side() -> None:
    fitted = fit_image(images.solid(400, 200))
    assert (fitted.width, fitted.height) == (640, 320)


def test_image_within_limits_is_sent_unchanged() -> None:
    data = images.solid(1280, 720)
    fitted = fit_image(data)
    assert fitted.data == data and not fitted.changed


def test_cmyk_and_sixteen_bit_images_become_rgb() -> None:
    for image in (
        Image.new("CMYK", (500, 500), (0, 255, 255, 0)),
        Image.new("I;16", (500, 500), 40000),
    ):
        buffer = io.BytesIO()
        image.save(buffer, "JPEG" if image.mode == "CMYK" else "PNG")
        fitted = fit_image(buffer.getvalue())
        decoded = _decoded(fitted.data)
        assert decoded.mode == "RGB"
    assert decoded.getpixel((10, 10))[0] in range(150, 160)  # 40000 / 256 ≈ 156, not clipped


@pytest.mark.parametrize(
    ("size", "ratio"),
    [
        ((1920, 1080), "16:9"),
        ((1080, 1920), "9:16"),
        ((1000, 1000), "1:1"),
        ((1024, 768), "4:3"),
        ((2520, 1080), "21:9"),
        ((900, 1200), "3:4"),
        ((1300, 1000), "4:3"),
        ((1500, 1000), "4:3"),
        ((1600, 1000), "16:9"),
    ],
)
def test_nearest_aspect_ratio(size: tuple[int, int], ratio: str) -> None:
    assert nearest_aspect_ratio(*size) == ratio


def test_base64_is_bare() -> None:
    fitted = fit_image(images.solid(640, 480))
    encoded = fitted.base64()
    assert not encoded.startswith("data:") and "\n" not in encoded
    assert base64.b64decode(encoded) == fitted.data


def test_trailing_bytes_and_metadata_are_not_sent_upstream() -> None:
    clean = images.solid(1280, 720)
    polyglot = fit_image(clean + b"<script>alert(1)</script>")
    assert polyglot.changed and b"<script>" not in polyglot.data
    exif = Image.Exif()
    exif[0x8825] = {1: "N"}  # a GPS block
    exif[0x010F] = "PhoneMaker"
    buffer = io.BytesIO()
    Image.new("RGB", (1280, 720), (9, 9, 9)).save(buffer, "JPEG", exif=exif.tobytes())
    fitted = fit_image(buffer.getvalue())
    assert fitted.changed and not Image.open(io.BytesIO(fitted.data)).getexif()
    assert not fit_image(clean).changed  # a clean file still goes as it came


def test_pixel_ceilings_depend_on_how_the_format_decodes() -> None:
    """A 40 MP JPEG is decoded at reduced scale and an 8-bit PNG a band at a time, so
    both are accepted; what must be decoded whole (WebP, 16-bit PNG) stops at 24 MP."""
    for fmt in ("JPEG", "PNG"):
        fitted = fit_image(images.gradient(8000, 5000, fmt))  # 40 MP
        assert (fitted.width, fitted.height) == (2560, 1600), fmt
    sixteen_bit = io.BytesIO()
    Image.new("I;16", (5000, 5000), 30000).save(sixteen_bit, "PNG")
    for whole in (images.gradient(5000, 5000, "WEBP"), sixteen_bit.getvalue()):  # 25 MP
        with pytest.raises(ImageRejected) as caught:
            fit_image(whole)
        assert caught.value.code == "bomb"


def test_a_file_upload_is_decoded_from_its_file() -> None:
    import tempfile

    with tempfile.TemporaryFile() as handle:
        handle.write(images.gradient(3000, 2000, "PNG"))
        fitted = fit_image(handle)
    assert (fitted.width, fitted.height) == (2560, 1707) and fitted.changed
