"""Picking up what dead workers dropped; safe to run any time, from anywhere."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from generations.models import (
    ACTIVE,
    Generation,
    Status,
    WorkerLease,
)
from generations.services import (
    webhooks,
)
from generations.services.pipeline import base
from generations.services.pipeline.archiving import enqueue_archive
from generations.services.pipeline.checking import start_checking
from generations.services.pipeline.ending import fail

log = logging.getLogger("generations.pipeline")  # the name operators filter on


# --- recovery -------------------------------------------------------------------------


def recover() -> dict[str, int]:
    """Pick up what dead workers dropped. Safe to run any time, from anywhere."""
    now = base.now()
    report = {"archives": 0, "unknown_submits": 0, "abandoned": 0, "stalled_uploads": 0}
    # One handed out moments ago is left to the worker about to take it.
    report["archives"] = requeue_downloads(grace=min(30.0, settings.ARCHIVE_LEASE_SECONDS))
    for generation in Generation.objects.filter(status=Status.SUBMITTING, lease_until__lt=now):
        # The worker died while sending: the task may exist upstream. Never resend
        # blindly: an Ark task can be looked for; any other is given up.
        if generation.catalog_mode.is_ark and start_checking(
            generation, "the worker stopped while submitting", from_status=Status.SUBMITTING
        ):
            report["unknown_submits"] += 1
            continue
        if fail(
            generation,
            "submit_unknown",
            "the worker stopped while submitting; not resent",
            from_statuses=(Status.SUBMITTING,),
        ):
            report["unknown_submits"] += 1
    stalled = Generation.objects.filter(
        status=Status.QUEUED,
        next_action_at__isnull=True,
        created_at__lt=now - timedelta(seconds=settings.UPLOAD_GRACE_SECONDS),
    )
    for generation in stalled:
        report["stalled_uploads"] += fail(
            generation,
            "upload_interrupted",
            "the upload did not finish",
            from_statuses=(Status.QUEUED,),
        )
    for generation in Generation.objects.filter(status__in=ACTIVE, deadline_at__lt=now):
        report["abandoned"] += fail(generation, "deadline", "no result before the deadline")
    report["webhooks"] = webhooks.requeue_due()
    # Markers of past worker starts are only kept to deduplicate one start.
    WorkerLease.objects.filter(
        name__startswith="kick:", expires_at__lt=now - timedelta(hours=1)
    ).delete()
    return report


def requeue_downloads(*, grace: float) -> int:
    """Hand back to the workers every download nobody holds (its worker died, or its
    task was lost: a Redis broker forgets tasks a killed cluster had taken) and that
    was last handed out more than `grace` seconds ago. A download handed out twice is
    harmless: `archive` claims the job's lease, and the second copy finds it taken."""
    now = base.now()
    handed_out_before = now - timedelta(seconds=grace)
    stale = (
        Generation.objects.filter(status=Status.DOWNLOADING)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .filter(Q(next_action_at__isnull=True) | Q(next_action_at__lt=handed_out_before))
    )
    ids = list(stale.values_list("pk", flat=True))
    for generation_id in ids:
        Generation.objects.filter(pk=generation_id).update(next_action_at=now)
        enqueue_archive(generation_id)
    return len(ids)
