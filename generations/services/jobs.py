"""Starting generations: which modes a team can run, what a job costs, and creating it
with its reservation; retrying a finished job. After this, `generations.pipeline`
submits, polls and archives."""

from __future__ import annotations

import dataclasses
import logging
import secrets
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from generations.errors import Refused
from generations.jimeng import catalog
from generations.jimeng.payload import SEED_MAX, GenerationInput, build_body
from generations.models import (
    Credential,
    CredentialKind,
    Generation,
    GenerationImage,
    Price,
    Status,
    Team,
)
from generations.services import gallery_totals, pipeline
from generations.services.frames import Frame, frames_from_generation
from generations.services.ledger import QuotaExceeded, reserve
from generations.services.queue import once_committed

log = logging.getLogger(__name__)


def credential_for_mode(team: Team, mode: catalog.Mode) -> Credential | None:
    """The team's default key when it serves this mode's provider, else its first such key."""
    kind = CredentialKind(mode.provider.value)
    return team.credentials.filter(kind=kind).order_by("-is_default", "pk").first()


def available_modes(team: Team, today: date | None = None) -> list[catalog.Mode]:
    """The modes the team's keys can run, without retired models."""
    kinds = set(team.credentials.values_list("kind", flat=True))
    offered = catalog.offered_modes(Price.objects.retired(today or timezone.localdate()))
    return [mode for mode in offered if mode.provider.value in kinds]


def is_retired(mode: catalog.Mode) -> bool:
    return mode.price_key in Price.objects.retired(timezone.localdate())


def order_of(request: GenerationInput) -> catalog.Order:
    ratio = request.aspect_ratio
    if ratio in (None, "adaptive") and request.image_ratios:
        ratio = request.image_ratios[0]  # Ark's adaptive follows the first image
    return catalog.Order(
        seconds=request.seconds,
        resolution=request.resolution,
        ratio=ratio,
        audio=request.generate_audio,
        draft=request.draft,
    )


def quote(mode: catalog.Mode, request: GenerationInput) -> catalog.Estimate:
    """What the job will cost at today's prices (for Ark, tokens estimated from the size)."""
    return catalog.estimate(mode, order_of(request), Price.objects.table())


def _params(mode: catalog.Mode, request: GenerationInput) -> dict[str, Any]:
    """The request as it will be sent, with images reduced to a count."""
    body = build_body(mode, request)
    for key in ("binary_data_base64", "images"):
        if key in body:
            body[key] = f"<{len(body[key])} image(s)>"
    for item in body.get("content", []):
        holder = item.get("image_url")
        if isinstance(holder, dict) and str(holder.get("url", "")).startswith("data:"):
            holder["url"] = "<image>"
    return body


def start_generation(
    *,
    team: Team,
    user: Any,
    mode: catalog.Mode,
    request: GenerationInput,
    frames: list[Frame],
    retry_of: Generation | None = None,
    extends: Generation | None = None,
    from_draft: Generation | None = None,
    batch: str = "",
    defer_frames: bool = False,
) -> Generation:
    """Record the job and reserve its cost in one transaction, then store its frames.

    A refused reservation leaves nothing behind. Frames go to storage after the
    commit (storage may be a network service); the job becomes due only once they
    are stored, and the sweeper fails it if that never happens.
    """
    credential = credential_for_mode(team, mode)
    if credential is None:
        raise Refused(_("Add an upstream key for this mode on the Keys page first."))
    offer = quote(mode, request)
    now = timezone.now()
    asked_random = request.seed == -1
    seed_used = _seed_to_send(mode, request.seed)
    if seed_used is not None:
        request = dataclasses.replace(request, seed=seed_used)  # as sent, in the params
    with transaction.atomic():
        generation = Generation.objects.create(
            team=team,
            created_by=user,
            credential=credential,
            retry_of=retry_of,
            extends=extends,
            from_draft=from_draft,
            batch=batch,
            mode=mode.name,
            req_key=mode.req_key,
            prompt=request.prompt,
            seconds=offer.seconds,
            auto_length=request.seconds == catalog.AUTO_DURATION,
            generate_audio=request.generate_audio,
            draft=request.draft,
            references=request.references,
            aspect_ratio=request.aspect_ratio or "",
            seed=-1 if seed_used is not None and asked_random else request.seed,
            seed_used=seed_used,
            resolution=request.resolution or "",
            template_id=request.template_id or "",
            camera_strength=request.camera_strength or "",
            image_urls=list(request.image_urls),
            params=_params(mode, request),
            price_cny_per_second=offer.price.cny_per_second,
            price_cny_per_million_tokens=offer.price.cny_per_million_tokens,
            price_is_estimate=offer.price.is_estimate,
            cost_cny=offer.cost_cny,
            estimated_cny=offer.cost_cny,
            tokens_estimated=offer.tokens,
            upstream_identifier=secrets.token_hex(16) if mode.is_ark else "",
            deadline_at=now + timedelta(seconds=settings.JOB_DEADLINE_SECONDS),
            next_action_at=None if frames else now,
        )
        reserve(team=team, generation=generation, user=user)
        gallery_totals.record_created(generation)
    if frames and not defer_frames:
        store_frames(generation, frames)
    _kick_later()
    log.info("job created", extra={"job": generation.pk, "team": team.pk})
    return generation


def _seed_to_send(mode: catalog.Mode, asked: int) -> int | None:
    """The seed a job sends: the one asked for, or a random one drawn here and recorded,
    so that "Reuse settings" makes the same video. None when the model picks its own
    (its answer tells which it used)."""
    if not mode.takes_seed:
        return None
    return asked if asked != -1 else secrets.randbelow(SEED_MAX + 1)


def store_frames(generation: Generation, frames: list[Frame]) -> None:
    try:
        for frame in frames:
            image = GenerationImage(
                generation=generation,
                position=frame.position,
                original_name=frame.original_name[:200],
                width=frame.width,
                height=frame.height,
                aspect_ratio=frame.aspect_ratio,
            )
            with frame.open_original() as original:
                image.original.save(f"original.{frame.original_extension}", File(original), False)
            image.fitted.save(f"fitted.{frame.fitted_extension}", ContentFile(frame.fitted), False)
            image.save()
    except (OSError, DatabaseError) as error:
        pipeline.fail(generation, "storage", str(error)[:200])
        for image in generation.images.all():
            image.original.delete(save=False)
            image.fitted.delete(save=False)
        raise Refused(
            _("The images could not be stored; nothing was charged. Try again.")
        ) from None
    Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
        next_action_at=timezone.now()
    )


def _kick_later() -> None:
    """Wake the dispatchers once committed. The job is already safe in the database; if
    the kick fails (database or broker briefly away), recovery picks the job up."""

    def kick() -> None:
        try:
            pipeline.kick()
        except Exception:
            log.warning(
                "could not wake the dispatchers; recovery will pick the job up", exc_info=True
            )

    once_committed(kick)


def start_variants(
    *,
    team: Team,
    user: Any,
    mode: catalog.Mode,
    requests: list[GenerationInput],
    frames: list[Frame],
    extends: Generation | None = None,
) -> list[Generation]:
    """Several jobs from one submit, all reserved or none: a refusal of any leaves
    nothing behind. The frames are stored once per job after the commit (the first
    job's copies are the source of the others')."""
    batch = secrets.token_hex(8)
    try:
        with transaction.atomic():
            jobs = [
                start_generation(
                    team=team,
                    user=user,
                    mode=mode,
                    request=request,
                    frames=frames,
                    extends=extends,
                    batch=batch,
                    defer_frames=True,
                )
                for request in requests
            ]
    except QuotaExceeded as refusal:
        offers = [quote(mode, request) for request in requests]
        raise QuotaExceeded(
            refusal.usage,
            sum((offer.cost_cny for offer in offers), Decimal("0.00")),
            sum(offer.seconds for offer in offers),
            team,
        ) from None
    if frames:
        for index, job in enumerate(jobs):
            try:
                store_frames(job, frames if index == 0 else frames_from_generation(jobs[0]))
            except Refused:
                for unstored in jobs[index + 1 :]:
                    pipeline.fail(unstored, "storage", "the images could not be stored")
                raise
    return jobs


def start_variants_from_form(form: Any, *, user: Any) -> list[Generation]:
    """The jobs of a valid GenerateForm: one, or its variants."""
    if len(form.variant_inputs) <= 1:
        return [start_from_form(form, user=user)]
    return start_variants(
        team=form.team,
        user=user,
        mode=form.mode_object,
        requests=form.variant_inputs,
        frames=form.frames,
        extends=form.extended,
    )


def start_from_form(form: Any, *, user: Any) -> Generation:
    """Start the job a valid GenerateForm describes (the web page and the API share it)."""
    return start_generation(
        team=form.team,
        user=user,
        mode=form.mode_object,
        request=form.request_input,
        frames=form.frames,
        extends=form.extended,
    )


def retry_generation(
    *, generation: Generation, user: Any, another_take: bool = False
) -> Generation:
    """Run a job again as a new generation with the same inputs and frames: a failed one
    as it was sent; with `another_take` (Regenerate, any job), a seed asked to be random
    is drawn again and a chosen one kept."""
    frames = frames_from_generation(generation)
    # Only counted by the checks: the frames' bytes go to storage, not the request.
    request = generation.request_input(tuple("…" for _ in frames))
    if another_take:
        request = dataclasses.replace(request, seed=generation.seed)
    return start_generation(
        team=generation.team,
        user=user,
        mode=generation.catalog_mode,
        request=request,
        frames=frames,
        retry_of=generation,
    )


def make_final(*, draft: Generation, user: Any) -> Generation:
    """The final video of a ready Ark draft: the same inputs at the model's resolution,
    made from the draft task (docs/upstream/ark.md, draft_task)."""
    if not draft.can_make_final:
        raise Refused(_("Only a ready draft can be made final."))
    mode = draft.catalog_mode
    assert mode.ark is not None
    if is_retired(mode):
        raise Refused(_("This model has been retired; make a new video instead."))
    request = GenerationInput(
        prompt=draft.prompt,
        seconds=catalog.AUTO_DURATION if draft.auto_length else draft.seconds,
        aspect_ratio=draft.aspect_ratio or None,
        resolution=mode.ark.default_resolution,
        generate_audio=draft.generate_audio,
        draft_task_id=draft.upstream_task_id,
    )
    return start_generation(
        team=draft.team, user=user, mode=mode, request=request, frames=[], from_draft=draft
    )


def chain_of(generation: Generation) -> list[Generation]:
    """Every part of the chain `generation` belongs to, in order: back to the video it
    started from, then forward along the first ready extension of each part."""
    jobs = Generation.objects.for_team(generation.team)
    first, behind = generation, {generation.pk}
    while first.extends_id and first.extends_id not in behind:
        parent = jobs.filter(pk=first.extends_id).first()
        if parent is None:
            break
        first = parent
        behind.add(first.pk)
    parts = [first]
    while True:
        following = (
            jobs.filter(extends=parts[-1], status=Status.READY)
            .exclude(pk__in=[part.pk for part in parts])
            .order_by("pk")
            .first()
        )
        if following is None:
            return parts
        parts.append(following)
