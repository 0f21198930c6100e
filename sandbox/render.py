"""Render the emulator's result: a real, playable H.264 MP4.

The picture shows the prompt over the first frame (or a colour field for text modes),
cross-fades to the last frame for first + last frame requests, and a bar runs along
the bottom so that it is visibly moving. 24 fps, yuv420p, `+faststart` so browsers
can start playing before the whole file has arrived.
"""

from __future__ import annotations

import array
import hashlib
import io
import math
import os
import tempfile
import textwrap
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageDraw, ImageFont, ImageOps

FPS = 24
FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
)
# Fading between two frames renders this many distinct pictures, each held for a few
# frames: smooth enough to watch, and far cheaper than blending every frame.
FADE_STEPS = 24


def render_key(
    *,
    width: int,
    height: int,
    frames: int,
    prompt: str,
    images: Sequence[bytes],
    audio: bool = False,
) -> str:
    sound = "\nwith sound" if audio else ""
    digest = hashlib.sha256(f"{width}x{height}x{frames}\n{prompt}\n{sound}".encode())
    for image in images:
        digest.update(hashlib.sha256(image).digest())
    return digest.hexdigest()[:32]


@lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    for candidate in FONT_CANDIDATES:
        if os.path.exists(candidate):
            return ImageFont.truetype(candidate, size)
    return ImageFont.load_default(size)


def _colour_field(width: int, height: int, prompt: str) -> Image.Image:
    seed = hashlib.sha256(prompt.encode()).digest()
    top = (seed[0] // 2, seed[1] // 2, 60 + seed[2] // 3)
    bottom = (seed[3] // 4, 20 + seed[4] // 4, seed[5] // 3)
    gradient = Image.linear_gradient("L").resize((width, height))
    return Image.composite(
        Image.new("RGB", (width, height), bottom), Image.new("RGB", (width, height), top), gradient
    )


def _cover(image_bytes: bytes, width: int, height: int) -> Image.Image:
    with Image.open(io.BytesIO(image_bytes)) as image:
        oriented = ImageOps.exif_transpose(image) or image
        return ImageOps.fit(oriented.convert("RGB"), (width, height), Image.Resampling.BILINEAR)


def _caption(picture: Image.Image, prompt: str) -> Image.Image:
    width, height = picture.size
    size = max(18, min(width, height) // 22)
    font = _font(size)
    text = prompt.strip() or "(no prompt)"
    # Wrap by character count: CJK text has no spaces to break on.
    chars_per_line = max(10, int(width * 0.8 / size))
    lines = textwrap.wrap(text, chars_per_line, break_long_words=True)[:6]
    draw = ImageDraw.Draw(picture, "RGBA")
    box_height = (len(lines) + 1) * int(size * 1.35)
    top = height - box_height - height // 10
    draw.rectangle([0, top, width, top + box_height], fill=(0, 0, 0, 140))
    for index, line in enumerate(lines):
        y = top + int(size * 0.6) + index * int(size * 1.35)
        draw.text((width // 20, y), line, font=font, fill=(255, 255, 255))
    draw.text((width // 20, height // 20), "Jimeng sandbox", font=font, fill=(255, 255, 255, 200))
    return picture


def _keyframes(
    *, width: int, height: int, prompt: str, images: Sequence[bytes]
) -> tuple[Image.Image, Image.Image | None]:
    first = _cover(images[0], width, height) if images else _colour_field(width, height, prompt)
    last = _cover(images[1], width, height) if len(images) > 1 else None
    return _caption(first, prompt), (_caption(last, prompt) if last else None)


def render(
    destination: Path,
    *,
    width: int,
    height: int,
    frames: int,
    prompt: str,
    images: Sequence[bytes],
    audio: bool = False,
    last_frame: Path | None = None,
) -> None:
    """Write the video to `destination` atomically (a reader never sees half a file);
    with `audio`, a soft tone plays along; `last_frame` receives the final picture as PNG."""
    first, last = _keyframes(width=width, height=height, prompt=prompt, images=images)
    destination.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(suffix=".mp4", dir=destination.parent)
    os.close(handle)
    try:
        final = _encode(Path(temporary), first, last, frames, audio)
        if last_frame is not None:
            final.save(last_frame, "PNG")
        os.replace(temporary, destination)
    finally:
        if os.path.exists(temporary):
            os.unlink(temporary)


def _encode(
    path: Path, first: Image.Image, last: Image.Image | None, frames: int, audio: bool
) -> Image.Image:
    """Encode the frames; return the last one."""
    width, height = first.size
    bar_height = max(6, height // 60)
    with av.open(str(path), "w", options={"movflags": "+faststart"}) as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "28"}
        sound = container.add_stream("aac", rate=SAMPLE_RATE, layout="mono") if audio else None
        step_frames = max(1, frames // FADE_STEPS)
        picture = frame = first
        for index in range(frames):
            if last is not None and index % step_frames == 0:
                picture = Image.blend(first, last, min(1.0, index / max(1, frames - 1)))
            frame = picture.copy()
            progress = int(width * (index + 1) / frames)
            ImageDraw.Draw(frame).rectangle(
                [0, height - bar_height, progress, height], fill=(230, 80, 70)
            )
            for packet in stream.encode(av.VideoFrame.from_image(frame)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
        if sound is not None:
            _tone(container, sound, seconds=frames / FPS)
    return frame


SAMPLE_RATE = 44100


def _tone(container: Any, stream: Any, *, seconds: float) -> None:
    """A quiet 440 Hz tone for the whole video: real sound a player can play."""
    size = stream.codec_context.frame_size or 1024
    total = int(seconds * SAMPLE_RATE)
    for start in range(0, total, size):
        samples = array.array(
            "f",
            (0.1 * math.sin(2 * math.pi * 440 * (start + k) / SAMPLE_RATE) for k in range(size)),
        )
        frame = av.AudioFrame(format="fltp", layout="mono", samples=size)
        frame.sample_rate = SAMPLE_RATE
        frame.planes[0].update(samples.tobytes())
        frame.pts = start
        for packet in stream.encode(frame):
            container.mux(packet)
    for packet in stream.encode():
        container.mux(packet)
