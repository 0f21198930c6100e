"""Join videos end to end into one MP4: a chain of extensions, later a storyboard's film.

When every part has the same video stream (codec, size, pixel format and codec setup)
and the same sound (or all are silent), the packets are copied as they are, shifted in
time, which is fast and loses nothing. Otherwise every part is decoded and encoded
again as H.264 at the first part's size (a part of another shape is letterboxed, never
stretched) and, when any part has sound, AAC, with silence where a part has none.
(docs/joining.md)
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
from av.error import FFmpegError
from PIL import Image

from generations.jimeng.probe import NotAVideo

SAMPLE_RATE = 44100
FALLBACK_FPS = 24


@dataclass(frozen=True)
class Joined:
    parts: int
    duration_seconds: float
    width: int
    height: int
    has_sound: bool
    reencoded: bool
    why: str  # why the parts were encoded again; "" when they were copied


@dataclass(frozen=True)
class _Shape:
    """What must be equal between parts for their packets to be copied."""

    video: tuple[Any, ...]
    sound: tuple[Any, ...] | None

    def describe(self) -> str:
        codec, width, height, pixels, _setup = self.video
        sound = f", {self.sound[0]} sound" if self.sound else ", silent"
        return f"{codec} {width}×{height} {pixels}{sound}"


def _shape(container: Any) -> _Shape:
    if not container.streams.video:
        raise NotAVideo("a part has no video stream")
    video = container.streams.video[0].codec_context
    sound = container.streams.audio[0].codec_context if container.streams.audio else None
    return _Shape(
        video=(
            video.name,
            video.width,
            video.height,
            video.format.name,
            bytes(video.extradata or b""),
        ),
        sound=(
            (sound.name, sound.sample_rate, sound.layout.name, bytes(sound.extradata or b""))
            if sound is not None
            else None
        ),
    )


def join(sources: Sequence[Path | str], destination: Path | str) -> Joined:
    """Write `sources`, in order, as one MP4 at `destination` (atomically)."""
    if not sources:
        raise ValueError("nothing to join")
    destination = Path(destination)
    try:
        shapes = []
        for source in sources:
            with av.open(str(source)) as container:
                shapes.append(_shape(container))
        handle, temporary = tempfile.mkstemp(suffix=".mp4", dir=destination.parent)
        os.close(handle)
        try:
            if all(shape == shapes[0] for shape in shapes):
                duration = _copy(sources, Path(temporary))
                why = ""
            else:
                duration = _encode(sources, Path(temporary), shapes)
                why = _difference(shapes)
            os.replace(temporary, destination)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    except FFmpegError as error:
        raise NotAVideo(f"a part is not a readable video ({error})") from None
    first = shapes[0]
    return Joined(
        parts=len(sources),
        duration_seconds=round(float(duration), 3),
        width=first.video[1],
        height=first.video[2],
        has_sound=any(shape.sound for shape in shapes),
        reencoded=bool(why),
        why=why,
    )


def _difference(shapes: Sequence[_Shape]) -> str:
    first = shapes[0]
    for number, shape in enumerate(shapes[1:], start=2):
        if shape != first:
            return f"part 1 is {first.describe()}, part {number} is {shape.describe()}"
    return ""


# --- copying ------------------------------------------------------------------------


def _copy(sources: Sequence[Path | str], destination: Path) -> Fraction:
    """Copy every part's packets into one file, each part shifted to start where the
    previous one ended. Returns the total duration in seconds."""
    offset = Fraction(0)
    with av.open(str(destination), "w", options={"movflags": "+faststart"}) as output:
        outputs: list[Any] = []
        last_dts: dict[int, int] = {}
        for number, source in enumerate(sources):
            with av.open(str(source)) as container:
                streams = [container.streams.video[0], *container.streams.audio[:1]]
                if number == 0:
                    outputs = [output.add_stream_from_template(stream) for stream in streams]
                end = offset
                for packet in container.demux(streams):
                    if packet.dts is None:
                        continue  # the demuxer's flush marker
                    index = streams.index(packet.stream)
                    base = packet.time_base
                    shift = round(offset / base)
                    packet.pts = (packet.pts if packet.pts is not None else packet.dts) + shift
                    packet.dts += shift
                    # A part that opens with reordered frames may start a tick behind
                    # the previous part's last packet: keep decoding times increasing.
                    previous = last_dts.get(index)
                    if previous is not None and packet.dts <= previous:
                        packet.dts = previous + 1
                        packet.pts = max(packet.pts, packet.dts)
                    last_dts[index] = packet.dts
                    if index == 0:
                        end = max(end, (packet.pts + (packet.duration or 0)) * base)
                    packet.stream = outputs[index]
                    output.mux(packet)
                offset = end
    return offset


# --- encoding again -----------------------------------------------------------------


def _encode(sources: Sequence[Path | str], destination: Path, shapes: Sequence[_Shape]) -> Fraction:
    """Decode every part and encode it again at the first part's size and frame rate."""
    width, height = shapes[0].video[1], shapes[0].video[2]
    with av.open(str(sources[0])) as first:
        rate = first.streams.video[0].average_rate or Fraction(FALLBACK_FPS)
    rate = Fraction(rate).limit_denominator(1001)
    with av.open(str(destination), "w", options={"movflags": "+faststart"}) as output:
        video = output.add_stream("libx264", rate=rate)
        video.width, video.height, video.pix_fmt = width, height, "yuv420p"
        video.options = {"preset": "veryfast", "crf": "20"}
        sound = None
        if any(shape.sound for shape in shapes):
            sound = output.add_stream("aac", rate=SAMPLE_RATE, layout="stereo")
        audio = _Audio(output, sound) if sound is not None else None
        offset = Fraction(0)
        last_index = -1
        for source in sources:
            with av.open(str(source)) as container:
                end = offset
                for frame in container.decode(video=0):
                    at = offset + Fraction(frame.time or 0).limit_denominator(1_000_000)
                    index = round(at * rate)
                    if index <= last_index:
                        continue  # a faster part: frames closer than ours are dropped
                    last_index = index
                    picture = _fit(frame, width, height)
                    picture.pts, picture.time_base = index, 1 / rate
                    for packet in video.encode(picture):
                        output.mux(packet)
                    end = max(end, Fraction(index + 1) / rate)
                if audio is not None:
                    audio.part(container, start=offset, end=end)
                offset = end
        for packet in video.encode():
            output.mux(packet)
        if audio is not None:
            audio.finish()
    return offset


def _fit(frame: Any, width: int, height: int) -> Any:
    """The frame at width×height: as it is when it fits, letterboxed when its shape differs."""
    if (frame.width, frame.height) == (width, height):
        return frame.reformat(format="yuv420p")
    image = frame.to_image()
    scale = min(width / image.width, height / image.height)
    size = (max(2, round(image.width * scale)), max(2, round(image.height * scale)))
    canvas = Image.new("RGB", (width, height))
    canvas.paste(image.resize(size), ((width - size[0]) // 2, (height - size[1]) // 2))
    return av.VideoFrame.from_image(canvas).reformat(format="yuv420p")


class _Audio:
    """One AAC stream for the whole film: each part's sound resampled, silence where a
    part has none, cut to the encoder's frame size."""

    def __init__(self, output: Any, stream: Any) -> None:
        self.output, self.stream = output, stream
        self.fifo = av.AudioFifo()
        self.written = 0  # samples handed to the fifo
        self.encoded = 0  # samples encoded

    def part(self, container: Any, *, start: Fraction, end: Fraction) -> None:
        self._silence_until(start)
        if container.streams.audio:
            resampler = av.AudioResampler(format="fltp", layout="stereo", rate=SAMPLE_RATE)
            container.seek(0)
            limit = round(end * SAMPLE_RATE)
            for frame in container.decode(audio=0):
                for converted in resampler.resample(frame):
                    self._write(converted, limit)
            for converted in resampler.resample(None):
                self._write(converted, limit)
        self._silence_until(end)

    def _write(self, frame: Any, limit: int) -> None:
        room = limit - self.written
        if room <= 0:
            return
        frame.pts = None
        if frame.samples > room:  # the part's sound outlasts its picture: cut it there
            head = av.AudioFifo()
            head.write(frame)
            frame = head.read(room)
            assert frame is not None
            frame.pts = None
        self.fifo.write(frame)
        self.written += frame.samples
        self._drain()

    def _silence_until(self, at: Fraction) -> None:
        missing = round(at * SAMPLE_RATE) - self.written
        for size in _chunks(missing, 4096):
            self._write(_silent_frame(size), self.written + size)

    def _drain(self, final: bool = False) -> None:
        size = self.stream.codec_context.frame_size or 1024
        while self.fifo.samples >= size or (final and self.fifo.samples):
            frame = self.fifo.read(min(size, self.fifo.samples))
            assert frame is not None  # the fifo holds at least that many samples
            frame.pts, frame.time_base = self.encoded, Fraction(1, SAMPLE_RATE)
            self.encoded += frame.samples
            for packet in self.stream.encode(frame):
                self.output.mux(packet)

    def finish(self) -> None:
        self._drain(final=True)
        for packet in self.stream.encode():
            self.output.mux(packet)


def _chunks(total: int, size: int) -> Iterator[int]:
    while total > 0:
        yield min(size, total)
        total -= size


def _silent_frame(samples: int) -> Any:
    frame = av.AudioFrame(format="fltp", layout="stereo", samples=samples)
    frame.sample_rate = SAMPLE_RATE
    for plane in frame.planes:
        plane.update(bytes(plane.buffer_size))
    return frame
