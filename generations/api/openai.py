"""`/v1/video/generations`: the request and answer shapes of an OpenAI-style video
gateway (docs/upstream/gateway.md), so a tool written for such a gateway can point at
the studio with a personal access token. The jobs are the team's like any other: the
same form checks them, the quota pays for them, the gallery keeps them (docs/api.md).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.http.multipartparser import MultiPartParserError
from django.utils.translation import gettext as _
from ninja import NinjaAPI, Schema
from ninja.errors import AuthenticationError, HttpError, ValidationError

from generations import media
from generations.api import creating
from generations.api.auth import (
    MEMBER,
    VIEWER,
    Forbidden,
    RateLimited,
    StrictJson,
    TokenAuth,
    api_access,
    body_refusal,
    operation,
)
from generations.forms.values import NotJson, parse_id, strict_json
from generations.jimeng import catalog
from generations.models import Generation, Status, Team
from generations.services.jobs import available_modes

api = NinjaAPI(
    title="Jimeng Studio: OpenAI-style video API",
    version="1",
    auth=TokenAuth(),
    parser=StrictJson(),
    urls_namespace="openai",
    docs_url=None,
    openapi_url=None,
)

# The gateway's status words, and a rough progress for each of our steps.
STATUS = {
    Status.QUEUED: ("queued", 0),
    Status.SUBMITTING: ("queued", 5),
    Status.CHECKING: ("queued", 5),
    Status.SUBMITTED: ("processing", 10),
    Status.GENERATING: ("processing", 50),
    Status.DOWNLOADING: ("processing", 90),
    Status.READY: ("succeeded", 100),
    Status.FAILED: ("failed", 100),
    Status.CANCELLED: ("failed", 100),
}
# "jimeng-1.0", "jimeng-v2" and the like (the gateway's own examples) mean the Jimeng
# 3.0 family; the images and the resolution pick the model.
JIMENG_FAMILY = {
    (0, "720p"): "t2v_720p",
    (0, "1080p"): "t2v_1080p",
    (1, "720p"): "i2v_first_720p",
    (1, "1080p"): "i2v_first_1080p",
    (2, "720p"): "i2v_first_tail_720p",
    (2, "1080p"): "i2v_first_tail_1080p",
}


def _error(request: HttpRequest, status: int, message: str, kind: str, code: str) -> HttpResponse:
    body = {"error": {"message": message, "type": kind, "code": code}}
    return api.create_response(request, body, status=status)


@api.exception_handler(AuthenticationError)
def _unauthorized(request: HttpRequest, error: Exception) -> HttpResponse:
    message = _("Send a studio access token: Authorization: Bearer jst_…")
    return _error(request, 401, message, "authentication_error", "invalid_api_key")


@api.exception_handler(RateLimited)
def _rate_limited(request: HttpRequest, error: RateLimited) -> HttpResponse:
    message = _("Too many requests for this token; slow down.")
    response = _error(request, 429, message, "rate_limit_error", "rate_limited")
    response["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(MultiPartParserError)
def _unreadable(request: HttpRequest, error: MultiPartParserError) -> HttpResponse:
    message = _("The multipart body could not be read (%(why)s).") % {"why": error}
    return _error(request, 400, message, "invalid_request_error", "invalid_body")


@api.exception_handler(Forbidden)
def _forbidden(request: HttpRequest, error: Forbidden) -> HttpResponse:
    message = _("Your role in this team does not allow this.")
    return _error(request, 403, message, "permission_error", "forbidden")


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    where = [".".join(str(p) for p in e.get("loc", ())[1:]) for e in error.errors]
    message = _("The request body is not valid: check %(fields)s.") % {
        "fields": ", ".join(w for w in where if w) or "JSON"
    }
    return _error(request, 400, message, "invalid_request_error", "invalid_body")


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    kind = "not_found_error" if error.status_code == 404 else "invalid_request_error"
    message = body_refusal(error)
    return _error(request, error.status_code, message, kind, kind.removesuffix("_error"))


class VideoIn(Schema):
    model: str
    prompt: str = ""
    duration: int | None = None
    resolution: str | None = None
    size: str | None = None
    images: list[str] = []
    # A JSON string ({"seed": 7}); an object is taken too.
    metadata: str | dict[str, Any] | None = None


def _metadata(value: str | dict[str, Any] | None) -> dict[str, Any]:
    if not value:
        return {}
    if isinstance(value, dict):
        return value
    try:
        parsed = strict_json(value)
    except NotJson as refusal:
        raise HttpError(400, _("metadata: %(why)s") % {"why": refusal}) from None
    if not isinstance(parsed, dict):
        raise HttpError(400, _("metadata must be a JSON object written as a string."))
    return parsed


def resolve_model(team: Team, model: str, images: int, resolution: str) -> catalog.Mode:
    """The team's mode for a gateway model name: one of our mode names, an upstream
    model id (dated or not; Ark before a gateway when both can run it), or the
    Jimeng family."""
    offered = available_modes(team)
    by_name = {mode.name: mode for mode in offered}
    wanted = model.strip()
    if wanted in by_name:
        return by_name[wanted]
    rank = {catalog.Provider.ARK: 0, catalog.Provider.GATEWAY: 1, catalog.Provider.VOLCENGINE: 2}
    for matches in (
        lambda mode: mode.req_key == wanted,
        lambda mode: mode.req_key.startswith(wanted + "-"),
    ):
        found = sorted((m for m in offered if matches(m)), key=lambda m: rank[m.provider])
        if found:
            return found[0]
    if wanted.lower().startswith("jimeng") and "_" not in wanted:
        name = JIMENG_FAMILY.get((min(images, 2), resolution or "720p"))
        if name in by_name:
            return by_name[name]
    names = ", ".join(sorted({m.req_key for m in offered if not m.is_gateway} | set(by_name)))
    raise HttpError(
        404,
        _("The model %(model)s is not one this team can use. Models: %(names)s.")
        % {"model": wanted[:80], "names": names},
    )


def _video(request: HttpRequest, job: Generation) -> dict[str, Any]:
    status, progress = STATUS[Status(job.status)]
    answer: dict[str, Any] = {
        "id": str(job.pk),
        "task_id": str(job.pk),
        "object": "video",
        "model": job.req_key,
        "created_at": int(job.created_at.timestamp()),
        "status": status,
        "progress": progress,
        "seconds": job.seconds,
        "cost_cny": str(job.held_or_charged_cny),
    }
    if job.status == Status.READY and job.video:
        link = media.signed_url(job.video.name or "", download_name=f"jimeng-{job.pk}.mp4")
        answer["url"] = request.build_absolute_uri(link)
    if job.status in (Status.FAILED, Status.CANCELLED):
        message = job.failure_reason if job.status == Status.FAILED else _("Cancelled.")
        answer["error"] = {"message": str(message), "code": job.failure_code or job.status}
    return answer


def _create(request: HttpRequest, body: VideoIn) -> Any:
    access = api_access(request)
    extra = _metadata(body.metadata)
    images = [image for image in body.images if image.strip()]
    if len(images) > 2:
        raise HttpError(400, _("Send at most two images: the first and the last frame."))
    mode = resolve_model(access.access.team, body.model, len(images), body.resolution or "")
    fields: dict[str, object] = {
        "mode": mode.name,
        "prompt": body.prompt,
        "duration": body.duration if body.duration is not None else 5,
        "aspect_ratio": body.size,
        "resolution": body.resolution if mode.takes_resolution else None,
        "seed": extra.get("seed", -1),
    }
    files = {}
    for name, image in zip(("first_image", "last_image"), images, strict=False):
        try:
            more_fields, more_files = creating.image_fields(image, name, bare_base64=True)
        except creating.BadImage as bad:
            raise HttpError(400, f"{name}: {bad}") from None
        fields.update(more_fields)
        files.update(more_files)
    outcome = creating.create(access, creating.form_data(fields), files)
    if outcome.job is None:
        messages = [message for errors in outcome.errors.values() for message in errors]
        message = " ".join(messages) or outcome.detail
        kind = "insufficient_quota" if outcome.status == 402 else "invalid_request_error"
        return _error(request, outcome.status, message, kind, outcome.code)
    return api.create_response(request, _video(request, outcome.job), status=outcome.status)


def _get(request: HttpRequest, task_id: str) -> Any:
    team = api_access(request).access.team
    job = None
    pk = parse_id(task_id)
    if pk is not None:
        job = Generation.objects.for_team(team).filter(pk=pk).first()
    if job is None:
        raise HttpError(404, _("No such video task."))
    return _video(request, job)


@operation(api, "POST", "/video/generations", role=MEMBER, idempotent=True, url_name="create")
def create_video(request: HttpRequest, body: VideoIn) -> Any:
    return _create(request, body)


@operation(api, "GET", "/video/generations/{task_id}", role=VIEWER, url_name="get")
def get_video(request: HttpRequest, task_id: str) -> Any:
    return _get(request, task_id)


# The gateway's code samples post to /v1/videos: the same calls under that name.
@operation(api, "POST", "/videos", role=MEMBER, idempotent=True, url_name="create-short")
def create_video_short(request: HttpRequest, body: VideoIn) -> Any:
    return _create(request, body)


@operation(api, "GET", "/videos/{task_id}", role=VIEWER, url_name="get-short")
def get_video_short(request: HttpRequest, task_id: str) -> Any:
    return _get(request, task_id)
