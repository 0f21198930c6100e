"""Read what a video file really is (duration, fps, size, frames) and cut a poster."""

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
