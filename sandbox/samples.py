"""Sample images the emulator serves and accepts as `image_urls`.

The real API downloads image URLs from the internet. The emulator must not fetch
anything (it would let anyone make the studio's host call its own internal ports), so
the only URLs it takes are these samples on its own host, read without any request:
`http://<emulator host>/sandbox/samples/landscape.jpg` and the others below.
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from urllib.parse import urlsplit

from PIL import Image, ImageDraw

# name: (width, height, format)
SAMPLES = {
    "landscape.jpg": (1280, 720, "JPEG"),
    "portrait.jpg": (720, 1280, "JPEG"),
    "square.png": (960, 960, "PNG"),
    "wide.jpg": (1680, 720, "JPEG"),
}
PATH = re.compile(r"^/sandbox/samples/(?P<name>[a-z]+\.(?:jpg|png))$")
CONTENT_TYPES = {"JPEG": "image/jpeg", "PNG": "image/png"}


class NotASample(ValueError):
    pass


@lru_cache(maxsize=len(SAMPLES))
def sample(name: str) -> bytes:
    """A gradient with the sample's name and size written on it."""
    width, height, fmt = SAMPLES[name]
    image = Image.linear_gradient("L").resize((width, height)).convert("RGB")
    tint = Image.new("RGB", (width, height), (40, 110, 170))
    image = Image.blend(image, tint, 0.5)
    ImageDraw.Draw(image).text((24, 24), f"sample {name} {width}x{height}", fill="white")
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=90)
    return buffer.getvalue()


def for_url(url: str, *, host: str) -> bytes:
    """The sample an `image_urls` entry names, if it is one on this emulator's `host`."""
    parts = urlsplit(url)
    match = PATH.match(parts.path)
    if parts.scheme not in ("http", "https") or parts.netloc != host or not match:
        raise NotASample(url)
    name = match.group("name")
    if name not in SAMPLES:
        raise NotASample(url)
    return sample(name)
