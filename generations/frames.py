"""The frames of a new generation (first and last image): where each original comes
from, its fitted bytes, and the ratio it was measured at."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile

from generations.jimeng import catalog
from generations.jimeng.images import FittedImage, fit_image, nearest_aspect_ratio
from generations.jimeng.payload import image_ratio_choices
from generations.models import Generation

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


def frame_from_last_frame(generation: Generation) -> Frame:
    """The last frame of a ready video, as the first frame of the next part of a chain."""
    name = generation.last_frame.name or ""
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
