"""Serving stored media: short-lived signed URLs, and a local view with Range support.

Pages never link to storage directly. They link to views that check access (team
membership, or a live share link) and answer with a redirect to a signed URL that
lives a few minutes: an S3 presigned URL when media is on S3 (the bytes never pass
through Python), or our own signed view for local media, which answers Range
requests so players can seek.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Iterator
from typing import IO

from django.conf import settings
from django.core import signing
from django.core.files.storage import default_storage
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.urls import reverse

SALT = "jimeng.media.v1"
CHUNK = 256 * 1024
# One range of at most 15 digits a side; anything else (several ranges, absurd numbers)
# is ignored and the whole file is sent, as HTTP allows.
RANGE = re.compile(r"^bytes=([0-9]{0,15})-([0-9]{0,15})$")
MAX_RANGE_HEADER = 64
# What stored media is served as, by extension. Names are ours (fixed per job, with the
# extension of the format found in the bytes); anything else is a download.
CONTENT_TYPES = {
    "mp4": "video/mp4",
    "jpg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
}
FALLBACK_TYPE = "application/octet-stream"


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(name.rsplit(".", 1)[-1].lower(), FALLBACK_TYPE)


def _attachment(name: str, download_name: str | None) -> str | None:
    """Content-Disposition: a download when asked for, or when the type is unknown."""
    if download_name is None and content_type(name) == FALLBACK_TYPE:
        download_name = name.rsplit("/", 1)[-1]
    return f'attachment; filename="{download_name}"' if download_name else None


def _window() -> int:
    """Links are signed as of the start of a window a third of their life long: every
    page drawn in one window links to the same URL (so the browser's cache works for
    posters seen again), and every link still lives two thirds of its life or more."""
    return max(1, settings.MEDIA_URL_TTL_SECONDS // 3)


def _window_start() -> int:
    now = int(time.time())
    return now - now % _window()


class _WindowSigner(signing.TimestampSigner):
    def timestamp(self) -> str:
        return signing.b62_encode(_window_start())


def signed_url(name: str, *, download_name: str | None = None) -> str:
    ttl = settings.MEDIA_URL_TTL_SECONDS
    if settings.MEDIA_STORAGE == "s3":
        parameters = {"ResponseContentType": content_type(name)}
        disposition = _attachment(name, download_name)
        if disposition:
            parameters["ResponseContentDisposition"] = disposition
        return default_storage.url(name, parameters=parameters, expire=ttl)  # type: ignore[call-arg]
    token = _WindowSigner(salt=SALT).sign_object({"n": name, "d": download_name}, compress=True)
    return reverse("media", args=[token])


def redirect_to(name: str, *, download_name: str | None = None) -> HttpResponse:
    """A redirect to the file's signed URL, which the browser may keep until the window
    ends (private: it is this member's; a presigned S3 URL, which changes on every
    signing, is then reused too)."""
    if not name:
        raise Http404("no such file")
    response = HttpResponseRedirect(signed_url(name, download_name=download_name))
    remaining = _window_start() + _window() - int(time.time())
    response["Cache-Control"] = f"private, max-age={max(0, remaining)}"
    return response


def serve_signed(request: HttpRequest, token: str) -> HttpResponseBase:
    try:
        data = signing.loads(token, salt=SALT, max_age=settings.MEDIA_URL_TTL_SECONDS)
    except signing.BadSignature:
        raise Http404("link expired or invalid") from None
    return serve(request, data["n"], download_name=data.get("d"))


def _chunks(handle: IO[bytes], start: int, length: int) -> Iterator[bytes]:
    try:
        handle.seek(start)
        remaining = length
        while remaining > 0:
            chunk = handle.read(min(CHUNK, remaining))
            if not chunk:
                break
            remaining -= len(chunk)
            yield chunk
    finally:
        handle.close()


class Unsatisfiable(Exception):
    """A well-formed range that lies outside the file: 416."""


def _byte_range(header: str, size: int) -> tuple[int, int] | None:
    """The one range of a `Range: bytes=a-b` header, clipped to the file; None to send
    the whole file (no header, or one we do not serve)."""
    match = RANGE.match(header.strip()) if len(header) <= MAX_RANGE_HEADER else None
    if not match:
        return None
    first, last = match.groups()
    if first == "" and last == "":
        return None
    if first == "":  # the last N bytes
        start, end = max(0, size - int(last)), size - 1
    else:
        start, end = int(first), min(size - 1, int(last) if last else size - 1)
    if not start <= end < size:
        raise Unsatisfiable
    return start, end


def serve(request: HttpRequest, name: str, *, download_name: str | None = None) -> HttpResponseBase:
    try:
        size = default_storage.size(name)
        span = _byte_range(request.headers.get("Range", ""), size)
        handle = default_storage.open(name, "rb")
    except Unsatisfiable:
        refusal = HttpResponse(status=416)
        refusal["Content-Range"] = f"bytes */{size}"
        return refusal
    except (FileNotFoundError, OSError):
        raise Http404("no such file") from None
    start, end = span or (0, size - 1)
    response = StreamingHttpResponse(
        _chunks(handle, start, end - start + 1),
        content_type=content_type(name),
        status=206 if span else 200,
    )
    response["Content-Length"] = str(end - start + 1)
    response["Accept-Ranges"] = "bytes"
    response["Cache-Control"] = f"private, max-age={settings.MEDIA_URL_TTL_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    if span:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    disposition = _attachment(name, download_name)
    if disposition:
        response["Content-Disposition"] = disposition
    return response


def delete_files(*names: str | None) -> None:
    """Remove stored files; one that cannot be removed is logged, not raised (the rows
    that named it are gone or hidden already, and storage may be a network service)."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except OSError:
            logging.getLogger(__name__).warning("could not delete %s", name)
