"""The studio: the generate page, live job status, job details, cancel and retry."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from generations import media
from generations.access import TeamAccess, team_view
from generations.errors import Refused
from generations.forms.generate import (
    IMAGE_MESSAGES,
    PRIVATE_URL_MESSAGE,
    PROBLEM_MESSAGES,
    PROMPT_MAX,
    GenerateForm,
    duration_label,
    problem_message,
)
from generations.forms.values import parse_id
from generations.jimeng import catalog
from generations.jimeng.images import MAX_UPLOAD_BYTES
from generations.labels import mode_label
from generations.models import Generation, ImageRole, Price, PromptTemplate, Role, Status
from generations.services import held_frames, ledger, notifications, pipeline, prompts
from generations.services import variants as takes
from generations.services.estimates import PriceProblems, offer
from generations.services.frames import last_frame_of
from generations.services.jobs import (
    available_modes,
    chain_of,
    make_final,
    retry_generation,
    start_variants_from_form,
)
from generations.views.accounts import safe_next
from generations.views.fragments import fragment, messages_only, wants_fragment
from generations.views.joined import joined_download
from generations.views.progress import progress

RECENT_JOBS = 12
STEPS = (Status.QUEUED, Status.SUBMITTED, Status.GENERATING, Status.DOWNLOADING, Status.READY)


def _step(status: str) -> int:
    if status in (Status.SUBMITTING, Status.CHECKING):
        return 1
    return STEPS.index(Status(status)) if status in STEPS else -1


def job_json(generation: Generation, slug: str) -> dict[str, Any]:
    ready = generation.status == Status.READY
    return {
        **progress(generation),
        "id": generation.pk,
        "status": generation.status,
        "status_label": str(Status(generation.status).label),
        "step": _step(generation.status),
        "terminal": generation.is_terminal,
        "created_at": generation.created_at.isoformat(),
        "finished_at": generation.finished_at.isoformat() if generation.finished_at else None,
        "elapsed_seconds": round(generation.elapsed.total_seconds(), 1),
        "failure": generation.failure_reason if generation.status == Status.FAILED else None,
        "poster_url": reverse("job-media", args=[slug, generation.pk, "poster"]) if ready else None,
        "video_url": reverse("job-media", args=[slug, generation.pk, "video"]) if ready else None,
        "detail_url": reverse("job-detail", args=[slug, generation.pk]),
        "can_cancel": generation.can_cancel,
    }


def _mode_note(mode: catalog.Mode) -> str:
    if mode.ark:
        return _(
            "Seedance on Ark: %(seconds)s seconds, %(resolutions)s; billed by the tokens "
            "the video takes."
        ) % {
            "seconds": catalog.describe_durations(mode),
            "resolutions": ", ".join(mode.resolutions),
        }
    if mode.is_gateway:
        return _(
            "Gateway model: %(seconds)s seconds, 480p to 1080p; "
            "images optional or required by model."
        ) % {"seconds": catalog.describe_durations(mode)}
    if mode.camera:
        return _("Moves the camera over your first frame; pick a movement and its strength.")
    if mode.min_images == 2:
        return _(
            "Animates from your first frame to your last frame; "
            "both must have the same aspect ratio."
        )
    if mode.min_images == 1:
        return _("Animates your first frame; the video takes the frame's aspect ratio.")
    if mode.max_images:
        return _("Write a prompt, add a first frame, or both.")
    return _("Makes a video from your prompt alone.")


def _mode_table(modes: list[catalog.Mode]) -> dict[str, Any]:
    """What the generate page's script needs to know about each mode."""
    prices = Price.objects.table()
    return {
        mode.name: {
            "label": mode_label(mode.name),
            "note": _mode_note(mode),
            "durations": [[seconds, duration_label(seconds)] for seconds in mode.durations],
            "ratios": list(mode.aspect_ratios),
            "ratio_source": mode.ratio_source.value,
            "min_images": mode.min_images,
            "max_images": mode.max_images,
            "camera": mode.camera,
            "gateway": mode.is_gateway,
            "ark": mode.is_ark,
            "audio": bool(mode.ark and mode.ark.audio),
            "draft": bool(mode.ark and mode.ark.draft),
            "references": mode.ark.references if mode.ark else 0,
            "seed": not mode.ark or mode.ark.seed,
            "resolutions": list(mode.resolutions),
            "default_resolution": mode.ark.default_resolution if mode.ark else "",
            "prompt_limit": mode.prompt_limit,
            "image_ratio": [mode.image_rules.min_ratio, mode.image_rules.max_ratio],
            "prompt_required": mode.prompt_required,
            "price": str(prices[mode.price_key].cny_per_second),
            "price_is_estimate": prices[mode.price_key].is_estimate,
        }
        for mode in modes
    }


def _form_rules() -> dict[str, Any]:
    """What the page checks before Generate is enabled, in the server's own words: the
    same limits and messages the form and the catalog apply after it (one description,
    so the two cannot drift; tests/browser/test_generate_rules.py holds them together)."""
    return {
        "max_upload_bytes": MAX_UPLOAD_BYTES,
        "image_types": ["image/jpeg", "image/png", "image/webp"],
        "prompt_max": PROMPT_MAX,
        "draft_resolution": catalog.DRAFT_RESOLUTION,
        # Addresses that are local but allowed: the built-in emulator's.
        "trusted": [settings.SANDBOX_URL] if settings.SANDBOX_URL else [],
        "messages": {
            "prompt_too_long": str(PROBLEM_MESSAGES["prompt_too_long"]),
            "prompt_required": str(PROBLEM_MESSAGES["prompt_required"]),
            "images_missing": str(PROBLEM_MESSAGES["images_missing"]),
            "too_large": str(IMAGE_MESSAGES["too_large"]),
            "not_image": str(IMAGE_MESSAGES["not_image"]),
            "private_url": str(PRIVATE_URL_MESSAGE),
            "url_scheme": _("Enter an http:// or https:// image address."),
            "blocked": _("Generate is off until this is fixed:"),
            "to_generate": _("To generate:"),
            "limits": _(
                "JPEG, PNG or WebP, at most %(limit)s MB; width ÷ height between %(low)s "
                "and %(high)s."
            ),
        },
    }


def _initial(access: TeamAccess, query: dict[str, str]) -> dict[str, Any]:
    """A new job like an earlier one (`from`), continuing one (`extend`), or from a
    team template (`template`)."""
    jobs = Generation.objects.for_team(access.team)
    extend = parse_id(query.get("extend", ""))
    if extend is not None:
        source = jobs.filter(pk=extend, status=Status.READY).first()
        if source is not None and source.can_extend:
            return {
                "mode": catalog.extension_mode(source.catalog_mode).name,
                "duration": source.seconds,
                "seed": -1,
                "resolution": source.resolution,
                "extend_from": source.pk,
            }
    template_id = parse_id(query.get("template", ""))
    if template_id is not None:
        template = PromptTemplate.objects.filter(team=access.team, pk=template_id).first()
        if template is not None:
            mode = template.mode if template.mode in catalog.MODES else "t2v_720p"
            return {"mode": mode, "prompt": template.prompt, "duration": 5, "seed": -1}
    source_id = parse_id(query.get("from", ""))
    if source_id is None:
        return {"mode": "t2v_720p", "duration": 5, "seed": -1}
    source = jobs.filter(pk=source_id).first()
    if source is None:
        return {}
    return {
        "mode": source.mode,
        "prompt": source.prompt,
        "duration": catalog.AUTO_DURATION if source.auto_length else source.seconds,
        "generate_audio": source.generate_audio,
        "draft": source.draft,
        "references": source.references,
        "aspect_ratio": source.aspect_ratio,
        # After a submit the form keeps what was asked (a random seed stays random);
        # "Reuse settings" makes the same video again, with the seed that was sent.
        "seed": source.seed if query.get("keep") else source.sent_seed,
        "resolution": source.resolution,
        "template_id": source.template_id,
        "camera_strength": source.camera_strength,
        "first_image_url": (source.image_urls or [""])[0],
        "last_image_url": (source.image_urls[1] if len(source.image_urls) > 1 else ""),
        "reuse_images_from": source.pk if source.images.exists() else None,
    }


def _hold_frames(form: GenerateForm, access: TeamAccess, user_id: int, post: QueryDict) -> None:
    """The form comes back with an error: keep the frames uploaded with it (and those
    kept from before) under a token the form carries, so they need not be picked again."""
    token = str(form.data.get("held_frames", ""))
    if form.uploaded:
        token = held_frames.hold(access.team.pk, user_id, form.uploaded, token)
    if held_frames.held(access.team.pk, user_id, token):
        data = post.copy()
        data["held_frames"] = token
        form.data = data
        form.__dict__.pop("held", None)  # read again with the new token


@team_view(Role.VIEWER, post=Role.MEMBER)
def studio(request: HttpRequest, access: TeamAccess) -> HttpResponse:
    modes = available_modes(access.team)
    user_id = int(request.user.pk or 0)  # signed in: team_view sees to it
    if request.method == "POST":
        form = GenerateForm(
            request.POST, request.FILES, team=access.team, modes=modes, user_id=user_id
        )
        if form.is_valid() and form.request_input is not None:
            try:
                made = start_variants_from_form(form, user=request.user)
            except Refused as refusal:
                form.add_error(None, str(refusal))
            else:
                held_frames.release(access.team.pk, user_id, request.POST.get("held_frames", ""))
                generation = made[0]
                if len(made) == 1:
                    text = _("Job #%(id)s queued.") % {"id": generation.pk}
                else:
                    text = _("%(count)s variants queued: jobs #%(first)s–#%(last)s.") % {
                        "count": len(made),
                        "first": made[0].pk,
                        "last": made[-1].pk,
                    }
                # Removed by the page once the (last) job finishes.
                messages.success(request, text, extra_tags=f"job-{made[-1].pk}")
                if wants_fragment(request):  # the new cards join the feed; the form stays
                    return _feed_fragment(request, access, [job.pk for job in made])
                # The form comes back as it was, its frames taken from the job.
                url = reverse("studio", args=[access.team.slug])
                return redirect(f"{url}?from={generation.pk}&keep=1")
        _hold_frames(form, access, user_id, request.POST)
        status = 400
        if wants_fragment(request):  # the form again, with its reasons, where it was
            context = _page_context(request, access, form, user_id)
            return fragment(
                request, "studio/_form.html", context, retarget="#generate-form", reswap="outerHTML"
            )
    else:
        form = GenerateForm(
            initial=_initial(access, request.GET.dict()), team=access.team, modes=modes
        )
        status = 200
    context = _page_context(request, access, form, user_id)
    context["feed"] = takes.grouped(_with_facts(access, user_id)[:RECENT_JOBS])
    return render(request, "studio/generate.html", context, status=status if form.errors else 200)


def _with_facts(access: TeamAccess, user_id: int) -> Any:
    return (
        Generation.objects.for_team(access.team)
        .with_tile_facts(user_id)
        .select_related("created_by", "team")
    )


def _page_context(
    request: HttpRequest, access: TeamAccess, form: GenerateForm, user_id: int
) -> dict[str, Any]:
    budget, budget_left_cny = ledger.budget_left(access.team, user_id)
    return {
        "access": access,
        "form": form,
        "modes": _mode_table(list(form.modes.values())),
        "form_rules": _form_rules(),
        "reused": Generation.objects.for_team(access.team)
        .filter(pk=form["reuse_images_from"].value() or 0)
        .first(),
        "extended": Generation.objects.for_team(access.team)
        .filter(pk=form["extend_from"].value() or 0)
        .first(),
        "usage": access.team.usage(),
        "budget_cny": budget,
        "budget_left_cny": budget_left_cny,
        "history": prompts.history(access.team, user_id),
        "prompt_templates": PromptTemplate.objects.filter(team=access.team),
        "held": [
            (frame, media.signed_url(frame.name))
            for frame in form.held.values()
            if frame.position < 2
        ],
    }


def _feed_fragment(request: HttpRequest, access: TeamAccess, ids: list[int]) -> HttpResponse:
    """New jobs, as cards for the top of the workspace's feed."""
    user_id = int(request.user.pk or 0)
    jobs = _with_facts(access, user_id).filter(pk__in=ids)
    context = {"access": access, "feed": takes.grouped(jobs), "in_feed": True, "new": True}
    return fragment(request, "studio/_feed.html", context)


@team_view(Role.VIEWER)
def estimate(request: HttpRequest, access: TeamAccess) -> JsonResponse:
    """The cost of what the form holds, and whether this member may submit it now."""
    asked = request.GET
    try:
        seconds, variants = int(asked.get("duration", "")), int(asked.get("variants", "1"))
    except ValueError:
        return JsonResponse({"error": _("Choose a mode and one of its durations.")}, status=400)
    try:
        offered = offer(
            team=access.team,
            user_id=int(request.user.pk or 0),
            mode_name=asked.get("mode", ""),
            seconds=seconds,
            resolution=asked.get("resolution"),
            aspect_ratio=asked.get("aspect_ratio"),
            audio=asked.get("audio") == "1",
            draft=asked.get("draft") == "1",
            variants=variants,
            vary=asked.get("vary", takes.Vary.SEED),
        )
    except PriceProblems as problems:
        words = [problem_message(problem, problems.mode) for problem in problems.problems]
        return JsonResponse({"error": " ".join(words)}, status=400)
    return JsonResponse(offered.document())


@team_view(Role.VIEWER)
def jobs_status(request: HttpRequest, access: TeamAccess) -> JsonResponse:
    # A card's poll: parts that are not job numbers are passed over, not refused.
    ids = [pk for pk in map(parse_id, request.GET.get("ids", "").split(",")[:100]) if pk]
    # By primary key, then the team checked on the rows: given `team_id = ? AND id IN (…)`
    # SQLite walks the team's index, every job of the team, instead of the ids.
    jobs = (
        Generation.objects.filter(pk__in=ids)
        .order_by()
        .only(
            "pk",
            "status",
            "created_at",
            "finished_at",
            "failure_code",
            "failure_detail",
            "team_id",
            "mode",
            "seconds",
            "submitted_at",
            "upstream_status",
        )
    )
    mine = [job for job in jobs if job.team_id == access.team.pk]
    return JsonResponse(
        {
            "jobs": [job_json(job, access.team.slug) for job in mine],
            "unread": notifications.unread(int(request.user.pk or 0)),
        }
    )


@team_view(Role.VIEWER)
def job_detail(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    generation = get_object_or_404(
        Generation.objects.for_team(access.team)
        .with_variants()
        .select_related("created_by", "credential"),
        pk=generation_id,
    )
    context = {
        "access": access,
        "job": generation,
        "job_state": job_json(generation, access.team.slug),
        "params_json": json.dumps(generation.params, ensure_ascii=False, indent=2),
        "images": generation.images.all(),
        "tags_text": ", ".join(tag.name for tag in generation.tags.all()),
        "is_favourite": generation.favourite_of.filter(pk=int(request.user.pk or 0)).exists(),
        "failure": generation.failure_reason if generation.status == Status.FAILED else "",
        "new_link": request.session.pop("new_share_url", None),
    }
    return render(request, "studio/job.html", context)


@require_POST
@team_view(Role.MEMBER)
def job_cancel(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """Cancel a job not yet sent, or (Ark) one still queued upstream."""
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    if pipeline.cancel(generation) or pipeline.cancel_upstream(generation):
        messages.success(
            request,
            _("Job #%(id)s cancelled; its reservation was released.") % {"id": generation.pk},
        )
    else:
        messages.error(
            request,
            _("Job #%(id)s is already being made and cannot be cancelled.") % {"id": generation.pk},
        )
    if wants_fragment(request):  # the card again, as it is now
        return _card(request, access, generation.pk, in_feed=request.POST.get("in_feed") == "1")
    return redirect(
        safe_next(request, reverse("job-detail", args=[access.team.slug, generation.pk]))
    )


def _again(
    request: HttpRequest, access: TeamAccess, generation: Generation, *, another_take: bool
) -> HttpResponse:
    """Start a job like `generation`; to the new job (or where the request came from)."""
    try:
        again = retry_generation(
            generation=generation, user=request.user, another_take=another_take
        )
    except Refused as refusal:
        messages.error(request, str(refusal))
        if wants_fragment(request):
            return messages_only(request)
        return redirect("job-detail", slug=access.team.slug, generation_id=generation.pk)
    if another_take:
        text = _("Job #%(id)s queued: another take of #%(source)s.")
    else:
        text = _("Job #%(id)s queued with the same inputs.")
    messages.success(
        request, text % {"id": again.pk, "source": generation.pk}, extra_tags=f"job-{again.pk}"
    )
    if wants_fragment(request):
        return _feed_fragment(request, access, [again.pk])
    return redirect(safe_next(request, reverse("job-detail", args=[access.team.slug, again.pk])))


def _card(
    request: HttpRequest, access: TeamAccess, generation_id: int, *, in_feed: bool
) -> HttpResponse:
    user_id = int(request.user.pk or 0)
    job = get_object_or_404(_with_facts(access, user_id), pk=generation_id)
    variant = in_feed and request.GET.get("variant") == "1" and job.variants > 1
    context = {"access": access, "job": job, "in_feed": in_feed, "variant": variant}
    return fragment(request, "studio/_job.html", context)


@team_view(Role.VIEWER)
def job_card(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """A job's card in the workspace's feed, as it is now (the page swaps it in when the
    job ends: the player and its actions replace the steps)."""
    return _card(request, access, generation_id, in_feed=True)


@require_POST
@team_view(Role.VIEWER)
def job_keep(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """Keep one take of a submit: the member's favourite; the others fold away."""
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    takes.keep(generation, request.user)
    messages.success(request, _("Kept job #%(id)s.") % {"id": generation.pk})
    if wants_fragment(request):
        jobs = _with_facts(access, int(request.user.pk or 0))
        if generation.batch:
            jobs = jobs.filter(batch=generation.batch)
        else:
            jobs = jobs.filter(pk=generation.pk)
        context = {"access": access, "feed": takes.grouped(jobs), "in_feed": True}
        return fragment(request, "studio/_feed.html", context)
    return redirect(safe_next(request, reverse("studio", args=[access.team.slug])))


@require_POST
@team_view(Role.MEMBER)
def job_retry(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    if generation.status not in (Status.FAILED, Status.CANCELLED):
        messages.error(request, _("Only failed or cancelled jobs can be retried."))
        if wants_fragment(request):
            return messages_only(request)
        return redirect("job-detail", slug=access.team.slug, generation_id=generation.pk)
    return _again(request, access, generation, another_take=False)


@require_POST
@team_view(Role.MEMBER)
def job_regenerate(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """Another take of any job, in one click."""
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    return _again(request, access, generation, another_take=True)


@require_POST
@team_view(Role.MEMBER)
def job_final(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """Make the final video of a ready draft (Ark's draft_task)."""
    draft = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    try:
        final = make_final(draft=draft, user=request.user)
    except Refused as refusal:
        messages.error(request, str(refusal))
        return redirect("job-detail", slug=access.team.slug, generation_id=draft.pk)
    messages.success(request, _("Job #%(id)s makes the final video.") % {"id": final.pk})
    return redirect("job-detail", slug=access.team.slug, generation_id=final.pk)


@team_view(Role.VIEWER)
def job_chain(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """A chain of extended videos, to watch as one."""
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    parts = chain_of(generation)
    return render(
        request, "studio/chain.html", {"access": access, "job": generation, "parts": parts}
    )


@team_view(Role.VIEWER)
def job_chain_mp4(request: HttpRequest, access: TeamAccess, generation_id: int) -> HttpResponse:
    """The chain `generation_id` belongs to, as one MP4: the file when it is joined, else a
    page that waits while a worker joins it (docs/joining.md)."""
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    parts = chain_of(generation)
    if len(parts) < 2:
        raise Http404("not part of a chain")
    return joined_download(
        request,
        parts,
        base="base.html",
        back=reverse("job-chain", args=[access.team.slug, generation.pk]),
    )


@team_view(Role.VIEWER)
def job_media(
    request: HttpRequest, access: TeamAccess, generation_id: int, kind: str
) -> HttpResponse:
    generation = get_object_or_404(Generation.objects.for_team(access.team), pk=generation_id)
    if kind in ("video", "poster", "download"):
        if generation.status != Status.READY:
            raise Http404("not ready")
        if kind == "poster":
            return media.redirect_to(generation.poster.name or "")
        download = f"jimeng-{generation.pk}.mp4" if kind == "download" else None
        return media.redirect_to(generation.video.name or "", download_name=download)
    if kind == "last-frame":  # what Extend starts from (cut from the video when first asked)
        name = last_frame_of(generation) if generation.status == Status.READY else ""
        if not name:
            raise Http404("no last frame")
        return media.redirect_to(name)
    role, _sep, which = kind.partition("-")
    image = generation.images.filter(
        position=ImageRole.FIRST if role == "first" else ImageRole.LAST
    ).first()
    if image is None or which not in ("original", "fitted") or role not in ("first", "last"):
        raise Http404("no such image")
    name = getattr(image, which).name or ""
    # An original is whatever was uploaded (an image, perhaps with more riding along):
    # it is offered as a download, never shown as a page of our site.
    download = (
        f"jimeng-{generation.pk}-{role}.{name.rsplit('.', 1)[-1]}" if which == "original" else None
    )
    return media.redirect_to(name, download_name=download)
