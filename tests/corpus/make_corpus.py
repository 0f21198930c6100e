"""Write the hostile-input corpus: files and prompts meant to break the upload path.

Run `python tests/corpus/make_corpus.py [DIR]`; the tests call `build()` themselves.
Every item says what must happen to it: a clear form error on a named field, or a
correct fit (with the fitted size expected where it matters).
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from PIL import Image

HERE = Path(__file__).resolve().parent
DEFAULT_DIR = HERE / "generated"


@dataclass(frozen=True)
class Item:
    name: str
    kind: str  # "image" or "prompt"
    outcome: str  # "error" or "fit"
    field: str = ""  # the form field that carries the error
    words: str = ""  # words the error message must contain
    fitted_size: tuple[int, int] | None = None


def _save(image: Image.Image, fmt: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _photo(width: int, height: int) -> Image.Image:
    gradient = Image.linear_gradient("L").resize((width, height))
    noise = Image.effect_noise((width, height), 30)
    return Image.merge(
        "RGB", [gradient, noise, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT)]
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb() -> bytes:
    """20,000 × 20,000 declared, a few kilobytes on disk."""
    header = struct.pack(">IIBBBBB", 20000, 20000, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"".join(b"\0" + b"\0" * 20000 for _ in range(16)), 9)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", rows)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_bomb() -> bytes:
    """A small JPEG whose frame header claims 65,000 × 65,000 pixels."""
    data = bytearray(_save(Image.new("RGB", (64, 64), (90, 90, 90)), "JPEG"))
    marker = data.index(b"\xff\xc0")
    data[marker + 5 : marker + 9] = struct.pack(">HH", 65000, 65000)
    return bytes(data)


def exif_rotated(orientation: int) -> bytes:
    image = Image.new("RGB", (1200, 800), (200, 40, 40))
    image.paste((40, 40, 200), (600, 0, 1200, 800))
    exif = Image.Exif()
    exif[0x0112] = orientation
    return _save(image, "JPEG", exif=exif.tobytes(), quality=90)


def sixteen_bit_rgb_png() -> bytes:
    """48-bit RGB: Pillow has no such mode, so write the PNG by hand."""
    width, height = 400, 300
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    row = b"\0" + b"".join(
        struct.pack(">HHH", x * 160, 30000, 60000 - x * 100) for x in range(width)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(row * height))
        + _png_chunk(b"IEND", b"")
    )


def heic_lookalike() -> bytes:
    """The start of an HEIC file (an ftyp box of brand heic); Pillow cannot read it."""
    box = b"ftypheic" + b"\0\0\0\0" + b"mif1heic"
    return struct.pack(">I", len(box) + 4) + box + b"\0" * 2000


IMAGES: dict[str, tuple[Item, Callable[[], bytes]]] = {}


def _image(item: Item, make: Callable[[], bytes]) -> None:
    IMAGES[item.name] = (item, make)


_image(Item("zero-bytes.jpg", "image", "error", "first_image", "empty"), lambda: b"")
_image(
    Item("truncated.jpg", "image", "error", "first_image", "damaged or incomplete"),
    lambda: _save(_photo(1600, 1200), "JPEG", quality=92)[:40_000],
)
_image(
    Item("truncated.png", "image", "error", "first_image", "damaged or incomplete"),
    lambda: _save(_photo(800, 600), "PNG")[:30_000],
)
# A valid JPEG with a script and a zip appended: the picture is what counts.
_image(
    Item("polyglot-jpeg-html.jpg", "image", "fit", fitted_size=(800, 600)),
    lambda: _save(_photo(800, 600), "JPEG") + b"<script>alert(1)</script>PK\x03\x04",
)
# Starts like HTML, carries a GIF signature later: not an image.
_image(
    Item("polyglot-html-gif.jpg", "image", "error", "first_image", "not a JPEG, PNG or WebP"),
    lambda: b"<html><script>alert(1)</script></html>GIF89a" + b"\0" * 100,
)
_image(Item("bomb.png", "image", "error", "first_image", "too many pixels"), png_bomb)
_image(Item("bomb.jpg", "image", "error", "first_image", "too many pixels"), jpeg_bomb)
_image(
    Item("cmyk.jpg", "image", "fit", fitted_size=(1000, 700)),
    lambda: _save(Image.new("CMYK", (1000, 700), (0, 200, 200, 0)), "JPEG"),
)
_image(
    Item("grey-16bit.png", "image", "fit", fitted_size=(640, 480)),
    lambda: _save(Image.new("I;16", (640, 480), 50000), "PNG"),
)
_image(Item("rgb-48bit.png", "image", "fit", fitted_size=(427, 320)), sixteen_bit_rgb_png)
_image(
    Item("svg-named.jpg", "image", "error", "first_image", "not a JPEG, PNG or WebP"),
    lambda: (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">'
        b"<script>alert(1)</script></svg>"
    ),
)
_image(
    Item("gif-named.jpg", "image", "error", "first_image", "Use a JPEG, PNG or WebP"),
    lambda: _save(Image.new("RGB", (800, 600), (10, 200, 10)), "GIF"),
)
_image(
    Item("heic-named.jpg", "image", "error", "first_image", "not a JPEG, PNG or WebP"),
    heic_lookalike,
)
_image(
    Item("tiff-named.jpg", "image", "error", "first_image", "Use a JPEG, PNG or WebP"),
    lambda: _save(Image.new("RGB", (800, 600), (10, 10, 200)), "TIFF"),
)
_image(Item("exif-rotate-90.jpg", "image", "fit", fitted_size=(800, 1200)), lambda: exif_rotated(6))
_image(
    Item("exif-rotate-270.jpg", "image", "fit", fitted_size=(800, 1200)), lambda: exif_rotated(8)
)
_image(
    Item("exif-rotate-180.jpg", "image", "fit", fitted_size=(1200, 800)), lambda: exif_rotated(3)
)
_image(
    Item("strip-1x5000.png", "image", "error", "first_image", "too long and thin"),
    lambda: _save(Image.new("RGB", (1, 5000), (255, 255, 255)), "PNG"),
)
_image(
    Item("strip-5000x1.jpg", "image", "error", "first_image", "too long and thin"),
    lambda: _save(Image.new("RGB", (5000, 1), (255, 255, 255)), "JPEG"),
)
_image(Item("animated.png", "image", "error", "first_image", "Animated"), lambda: _animated("PNG"))
_image(
    Item("animated.webp", "image", "error", "first_image", "Animated"), lambda: _animated("WEBP")
)


def _animated(fmt: str) -> bytes:
    frames = [Image.new("RGB", (400, 400), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, fmt, save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()


EMOJI_800 = ("🎬一只猫🐈" * 200)[:800]
PROMPTS: dict[str, tuple[Item, str]] = {
    "emoji-800": (Item("emoji-800", "prompt", "fit"), EMOJI_800),
    "emoji-801": (
        Item("emoji-801", "prompt", "error", "prompt", "801 characters"),
        EMOJI_800 + "🎬",
    ),
    "control-nul": (
        Item("control-nul", "prompt", "error", "prompt", "Null characters"),
        "a cat\x00 on a roof",
    ),
    "control-escape": (
        Item("control-escape", "prompt", "error", "prompt", "control characters"),
        "a cat \x1b[31mred\x1b[0m",
    ),
    "control-800": (
        Item("control-800", "prompt", "error", "prompt", "control characters"),
        ("猫\x07" * 400),
    ),
    "html-script": (Item("html-script", "prompt", "fit"), "<script>alert('xss')</script> a cat"),
    "html-attribute": (
        Item("html-attribute", "prompt", "fit"),
        '"><img src=x onerror=alert(1)> a cat & a dog',
    ),
    "template-syntax": (
        Item("template-syntax", "prompt", "fit"),
        "{{ request.user }} {% debug %} ${7*7}",
    ),
    "newlines-and-tabs": (
        Item("newlines-and-tabs", "prompt", "fit"),
        "first shot\n\tsecond shot\r\nthird",
    ),
}


def build(directory: Path = DEFAULT_DIR) -> dict[str, Item]:
    """Write every image and the prompts to `directory`; return the items by name."""
    directory.mkdir(parents=True, exist_ok=True)
    items: dict[str, Item] = {}
    for name, (item, make) in IMAGES.items():
        path = directory / name
        if not path.exists():
            path.write_bytes(make())
        items[name] = item
    prompts = {name: text for name, (_, text) in PROMPTS.items()}
    (directory / "prompts.json").write_text(json.dumps(prompts, ensure_ascii=False, indent=1))
    items.update({name: item for name, (item, _) in PROMPTS.items()})
    (directory / "manifest.json").write_text(
        json.dumps({k: asdict(v) for k, v in items.items()}, indent=1)
    )
    return items


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_DIR
    built = build(target)
    print(f"wrote {len(built)} corpus items to {target}")
