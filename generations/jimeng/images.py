"""Fit uploaded images to the upstream's limits.

Uploads may be JPEG, PNG or WebP up to 20 MB. The upstream takes JPEG or PNG of at
most 4.7 MB, at most 4096 px a side, a short side of at least 320 px and a long:short
ratio of at most 3 (docs/upstream/volcengine-visual.md). A clean image already within
our limits is sent as it came; anything else is oriented, flattened onto white, resized
and re-encoded as JPEG, lowering the quality and then the size until it fits.

We fit to at most 2560 px a side, inside the official 4096: the largest video the API
makes is 2176 px wide, so more pixels only cost memory here and bytes on the wire.
Memory stays bounded: the upload is decoded from its file (not read into memory), JPEGs
are decoded at reduced scale, big 8-bit PNGs a band of rows at a time, and what must be
decoded whole is limited to 24 megapixels.

Pillow's decompression-bomb guard stays on; its warning is treated as an error too.
"""

from __future__ import annotations

import base64
import io
import math
import struct
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image, UnidentifiedImageError

from generations.jimeng import png_bands
from generations.jimeng.catalog import ASPECT_RATIOS

MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_BYTES = 4_700_000  # "4.7 MB", read as decimal megabytes so both readings hold
MAX_SIDE = 4096  # the upstream's limit
FIT_MAX_SIDE = 2560  # what we send: above the largest output frame (2176 px)
MIN_SHORT_SIDE = 320
MAX_RATIO = 3.0
# Our own ceilings, below Pillow's bomb limit. JPEGs are decoded at reduced scale and
# 8-bit PNGs a band of rows at a time (png_bands.py), so 50 MP (any camera photo)
# stays cheap; what must be decoded whole (WebP, interlaced or 16-bit PNG) stops at 24 MP.
MAX_PIXELS = 50_000_000
MAX_PIXELS_FULL_DECODE = 24_000_000
# A PNG whose pixels would take more than this is decoded in bands of about BAND_BYTES.
BAND_ABOVE_BYTES = 32 * 1024 * 1024
BAND_BYTES = 2 * 1024 * 1024
# Pillow allocates pixels in blocks of 16 MB by default: a 23 MB intermediate image
# then takes 32 MB. Smaller blocks keep an upload's peak memory close to its pixels.
Image.core.set_block_size(1024 * 1024)

ACCEPTED_FORMATS = ("JPEG", "PNG", "WEBP")
SENDABLE_FORMATS = ("JPEG", "PNG")
JPEG_QUALITIES = (92, 85, 78, 70, 60)
EXIF_ORIENTATION = 0x0112


@dataclass
class ImageRejected(ValueError):
    """The upload cannot be used; `code` says why, for translated messages."""

    code: str
    message: str

    def __post_init__(self) -> None:
        super().__init__(self.message)


@dataclass(frozen=True)
class FittedImage:
    data: bytes
    format: str  # JPEG or PNG
    width: int
    height: int
    original_format: str
    original_width: int
    original_height: int
    changed: bool

    @property
    def aspect_ratio(self) -> str:
        return nearest_aspect_ratio(self.width, self.height)

    @property
    def extension(self) -> str:
        return "png" if self.format == "PNG" else "jpg"

    def base64(self) -> str:
        return to_base64(self.data)


def to_base64(data: bytes) -> str:
    """Bare base64, as `binary_data_base64` wants it: no `data:` prefix, no newlines."""
    return base64.b64encode(data).decode("ascii")


def nearest_aspect_ratio(width: int, height: int, choices: Iterable[str] = ASPECT_RATIOS) -> str:
    """The allowed ratio closest to width:height, compared on a log scale so that a
    portrait image and its landscape twin are treated alike."""
    actual = math.log(width / height)

    def distance(ratio: str) -> float:
        w, h = (int(part) for part in ratio.split(":"))
        return abs(math.log(w / h) - actual)

    return min(choices, key=distance)


@dataclass
class Upload:
    """The uploaded bytes, read from their file only when needed."""

    stream: BinaryIO
    size: int

    @classmethod
    def of(cls, source: bytes | BinaryIO) -> Upload:
        stream: BinaryIO = io.BytesIO(source) if isinstance(source, bytes | bytearray) else source
        stream.seek(0, io.SEEK_END)
        size = stream.tell()
        stream.seek(0)
        if size == 0:
            raise ImageRejected("empty", "the file is empty")
        if size > MAX_UPLOAD_BYTES:
            raise ImageRejected("too_large", "the file is larger than 20 MB")
        return cls(stream, size)

    def read(self) -> bytes:
        self.stream.seek(0)
        return self.stream.read()

    def tail(self, count: int) -> bytes:
        self.stream.seek(max(0, self.size - count))
        return self.stream.read(count)


def _open(upload: Upload) -> Image.Image:
    """Open lazily and check what the header tells; the pixels are decoded by _decode."""
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(upload.stream)
        except (Image.DecompressionBombError, Image.DecompressionBombWarning):
            raise _bomb() from None
        except UnidentifiedImageError:
            raise ImageRejected("not_image", "the file is not a JPEG, PNG or WebP image") from None
        except (OSError, SyntaxError, ValueError):
            raise _damaged() from None
    if image.format not in ACCEPTED_FORMATS:
        raise ImageRejected(
            "format", f"{image.format or 'this'} images are not accepted; use JPEG, PNG or WebP"
        )
    if getattr(image, "is_animated", False) or getattr(image, "n_frames", 1) > 1:
        raise ImageRejected("animated", "animated images are not accepted")
    reduced = image.format == "JPEG" or (image.format == "PNG" and _png(upload).bandable)
    if image.width * image.height > (MAX_PIXELS if reduced else MAX_PIXELS_FULL_DECODE):
        raise _bomb()
    return image


def _png(upload: Upload) -> png_bands.Header:
    try:
        return png_bands.read_header(upload.stream)
    except (png_bands.DamagedPng, StopIteration, struct.error):
        raise _damaged() from None


def _decode(image: Image.Image) -> None:
    try:
        image.load()
    except (OSError, SyntaxError, ValueError, EOFError):
        raise _damaged() from None


def _bomb() -> ImageRejected:
    return ImageRejected("bomb", "the image has too many pixels to be decoded safely")


def _damaged() -> ImageRejected:
    return ImageRejected("truncated", "the image is damaged or truncated")


def _to_rgb(image: Image.Image) -> Image.Image:
    if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        # 16-bit greyscale: scale to 8 bits instead of clipping everything to white.
        image = image.point(lambda value: value * (1 / 256)).convert("L")
    if image.mode == "P":
        image = image.convert("RGBA")
    if image.mode in ("RGBA", "LA", "PA", "La", "RGBa"):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    if image.mode != "RGB":
        return image.convert("RGB")
    return image


def _target_size(width: int, height: int) -> tuple[int, int]:
    scale = min(1.0, FIT_MAX_SIDE / max(width, height))
    if min(width, height) * scale < MIN_SHORT_SIDE:
        scale = MIN_SHORT_SIDE / min(width, height)
    return max(1, round(width * scale)), max(1, round(height * scale))


def _ends_cleanly(image: Image.Image, upload: Upload) -> bool:
    """No bytes after the image's own end: nothing else rides along (polyglots)."""
    if image.format == "JPEG":
        return upload.tail(2) == b"\xff\xd9"
    return upload.tail(8) == b"IEND\xaeB`\x82"


def _needs_no_change(image: Image.Image, upload: Upload) -> bool:
    """Send the file as it came only when it is clean: within the limits, upright, and
    carrying no metadata (phone photos hold their GPS position in EXIF) and no extra
    bytes. Anything else is re-encoded, which also strips those."""
    return (
        image.format in SENDABLE_FORMATS
        and upload.size <= MAX_BYTES
        and image.mode in ("RGB", "L")
        and not _exif(image, upload)
        and not image.info.get("exif")
        and _ends_cleanly(image, upload)
        and _target_size(*image.size) == image.size
    )


def _encode_jpeg(image: Image.Image) -> bytes:
    """Lower the quality, then the size, until the JPEG fits MAX_BYTES."""
    while True:
        for quality in JPEG_QUALITIES:
            buffer = io.BytesIO()
            image.save(buffer, "JPEG", quality=quality, optimize=True)
            if buffer.tell() <= MAX_BYTES:
                return buffer.getvalue()
        width, height = image.size
        smaller = (round(width * 0.8), round(height * 0.8))
        if min(smaller) < MIN_SHORT_SIDE:
            # Unreachable for real pictures: a 320 px JPEG at quality 60 is far below 4.7 MB.
            raise ImageRejected("too_large", "the image cannot be made small enough")
        image = image.resize(smaller, Image.Resampling.LANCZOS)


def _exif(image: Image.Image, upload: Upload) -> Image.Exif:
    """The image's EXIF, without decoding pixels: Pillow's PNG getexif() decodes the
    whole picture to look for an eXIf chunk after the image data, so we look ourselves."""
    if image.format != "PNG":
        return image.getexif()
    exif = Image.Exif()
    data = image.info.get("exif") or png_bands.find_chunk(upload.stream, b"eXIf")
    if data:
        exif.load(data)
    return exif


def _orientation(image: Image.Image, upload: Upload) -> int:
    value = _exif(image, upload).get(EXIF_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _oriented_size(image: Image.Image, orientation: int) -> tuple[int, int]:
    # Orientations 5-8 turn the picture by 90 degrees, so width and height swap.
    if orientation in (5, 6, 7, 8):
        return image.height, image.width
    return image.size


def fit_image(source: bytes | BinaryIO) -> FittedImage:
    """Check an upload and fit it to the upstream's limits, or raise ImageRejected.

    `source` is the bytes, or a seekable file (an upload on disk is decoded from disk).
    """
    upload = Upload.of(source)
    image = _open(upload)
    try:
        return _fit(upload, image)
    except ImageRejected:
        raise
    except (OSError, SyntaxError, ValueError, EOFError, struct.error):
        # Damaged files fail wherever their damage is first read (metadata is lazy).
        raise _damaged() from None


def _reduce_factor(image: Image.Image, box: tuple[int, int]) -> int:
    if image.mode not in ("L", "LA", "RGB", "RGBA", "I", "F", "CMYK"):
        return 1
    return min(image.width // box[0], image.height // box[1])


def _fit(upload: Upload, image: Image.Image) -> FittedImage:
    original = (image.format or "", image.width, image.height)
    orientation = _orientation(image, upload)
    width, height = _oriented_size(image, orientation)
    if max(width, height) / min(width, height) > MAX_RATIO:
        raise ImageRejected(
            "ratio",
            f"the image is {width}×{height}; its long side may be at most 3 times its short side",
        )
    if _needs_no_change(image, upload):
        _decode(image)  # a truncated file must not slip through unchanged
        return FittedImage(
            upload.read(), image.format or "JPEG", width, height, *original, changed=False
        )
    target = _target_size(width, height)
    turned = (width, height) != image.size
    box = target[::-1] if turned else target
    if _decodes_in_bands(image, upload):
        image = _shrunk_in_bands(image, upload, box)
    else:
        image = _shrunk_whole(image, box)
    if image.size != box:
        image = image.resize(box, Image.Resampling.LANCZOS)
    image = _upright(image, orientation)
    image = _to_rgb(image)
    fitted = _encode_jpeg(image)
    return FittedImage(fitted, "JPEG", image.width, image.height, *original, changed=True)


def _shrunk_whole(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    if image.format == "JPEG":
        # Let the JPEG decoder scale down while decoding: far less memory and time.
        image.draft("RGB", box)
    _decode(image)
    # Shrink in place of the full-size pixels, so they are freed at once: an integer
    # reduce() first (cheap), then a high-quality resize (by the caller) the rest of the way.
    factor = _reduce_factor(image, box)
    return image.reduce(factor) if factor >= 2 else image


def _decodes_in_bands(image: Image.Image, upload: Upload) -> bool:
    if image.format != "PNG" or not _png(upload).bandable:
        return False
    return image.width * image.height * len(image.getbands()) > BAND_ABOVE_BYTES


def _shrunk_in_bands(image: Image.Image, upload: Upload, box: tuple[int, int]) -> Image.Image:
    """Decode a big PNG band by band, flattening and shrinking each band as it comes;
    only one band and the shrunk result are ever in memory."""
    header = _png(upload)
    factor = max(1, min(header.width // box[0], header.height // box[1]))
    rows = max(factor, BAND_BYTES // header.row_bytes // factor * factor)
    shrunk = Image.new("RGB", (-(-header.width // factor), -(-header.height // factor)))
    top = 0
    try:
        for band in png_bands.bands(upload.stream, header, rows):
            piece = _to_rgb(band)
            piece = piece.reduce(factor) if factor > 1 else piece
            shrunk.paste(piece, (0, top))
            top += piece.height
    except png_bands.DamagedPng:
        raise _damaged() from None
    return shrunk


# EXIF orientation → the turn that makes the picture upright (as ImageOps.exif_transpose).
UPRIGHT = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


def _upright(image: Image.Image, orientation: int) -> Image.Image:
    turn = UPRIGHT.get(orientation)
    return image.transpose(turn) if turn is not None else image
