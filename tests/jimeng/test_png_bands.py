"""Big PNGs decoded a band of rows at a time, in bounded memory, as the whole picture."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from generations.jimeng import png_bands
from generations.jimeng.images import ImageRejected, fit_image

pytestmark = pytest.mark.security


def _png(mode: str, size: tuple[int, int], **options: object) -> bytes:
    noise = Image.effect_noise(size, 90).convert("L")
    layers = {
        "L": [noise],
        "LA": [noise, noise.transpose(Image.Transpose.FLIP_LEFT_RIGHT)],
        "RGB": [noise, noise.transpose(Image.Transpose.FLIP_TOP_BOTTOM), noise.rotate(180)],
    }
    if mode == "P":
        image = Image.merge("RGB", layers["RGB"]).quantize(200)
        options.setdefault("transparency", 7)
    elif mode == "RGBA":
        image = Image.merge("RGBA", [*layers["RGB"], noise.point(lambda v: 255 - v)])
    else:
        image = Image.merge(mode, layers[mode])
    buffer = io.BytesIO()
    image.save(buffer, "PNG", **options)
    return buffer.getvalue()


@pytest.mark.parametrize("mode", ["L", "LA", "RGB", "RGBA", "P"])
@pytest.mark.parametrize("rows", [1, 7, 64, 10_000])
def test_a_png_decoded_in_bands_is_the_png_decoded_whole(mode: str, rows: int) -> None:
    data = _png(mode, (211, 150))
    stream = io.BytesIO(data)
    header = png_bands.read_header(stream)
    bands = list(png_bands.bands(stream, header, rows))
    assert [band.height for band in bands[:-1]] == [rows] * (len(bands) - 1)
    whole = Image.open(io.BytesIO(data))
    whole.load()
    joined = Image.new(whole.mode, whole.size)
    top = 0
    for band in bands:
        assert band.mode == whole.mode and band.info.get("transparency") == whole.info.get(
            "transparency"
        )
        joined.paste(band, (0, top))
        top += band.height
    assert top == whole.height and joined.tobytes() == whole.tobytes()


def test_a_big_rgba_png_is_fitted_in_bands_like_the_whole_picture() -> None:
    """3000 × 3000 RGBA (36 MB decoded) takes the banded path; the result matches
    flattening and shrinking the whole picture, give or take rounding."""
    ramp = Image.linear_gradient("L").resize((3000, 3000))
    picture = Image.merge(
        "RGBA", [ramp, ramp.rotate(90), ramp.rotate(180), ramp.rotate(270).point(lambda v: v | 64)]
    )
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    fitted = Image.open(io.BytesIO(fit_image(buffer.getvalue()).data)).convert("RGB")
    flat = Image.new("RGB", picture.size, (255, 255, 255))
    flat.paste(picture, mask=picture.getchannel("A"))
    expected = flat.resize(fitted.size, Image.Resampling.LANCZOS)
    difference = [abs(a - b) for a, b in zip(fitted.tobytes(), expected.tobytes(), strict=True)]
    assert fitted.size == (2560, 2560)
    assert sum(difference) / len(difference) < 6  # JPEG and the reduce step, nothing more


def test_a_truncated_big_png_is_refused_as_damaged() -> None:
    data = _png("RGB", (4000, 3000), compress_level=1)
    with pytest.raises(ImageRejected) as caught:
        fit_image(data[: len(data) // 2] + data[-12:])
    assert caught.value.code == "truncated"
