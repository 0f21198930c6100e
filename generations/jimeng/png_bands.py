"""Decode a large PNG a band of rows at a time, so its full-size pixels never sit in
memory at once.

Pillow decodes a PNG whole (it has no reduced-scale decoding as it has for JPEG): a
6000 × 6000 RGBA picture takes 144 MB before it can be shrunk. Here the compressed
scanlines are read once, in order, and every run of rows is handed to Pillow as a small
PNG of its own. A PNG row is stored "filtered" against the row above it, so each band
starts with the previous band's last row, already decoded, stored unfiltered; Pillow
then undoes the filters exactly as it would have for the whole picture, and that first
row is cut away again.

Works for non-interlaced PNGs of 8 bits per sample (grey, RGB, palette, grey + alpha,
RGBA), the kinds whose decoded rows Pillow hands back byte for byte as stored; other
PNGs are decoded whole (`bandable` says which).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from PIL import Image

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}  # PNG colour type: samples per pixel
MAX_CHUNK = 1 << 31


class DamagedPng(ValueError):
    pass


@dataclass(frozen=True)
class Header:
    width: int
    height: int
    bit_depth: int
    color_type: int
    interlace: int

    @property
    def row_bytes(self) -> int:
        """One stored row: the filter byte, then the samples."""
        return 1 + self.width * CHANNELS[self.color_type]

    @property
    def bandable(self) -> bool:
        return self.bit_depth == 8 and self.color_type in CHANNELS and self.interlace == 0


def _chunks(stream: BinaryIO) -> Iterator[tuple[bytes, bytes]]:
    stream.seek(0)
    if stream.read(8) != SIGNATURE:
        raise DamagedPng("not a PNG")
    while True:
        head = stream.read(8)
        if len(head) < 8:
            raise DamagedPng("the file ends before IEND")
        length, kind = struct.unpack(">I4s", head)
        if length > MAX_CHUNK:
            raise DamagedPng("impossible chunk length")
        data = stream.read(length)
        if len(data) < length or len(stream.read(4)) < 4:
            raise DamagedPng("the file ends inside a chunk")
        yield kind, data
        if kind == b"IEND":
            return


def read_header(stream: BinaryIO) -> Header:
    kind, data = next(_chunks(stream))
    if kind != b"IHDR" or len(data) != 13:
        raise DamagedPng("no IHDR first")
    width, height, depth, color, _compression, _filter, interlace = struct.unpack(">IIBBBBB", data)
    return Header(width, height, depth, color, interlace)


def find_chunk(stream: BinaryIO, wanted: bytes) -> bytes | None:
    """The data of the first chunk of this type, read without inflating anything."""
    try:
        for kind, data in _chunks(stream):
            if kind == wanted:
                return data
    except DamagedPng:
        return None
    return None


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _band_png(header: Header, extras: list[bytes], rows: int, raw: bytes) -> bytes:
    ihdr = struct.pack(">IIBBBBB", header.width, rows, header.bit_depth, header.color_type, 0, 0, 0)
    return b"".join(
        [
            SIGNATURE,
            _chunk(b"IHDR", ihdr),
            *extras,
            # Level 0: the bytes are only passed from us to Pillow, so store, don't squeeze.
            _chunk(b"IDAT", zlib.compress(raw, 0)),
            _chunk(b"IEND", b""),
        ]
    )


def _scanlines(stream: BinaryIO, header: Header) -> tuple[list[bytes], Iterator[bytes]]:
    """The ancillary chunks before the image data (palette, transparency, ...), and an
    iterator over the inflated image data, in pieces."""
    chunks = _chunks(stream)
    next(chunks)  # IHDR
    extras: list[bytes] = []
    for kind, data in chunks:
        if kind == b"IDAT":
            return extras, _inflate(data, chunks)
        if kind == b"IEND":
            break
        extras.append(_chunk(kind, data))
    raise DamagedPng("no image data")


def _inflate(first: bytes, chunks: Iterator[tuple[bytes, bytes]]) -> Iterator[bytes]:
    inflater = zlib.decompressobj()
    pending = first
    while True:
        try:
            while pending:
                yield inflater.decompress(pending, 1 << 20)
                pending = inflater.unconsumed_tail
        except zlib.error as error:
            raise DamagedPng(f"bad image data: {error}") from None
        kind, data = next(chunks, (b"IEND", b""))
        if kind != b"IDAT":
            yield inflater.flush()
            return
        pending = data


def bands(stream: BinaryIO, header: Header, rows_per_band: int) -> Iterator[Image.Image]:
    """The picture as consecutive bands of `rows_per_band` rows (the last may be fewer),
    each a decoded Pillow image in the PNG's own mode."""
    if not header.bandable:
        raise ValueError("this PNG cannot be decoded in bands")
    extras, data = _scanlines(stream, header)
    size = header.row_bytes
    buffer = bytearray()
    previous: bytes | None = None  # the last decoded row of the band before, unfiltered
    done = 0

    def band_of(count: int) -> Image.Image:
        nonlocal previous, done
        band, previous = _decode_band(
            header, extras, previous, bytes(memoryview(buffer)[: count * size])
        )
        del buffer[: count * size]
        done += count
        return band

    for piece in data:
        buffer += piece
        while len(buffer) >= size * rows_per_band and done < header.height:
            yield band_of(min(rows_per_band, header.height - done))
    left = header.height - done
    if len(buffer) < left * size:
        raise DamagedPng("the image data ends early")
    if left:
        yield band_of(left)


def _decode_band(
    header: Header, extras: list[bytes], previous: bytes | None, filtered: bytes
) -> tuple[Image.Image, bytes]:
    lead = b"\x00" + previous if previous is not None else b""  # filter 0: stored as is
    rows = len(filtered) // header.row_bytes + (1 if previous is not None else 0)
    band: Image.Image = Image.open(io.BytesIO(_band_png(header, extras, rows, lead + filtered)))
    band.load()
    if previous is not None:
        band = band.crop((0, 1, band.width, band.height))
    last = band.crop((0, band.height - 1, band.width, band.height)).tobytes()
    if len(last) != header.row_bytes - 1:
        raise DamagedPng("unexpected decoded row size")
    return band, last
