"""`/api/v1/`: the studio for scripts (docs/api.md). Django Ninja builds the routes, checks
the bodies and writes the OpenAPI schema (`/api/v1/openapi.json`, docs at `/api/v1/docs`).

Creating a job goes through the same GenerateForm as the web page, so the rules and the
messages are the same; the same services reserve the money and start the pipeline.
"""

from __future__ import annotations

import base64
import binascii
from datetime import date, datetime, timedelta
from typing import Annotated, Any

from django.core.files.uploadedfile import UploadedFile
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import get_object_or_404
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja import File, Form, NinjaAPI, Query, Schema
from ninja.errors import HttpError, ValidationError
from ninja.files import UploadedFile as NinjaFile
from ninja.responses import Status as Answer
from pydantic import Field

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
from generations.api.schema import (
    AspectRatio,
    CameraStrength,
    CameraTemplate,
    Duration,
    ErrorOut,
    FormAspectRatio,
    FormCameraStrength,
    FormCameraTemplate,
    FormResolution,
    FormRowId,
    FormUrl,
    JobStatus,
    ModeName,
    Prompt,
    Resolution,
    RowId,
    Seed,
    Variants,
    Vary,
    field_problem,
)
from generations.documents import job_document, share_document
from generations.errors import Refused
from generations.forms.gallery import GalleryFilterForm
from generations.forms.generate import problem_message
from generations.jimeng import catalog
from generations.labels import mode_label
from generations.models import Generation, ShareLink, Status
from generations.services import pipeline
from generations.services.estimates import PriceProblems, offer
from generations.services.frames import last_frame_of
from generations.services.jobs import (
    available_modes,
    make_final,
    retry_generation,
)
from generations.services.ledger import QuotaExceeded
from generations.services.sharing import create_share

api = NinjaAPI(
    title="Jimeng Studio API",
    version="1",
    description="Generate, track and share videos with your team's keys and quota. "
    "Authenticate with a personal access token: `Authorization: Bearer jst_…` "
    "(your team's API page makes one).\n\n[← Back to Jimeng Studio](/)",
    auth=TokenAuth(),
    parser=StrictJson(),
    urls_namespace="api-1",
    docs_url="/docs",
    openapi_url="/openapi.json",
)


@api.exception_handler(ValidationError)
def _invalid(request: HttpRequest, error: ValidationError) -> HttpResponse:
    """A request that is not the schema: 400 with each field's problems, the shape of
    every other refusal (Ninja's own answer is a 422 with a list)."""
    errors: dict[str, list[str]] = {}
    for problem in error.errors:
        where = [str(part) for part in problem.get("loc", ())[1:]] or ["request"]
        errors.setdefault(".".join(where), []).append(field_problem(problem))
    body = {"detail": _("The request has problems."), "errors": errors}
    return api.create_response(request, body, status=400)


@api.exception_handler(RateLimited)
def _rate_limited(request: HttpRequest, error: RateLimited) -> HttpResponse:
    response = api.create_response(
        request, {"detail": _("Too many requests for this token; slow down.")}, status=429
    )
    response["Retry-After"] = str(error.retry_after)
    return response


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, error: HttpError) -> HttpResponse:
    return api.create_response(request, {"detail": body_refusal(error)}, status=error.status_code)


@api.exception_handler(MultiPartParserError)
def _unreadable(request: HttpRequest, error: MultiPartParserError) -> HttpResponse:
    """Django answers a broken multipart body 400; inside Ninja it was a 500."""
    detail = _("The multipart body could not be read (%(why)s).") % {"why": error}
    return api.create_response(request, {"detail": detail}, status=400)


@api.exception_handler(Forbidden)
def _forbidden(request: HttpRequest, error: Forbidden) -> HttpResponse:
    detail = _("Your role in this team does not allow this.")
    return api.create_response(request, {"detail": detail}, status=403)


def _refusal(refusal: Refused) -> Answer[dict[str, str]]:
    return Answer(402 if isinstance(refusal, QuotaExceeded) else 409, {"detail": str(refusal)})


def _base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


def _job(request: HttpRequest, generation_id: RowId) -> Generation:
    """The token's team's job, or 404 (another team's job does not exist here)."""
    team = api_access(request).access.team
    return get_object_or_404(
        Generation.objects.for_team(team).select_related("team"), pk=generation_id
    )


# --- who am I, what can I use, what will it cost -----------------------------------------


class MeOut(Schema):
    team: str
    team_name: str
    user: str
    role: str
    token: str


@operation(
    api, "GET", "/me", role=VIEWER, response=MeOut, summary="The token's team, member and role"
)
def me(request: HttpRequest) -> dict[str, Any]:
    access = api_access(request)
    return {
        "team": access.access.team.slug,
        "team_name": access.access.team.name,
        "user": access.token.user.get_username(),
        "role": access.access.role,
        "token": access.token.name,
    }


@operation(api, "GET", "/modes", role=VIEWER, summary="The modes this team's keys can run")
def modes(request: HttpRequest) -> list[dict[str, Any]]:
    return [
        {
            "name": mode.name,
            "label": mode_label(mode.name),
            "provider": mode.provider.value,
            "model": mode.req_key,
            "durations": list(mode.durations),
            "aspect_ratios": list(mode.aspect_ratios),
            "resolutions": list(mode.resolutions),
            "images": [mode.min_images, mode.max_images],
            "prompt_limit": mode.prompt_limit,
            "audio": bool(mode.ark and mode.ark.audio),
            "draft": bool(mode.ark and mode.ark.draft),
        }
        for mode in available_modes(api_access(request).access.team)
    ]


class EstimateQuery(Schema):
    mode: ModeName
    duration: Duration
    resolution: Resolution | None = None
    aspect_ratio: AspectRatio | None = None
    audio: bool = False
    draft: bool = False
    variants: Variants = 1
    vary: Vary = "seed"


@operation(
    api,
    "GET",
    "/estimate",
    role=VIEWER,
    response={200: dict, 400: ErrorOut},
    summary="What a job would cost, and whether you may start it now",
)
def estimate(request: HttpRequest, query: Query[EstimateQuery]) -> Any:
    """The generate page's own estimate: every video of the submit (variants), the
    team's quota and your budget left, and `blocked`, in words, when the team is
    suspended or the money is not there."""
    access = api_access(request)
    try:
        offered = offer(
            team=access.access.team,
            user_id=access.token.user_id,
            mode_name=query.mode,
            seconds=query.duration,
            resolution=query.resolution,
            aspect_ratio=query.aspect_ratio,
            audio=query.audio,
            draft=query.draft,
            variants=query.variants,
            vary=query.vary,
        )
    except PriceProblems as problems:
        words = [problem_message(problem, problems.mode) for problem in problems.problems]
        return Answer(400, {"detail": " ".join(words)})
    return offered.document()


# --- creating jobs ------------------------------------------------------------------


class GenerationIn(Schema):
    """The generate form's fields. Images are data URIs (`data:image/png;base64,…`), or
    http(s) URLs the upstream fetches itself."""

    mode: ModeName
    prompt: Prompt = ""
    duration: Duration = 5
    aspect_ratio: AspectRatio | None = None
    resolution: Resolution | None = None
    seed: Seed = -1
    template_id: CameraTemplate | None = None
    camera_strength: CameraStrength | None = None
    generate_audio: bool = False
    draft: bool = False
    references: bool = False
    first_image: str | None = None
    last_image: str | None = None
    extend_from: RowId | None = None
    variants: Variants = 1  # 1–4 videos from one submit
    vary: Vary = "seed"  # seed, duration or ratio


def _answer(request: HttpRequest, outcome: creating.Outcome) -> Any:
    if outcome.job is not None:
        document = job_document(outcome.job, base=_base(request))
        if len(outcome.variants) > 1:
            document["variants"] = [job.pk for job in outcome.variants]
        return Answer(outcome.status, document)
    body: dict[str, Any] = {"detail": outcome.detail}
    if outcome.errors:
        body["errors"] = outcome.errors
    return Answer(outcome.status, body)


def _create_from(request: HttpRequest, body: GenerationIn) -> Any:
    fields: dict[str, object] = body.model_dump(exclude={"first_image", "last_image"})
    files: dict[str, UploadedFile] = {}
    for name in ("first_image", "last_image"):
        try:
            more_fields, more_files = creating.image_fields(getattr(body, name), name)
        except creating.BadImage as bad:
            errors = {name: [str(bad)]}
            return Answer(400, {"detail": _("The request has problems."), "errors": errors})
        fields.update(more_fields)
        files.update(more_files)
    outcome = creating.create(api_access(request), creating.form_data(fields), files)
    return _answer(request, outcome)


CREATE_RESPONSES = {
    201: dict,
    200: dict,
    400: ErrorOut,
    402: ErrorOut,
    409: ErrorOut,
    422: ErrorOut,
}


@operation(
    api,
    "POST",
    "/generations",
    role=MEMBER,
    idempotent=True,
    response=CREATE_RESPONSES,
    url_name="generations",
    summary="Start a video",
)
def create_generation(request: HttpRequest, body: GenerationIn) -> Any:
    """Members and up. The same validation, messages and quota as the web form.
    Send `Idempotency-Key` to make a retried request return the same job (200)."""
    return _create_from(request, body)


class GenerationForm(Schema):
    mode: ModeName
    prompt: Prompt = ""
    duration: Duration = 5
    aspect_ratio: FormAspectRatio = None
    resolution: FormResolution = None
    seed: Seed = -1
    template_id: FormCameraTemplate = None
    camera_strength: FormCameraStrength = None
    generate_audio: bool = False
    draft: bool = False
    references: bool = False
    first_image_url: FormUrl = None
    last_image_url: FormUrl = None
    extend_from: FormRowId = None


@operation(
    api,
    "POST",
    "/generations/upload",
    role=MEMBER,
    idempotent=True,
    response=CREATE_RESPONSES,
    summary="Start a video (multipart)",
)
def create_generation_upload(
    request: HttpRequest,
    fields: Form[GenerationForm],
    first_image: File[NinjaFile | None] = None,
    last_image: File[NinjaFile | None] = None,
) -> Any:
    """The same as POST /generations, with the images as multipart files."""
    files = {
        name: upload
        for name, upload in (("first_image", first_image), ("last_image", last_image))
        if upload is not None
    }
    outcome = creating.create(api_access(request), creating.form_data(fields.model_dump()), files)
    return _answer(request, outcome)


# --- reading jobs -------------------------------------------------------------------


class ListQuery(Schema):
    q: Annotated[str, Field(max_length=200)] | None = None
    mode: ModeName | None = None
    status: JobStatus | None = None
    author: RowId | None = None  # a member's user id
    since: date | None = None
    until: date | None = None
    tag: Annotated[str, Field(max_length=40)] | None = None
    batch: Annotated[str, Field(max_length=32)] | None = None  # the variants of one submit
    cursor: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=100)] = 24


def _cursor(job: Generation) -> str:
    raw = f"{job.created_at.isoformat()}|{job.pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _after(cursor: str) -> tuple[datetime, int]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, pk = raw.split("|")
        return datetime.fromisoformat(stamp), int(pk)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise HttpError(400, _("The cursor is not one this API gave.")) from None


@operation(
    api,
    "GET",
    "/generations",
    role=VIEWER,
    response={200: dict, 400: ErrorOut},
    summary="The team's jobs",
)
def list_generations(request: HttpRequest, query: Query[ListQuery]) -> Any:
    """Newest first, with the gallery's filters; `next_cursor` fetches the next page."""
    access = api_access(request).access
    filters = {k: v for k, v in query.model_dump(exclude={"cursor", "limit"}).items() if v}
    form = GalleryFilterForm(filters or None, team=access.team)
    if filters and not form.is_valid():
        errors = {name: [str(m) for m in messages] for name, messages in form.errors.items()}
        return Answer(400, {"detail": _("The filters have problems."), "errors": errors})
    # No join for the team (it is the token's): with one, SQLite's planner may sort
    # every job of the team instead of reading its newest through an index.
    jobs = form.jobs()
    if query.cursor:
        created, pk = _after(query.cursor)
        jobs = jobs.filter(created_at__lte=created).exclude(created_at=created, pk__gte=pk)
    limit = max(1, min(100, query.limit))
    page = list(jobs.order_by("-created_at", "-pk")[: limit + 1])
    for job in page:
        job.team = access.team
    base = _base(request)
    return {
        "items": [job_document(job, base=base) for job in page[:limit]],
        "next_cursor": _cursor(page[limit - 1]) if len(page) > limit else None,
    }


@operation(
    api,
    "GET",
    "/generations/{generation_id}",
    role=VIEWER,
    response=dict,
    url_name="generation",
    summary="One job",
)
def get_generation(request: HttpRequest, generation_id: RowId) -> dict[str, Any]:
    return job_document(_job(request, generation_id), base=_base(request))


@operation(
    api,
    "GET",
    "/generations/{generation_id}/download",
    role=VIEWER,
    response={302: None, 409: ErrorOut},
    url_name="download",
    summary="The video file (a redirect to a short-lived link)",
)
def download(request: HttpRequest, generation_id: RowId) -> Any:
    job = _job(request, generation_id)
    if job.status != Status.READY:
        return Answer(409, {"detail": _("The video is not ready.")})
    link = media.signed_url(job.video.name or "", download_name=f"jimeng-{job.pk}.mp4")
    return HttpResponseRedirect(link)


# --- acting on jobs -------------------------------------------------------------------


@operation(
    api,
    "POST",
    "/generations/{generation_id}/cancel",
    role=MEMBER,
    response={200: dict, 409: ErrorOut},
)
def cancel(request: HttpRequest, generation_id: RowId) -> Any:
    """Members: a job not yet sent, or an Ark task still queued upstream."""
    job = _job(request, generation_id)
    if not (pipeline.cancel(job) or pipeline.cancel_upstream(job)):
        return Answer(409, {"detail": _("This job is already being made and cannot be cancelled.")})
    job.refresh_from_db()
    return job_document(job, base=_base(request))


@operation(
    api,
    "POST",
    "/generations/{generation_id}/retry",
    role=MEMBER,
    idempotent=True,
    response=CREATE_RESPONSES,
)
def retry(request: HttpRequest, generation_id: RowId) -> Any:
    """Members: run a failed or cancelled job again, as a new job."""
    access = api_access(request)
    job = _job(request, generation_id)
    if job.status not in (Status.FAILED, Status.CANCELLED):
        return Answer(409, {"detail": _("Only failed or cancelled jobs can be retried.")})
    try:
        again = retry_generation(generation=job, user=access.token.user)
    except Refused as refusal:
        return _refusal(refusal)
    return Answer(201, job_document(again, base=_base(request)))


@operation(
    api,
    "POST",
    "/generations/{generation_id}/regenerate",
    role=MEMBER,
    idempotent=True,
    response=CREATE_RESPONSES,
)
def regenerate(request: HttpRequest, generation_id: RowId) -> Any:
    """Members: another take of any job, as a new job (a random seed is drawn again)."""
    access = api_access(request)
    job = _job(request, generation_id)
    try:
        again = retry_generation(generation=job, user=access.token.user, another_take=True)
    except Refused as refusal:
        return _refusal(refusal)
    return Answer(201, job_document(again, base=_base(request)))


class ExtendIn(Schema):
    mode: ModeName | None = None
    prompt: Prompt = ""
    duration: Duration | None = None
    resolution: Resolution | None = None
    generate_audio: bool = False


@operation(
    api,
    "POST",
    "/generations/{generation_id}/extend",
    role=MEMBER,
    idempotent=True,
    response=CREATE_RESPONSES,
)
def extend(request: HttpRequest, generation_id: RowId, body: ExtendIn) -> Any:
    """Members: the next part of a chain, starting from this video's last frame."""
    job = _job(request, generation_id)
    if not last_frame_of(job):
        return Answer(
            409, {"detail": _("This video cannot be extended (not ready, or no last frame).")}
        )
    fields = GenerationIn(
        mode=body.mode or catalog.extension_mode(job.catalog_mode).name,
        prompt=body.prompt,
        duration=body.duration or job.seconds,
        resolution=body.resolution or job.resolution or None,
        generate_audio=body.generate_audio,
        extend_from=job.pk,
    )
    return _create_from(request, fields)


@operation(
    api,
    "POST",
    "/generations/{generation_id}/final",
    role=MEMBER,
    idempotent=True,
    response=CREATE_RESPONSES,
)
def final(request: HttpRequest, generation_id: RowId) -> Any:
    """Members: the final video of a ready Ark draft."""
    access = api_access(request)
    try:
        made = make_final(draft=_job(request, generation_id), user=access.token.user)
    except Refused as refusal:
        return _refusal(refusal)
    return Answer(201, job_document(made, base=_base(request)))


# --- sharing ------------------------------------------------------------------------------


@operation(api, "GET", "/shares", role=VIEWER, response=dict, summary="The team's share links")
def list_shares(request: HttpRequest) -> dict[str, Any]:
    team = api_access(request).access.team
    links = ShareLink.objects.filter(team=team).order_by("-created_at")[:200]
    base = _base(request)
    return {"items": [share_document(link, base=base) for link in links]}


class ShareIn(Schema):
    generations: Annotated[list[RowId], Field(min_length=1, max_length=50)]
    title: Annotated[str, Field(max_length=120)] = ""
    expires_in_days: Annotated[int, Field(ge=0, le=365)] = 0  # 0: never


@operation(
    api,
    "POST",
    "/shares",
    role=MEMBER,
    idempotent=True,
    response={201: dict, 400: ErrorOut, 409: ErrorOut},
)
def make_share(request: HttpRequest, body: ShareIn) -> Any:
    """Members: share ready videos of the team under one link."""
    access = api_access(request)
    if not 0 <= body.expires_in_days <= 365:
        return Answer(400, {"detail": _("expires_in_days is 0 (never) to 365.")})
    days = body.expires_in_days
    try:
        link = create_share(
            team=access.access.team,
            user=access.token.user,
            generation_ids=body.generations[:50],
            title=body.title,
            expires_at=timezone.now() + timedelta(days=days) if days else None,
        )
    except Refused as refusal:
        return _refusal(refusal)
    return Answer(201, share_document(link, base=_base(request)))


@operation(api, "DELETE", "/shares/{link_id}", role=MEMBER, response={200: dict, 403: ErrorOut})
def revoke_share(request: HttpRequest, link_id: RowId) -> Any:
    """Members revoke the links they made; admins any."""
    access = api_access(request)
    link = get_object_or_404(ShareLink, pk=link_id, team=access.access.team)
    if not access.access.can_revoke(link):
        raise Forbidden
    link.revoke()
    link.refresh_from_db()
    return share_document(link, base=_base(request))


# --- money --------------------------------------------------------------------------------


@operation(
    api,
    "GET",
    "/quota",
    role=VIEWER,
    response=dict,
    summary="The team's month: quota, spend, what is left",
)
def quota(request: HttpRequest) -> dict[str, Any]:
    usage = api_access(request).access.team.usage()

    def cny(value: Any) -> str | None:
        return None if value is None else str(value)

    return {
        "period": usage.period.isoformat(),
        "quota_cny": cny(usage.quota_cny),
        "quota_seconds": usage.quota_seconds,
        "topup_cny": cny(usage.topup_cny),
        "spent_cny": cny(usage.spent_cny),
        "spent_seconds": usage.spent_seconds,
        "reserved_cny": cny(usage.reserved_cny),
        "reserved_seconds": usage.reserved_seconds,
        "left_cny": cny(usage.left_cny),
        "left_seconds": usage.left_seconds,
        "resets_at": usage.resets_at.isoformat(),
    }
