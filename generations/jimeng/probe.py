"""Read what a video file really is (duration, fps, size, frames, sound), cut a poster
and take its last frame (the first frame of the next part of a chain)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
from av.error import FFmpegError


class NotAVideo(ValueError):
    pass


@dataclass(frozen=True)
class VideoInfo:
    duration_seconds: float
    fps: float
    width: int
    height: int
    frames: int
    codec: str
    audio_codec: str | None = None  # None: silent


def probe(path: Path | str) -> VideoInfo:
    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                raise NotAVideo("the file has no video stream")
            stream = container.streams.video[0]
            rate = stream.average_rate or stream.guessed_rate or Fraction(0)
            frames = stream.frames or sum(1 for _ in container.demux(stream) if _.size)
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                duration = container.duration / av.time_base
            else:
                duration = frames / float(rate) if rate else 0.0
            return VideoInfo(
                duration_seconds=round(duration, 3),
                fps=round(float(rate), 3),
                width=stream.codec_context.width,
                height=stream.codec_context.height,
                frames=int(frames),
                codec=stream.codec_context.name,
                audio_codec=(
                    container.streams.audio[0].codec_context.name
                    if container.streams.audio
                    else None
                ),
            )
    except FFmpegError as error:
        raise NotAVideo(f"the file is not a readable video ({error})") from None


def write_poster(video: Path | str, destination: Path | str, *, max_width: int = 960) -> None:
    """Save a JPEG of the frame a third of the way in: past fades, before the end."""
    info = probe(video)
    target = max(0, info.frames // 3)
    with av.open(str(video)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index >= target:
                image = frame.to_image()
                break
        else:
            raise NotAVideo("the video has no frames")
    if image.width > max_width:
        image = image.resize((max_width, round(image.height * max_width / image.width)))
    image.save(destination, "JPEG", quality=82)


def write_last_frame(video: Path | str, destination: Path | str) -> None:
    """Save the video's last frame as PNG, full size. Seeks to the last second first, so
    only a second or so of frames is decoded, not the whole video."""
    with av.open(str(video)) as container:
        stream = container.streams.video[0]
        if stream.duration and stream.time_base:
            container.seek(max(0, stream.duration - int(1 / stream.time_base)), stream=stream)
        image = None
        for frame in container.decode(stream):
            image = frame.to_image()
    if image is None:
        raise NotAVideo("the video has no frames")
    image.save(destination, "PNG")
