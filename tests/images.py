"""Real image files for tests, made with Pillow."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image


def solid(
    width: int, height: int, colour: tuple[int, int, int] = (200, 40, 40), fmt: str = "JPEG"
) -> bytes:
    buffer = io.BytesIO()
    mode = "RGBA" if fmt == "PNG_ALPHA" else "RGB"
    image = Image.new(mode, (width, height), (*colour, 0) if mode == "RGBA" else colour)
    image.save(buffer, "PNG" if fmt.startswith("PNG") else fmt, quality=90)
    return buffer.getvalue()


def noisy(width: int, height: int, fmt: str = "PNG") -> bytes:
    """Hard to compress: many bytes for its size, like a detailed photo."""
    channels = [Image.effect_noise((width, height), 80) for _ in range(3)]
    image = Image.merge("RGB", channels)
    buffer = io.BytesIO()
    image.save(buffer, fmt, quality=95)
    return buffer.getvalue()


def gradient(width: int, height: int, fmt: str = "PNG") -> bytes:
    base = Image.linear_gradient("L").resize((width, height))
    image = Image.merge("RGB", [base, base.transpose(Image.Transpose.FLIP_TOP_BOTTOM), base])
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def exif_rotated_jpeg(width: int, height: int, orientation: int = 6) -> bytes:
    """A landscape JPEG whose EXIF says to turn it (6 = 90° clockwise): it shows portrait.

    The left half is red and the right half blue, so the turn can be checked by colour.
    """
    image = Image.new("RGB", (width, height), (220, 30, 30))
    image.paste((30, 30, 220), (width // 2, 0, width, height))
    exif = Image.Exif()
    exif[0x0112] = orientation
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif.tobytes(), quality=90)
    return buffer.getvalue()


def png_bomb(
    width: int = 30000, height: int = 30000, *, rows: int = 64, broken: bool = False
) -> bytes:
    """A small PNG that declares a huge image: decoding it would need gigabytes.

    It holds `rows` rows of black (all of them: `rows=height`, ~1 kB per 1000 px of
    height); `broken` spoils the data after them, so that decoding fails."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    row = b"\x00" + b"\x00" * width
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(rows))
    data += b"\xff" * 64 if broken else compressor.flush()
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def animated_png() -> bytes:
    frames = [Image.new("RGB", (400, 400), colour) for colour in ((255, 0, 0), (0, 255, 0))]
    buffer = io.BytesIO()
    frames[0].save(buffer, "PNG", save_all=True, append_images=frames[1:], duration=100)
    return buffer.getvalue()
