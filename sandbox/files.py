"""Files the emulator serves: finished videos behind expiring signed links, and the
sample images `image_urls` may name."""

from __future__ import annotations

import hmac
import time

from django.http import FileResponse, HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

from sandbox import conf, samples
from sandbox.tasks import file_signature, store_for


def sample_image(request: HttpRequest, name: str) -> HttpResponse:
    if name not in samples.SAMPLES:
        return _storage_error(404, "NoSuchKey", "The specified key does not exist")
    content_type = samples.CONTENT_TYPES[samples.SAMPLES[name][2]]
    return HttpResponse(samples.sample(name), content_type=content_type)


def video_file(request: HttpRequest, key: str) -> HttpResponseBase:
    return _signed_file(request, key, f"{key}.mp4", "video/mp4")


def frame_file(request: HttpRequest, key: str) -> HttpResponseBase:
    """The last frame of a video (Ark's return_last_frame)."""
    return _signed_file(request, f"{key}-last", f"{key}-last.png", "image/png")


def _signed_file(
    request: HttpRequest, signed_name: str, file_name: str, content_type: str
) -> HttpResponseBase:
    config = conf.current()
    try:
        expires = int(request.GET.get("expires", ""))
    except ValueError:
        return _storage_error(403, "AccessDenied", "Missing or invalid expiry")
    signature = request.GET.get("signature", "")
    if not hmac.compare_digest(signature, file_signature(signed_name, expires, config)):
        return _storage_error(403, "SignatureDoesNotMatch", "The link signature is not valid")
    if time.time() > expires:
        return _storage_error(403, "AccessDenied", "Request has expired")
    path = store_for(config).videos / file_name
    if not path.exists():
        return _storage_error(404, "NoSuchKey", "The specified key does not exist")
    return FileResponse(path.open("rb"), content_type=content_type)


def _storage_error(status: int, code: str, message: str) -> HttpResponse:
    body = (
        "<?xml version='1.0' encoding='UTF-8'?>"
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return HttpResponse(body, status=status, content_type="application/xml")
