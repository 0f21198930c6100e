"""The frames of a new generation (first and last image): where each original comes
from, its fitted bytes, and the ratio it was measured at."""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from django.core.files import File
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from generations.jimeng import catalog
from generations.jimeng.images import FittedImage, fit_image, nearest_aspect_ratio
from generations.jimeng.payload import image_ratio_choices
from generations.jimeng.probe import NotAVideo, write_last_frame
from generations.models import Generation, last_frame_path

log = logging.getLogger(__name__)

# File extensions by the format Pillow found in the bytes, never by the uploaded name.
EXTENSIONS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


@dataclass(frozen=True)
class Frame:
    """An image for a new generation: where its original comes from and its fitted bytes.

    The extensions are those of the formats found in the bytes: an upload called
    `x.html` that is a PNG is stored as `.png` (and served as an image).
    """

    position: int
    open_original: Callable[[], IO[bytes]]
    original_name: str
    original_extension: str
    fitted: bytes
    fitted_extension: str
    width: int
    height: int
    aspect_ratio: str


def frame_from_upload(
    position: int, upload: UploadedFile, fitted: FittedImage, mode: catalog.Mode
) -> Frame:
    def reopen() -> IO[bytes]:
        upload.seek(0)
        return upload  # type: ignore[return-value]

    ratio = nearest_aspect_ratio(fitted.width, fitted.height, image_ratio_choices(mode))
    return Frame(
        position,
        reopen,
        upload.name or "upload",
        EXTENSIONS[fitted.original_format],
        fitted.data,
        fitted.extension,
        fitted.width,
        fitted.height,
        ratio,
    )


def _opener(name: str) -> Callable[[], IO[bytes]]:
    def open_original() -> IO[bytes]:
        return default_storage.open(name, "rb")

    return open_original


def _extension(name: str) -> str:
    return name.rsplit(".", 1)[-1] if "." in name else "bin"


def frames_from_generation(generation: Generation) -> list[Frame]:
    """The frames of an earlier generation, to run it again."""
    frames = []
    for image in generation.images.order_by("position"):
        with default_storage.open(image.fitted.name or "", "rb") as handle:
            fitted = handle.read()
        frames.append(
            Frame(
                image.position,
                _opener(image.original.name or ""),
                image.original_name,
                _extension(image.original.name or ""),
                fitted,
                _extension(image.fitted.name or ""),
                image.width,
                image.height,
                image.aspect_ratio,
            )
        )
    return frames


def last_frame_of(generation: Generation) -> str:
    """The stored name of a ready video's last frame, cut from the video the first time
    it is needed (an Extend); "" when the video has none to give. Ark gives its own,
    kept when the video is archived; the others are cut here rather than for every job:
    a last frame decodes the video from its last keyframe, and most videos are never
    extended (docs/pipeline.md)."""
    if generation.last_frame:
        return generation.last_frame.name or ""
    if not generation.can_extend:
        return ""
    try:
        return _cut_last_frame(generation)
    except (NotAVideo, OSError) as error:
        log.warning("no last frame for job %s: %s", generation.pk, error)
        return ""


def _cut_last_frame(generation: Generation) -> str:
    name = last_frame_path(generation)
    with tempfile.TemporaryDirectory(prefix="jimeng-") as scratch:
        video, picture = Path(scratch) / "video.mp4", Path(scratch) / "last.png"
        with (
            default_storage.open(generation.video.name or "", "rb") as source,
            video.open("wb") as copy,
        ):
            shutil.copyfileobj(source, copy, 1024 * 1024)
        write_last_frame(video, picture)
        if default_storage.exists(name):  # cut by a concurrent request: ours replaces it
            default_storage.delete(name)
        with picture.open("rb") as handle:
            default_storage.save(name, File(handle))
    Generation.objects.filter(pk=generation.pk).update(last_frame=name)
    generation.last_frame.name = name
    return name


def frame_from_last_frame(generation: Generation) -> Frame:
    """The last frame of a ready video, as the first frame of the next part of a chain."""
    name = last_frame_of(generation)
    with default_storage.open(name, "rb") as handle:
        fitted = fit_image(handle.read())
    return Frame(
        0,
        _opener(name),
        f"job-{generation.pk}-last.png",
        "png",
        fitted.data,
        fitted.extension,
        fitted.width,
        fitted.height,
        nearest_aspect_ratio(fitted.width, fitted.height),
    )
