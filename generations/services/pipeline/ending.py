"""Ending a job: failed (with a reason), cancelled before it was sent, or cancelled
upstream (Ark); each releases the reservation, once."""

from __future__ import annotations

import logging

from django.core.files.storage import default_storage
from django.db import transaction

from generations.jimeng.client import ArkClient
from generations.jimeng.errors import JimengError
from generations.models import (
    ACTIVE,
    POLLED,
    Generation,
    NotificationKind,
    Status,
    WebhookEvent,
    last_frame_path,
    poster_path,
    video_path,
)
from generations.services import (
    gallery_totals,
    ledger,
    notifications,
    webhooks,
)
from generations.services.pipeline import base

log = logging.getLogger("generations.pipeline")  # the name operators filter on


# --- ending a job --------------------------------------------------------------------


def _remove_media(generation: Generation) -> None:
    for name in (video_path(generation), poster_path(generation), last_frame_path(generation)):
        try:
            default_storage.delete(name)
        except OSError:
            log.warning("could not delete %s", name, extra=base.context(generation))


def fail(
    generation: Generation,
    code: str,
    detail: str = "",
    *,
    from_statuses: tuple[str, ...] = ACTIVE,
    owner: str | None = None,
) -> bool:
    """End the job with a reason and release its reservation, once."""
    rows = Generation.objects.filter(pk=generation.pk, status__in=from_statuses)
    if owner is not None:
        rows = rows.filter(lease_owner=owner)
    with transaction.atomic():
        changed = rows.update(
            status=Status.FAILED,
            failure_code=code[:40],
            failure_detail=detail[:300],
            finished_at=base.now(),
            next_action_at=None,
            lease_until=None,
            lease_owner="",
        )
        if changed:
            ledger.release(generation, f"{code}: {detail}"[:200])
            gallery_totals.record_finished(generation, Status.FAILED)
            webhooks.job_event(generation.pk, WebhookEvent.JOB_FAILED)
            notifications.job_finished(generation.pk, NotificationKind.JOB_FAILED)
    if changed:
        _remove_media(generation)
        log.info("job failed: %s %s", code, detail, extra=base.context(generation, code=code))
    return bool(changed)


def cancel(generation: Generation) -> bool:
    """Cancel a job that has not been sent upstream yet."""
    with transaction.atomic():
        changed = Generation.objects.filter(pk=generation.pk, status=Status.QUEUED).update(
            status=Status.CANCELLED, finished_at=base.now(), next_action_at=None, lease_until=None
        )
        if changed:
            ledger.release(generation, "cancelled")
            gallery_totals.record_finished(generation, Status.CANCELLED)
    return bool(changed)


def cancel_upstream(generation: Generation) -> bool:
    """Cancel an Ark job whose task is still queued upstream (DELETE turns a queued task
    into cancelled; a running one is refused), and release its reservation."""
    credential = generation.credential
    client = credential.client() if credential else None
    waiting = generation.status == Status.SUBMITTED and generation.upstream_status in (
        "",
        "in_queue",
    )
    if not (isinstance(client, ArkClient) and waiting and generation.upstream_task_id):
        return False
    try:
        client.cancel(generation.upstream_task_id)
    except JimengError as error:
        log.info("upstream refused to cancel: %s", error, extra=base.context(generation))
        return False
    with transaction.atomic():
        changed = Generation.objects.filter(pk=generation.pk, status__in=POLLED).update(
            status=Status.CANCELLED, finished_at=base.now(), next_action_at=None, lease_until=None
        )
        if changed:
            ledger.release(generation, "cancelled upstream")
            gallery_totals.record_finished(generation, Status.CANCELLED)
    return bool(changed)
