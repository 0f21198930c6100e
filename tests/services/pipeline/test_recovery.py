"""Recovery (services/pipeline/recovery.py): what dead workers dropped is picked up;
a submit whose outcome is unknown is never resent; a deadline ends a job."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from generations.models import Generation, Status
from generations.services import pipeline
from tests.pipeline import make_job
from tests.services.pipeline.helpers import ledger_kinds


def test_worker_dying_mid_submit_is_an_unknown_outcome(studio, emulator) -> None:
    job = make_job(studio.team)
    Generation.objects.filter(pk=job.pk).update(
        status=Status.SUBMITTING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    report = pipeline.recover()
    job.refresh_from_db()
    assert report["unknown_submits"] == 1
    assert (job.status, job.failure_code) == (Status.FAILED, "submit_unknown")
    assert emulator.submits() == 0 and ledger_kinds(job) == ["reserve", "release"]


def test_archive_dropped_by_a_dead_worker_is_picked_up(studio) -> None:
    job = make_job(studio.team)
    while job.status != Status.DOWNLOADING:
        pipeline.dispatch_round("d")
        job.refresh_from_db()
    # A worker claimed the download, then died: its lease runs out.
    Generation.objects.filter(pk=job.pk).update(
        lease_owner="dead",
        lease_until=timezone.now() - timedelta(seconds=1),
        next_action_at=timezone.now() - timedelta(minutes=5),
    )
    assert pipeline.recover()["archives"] == 1  # queued for a worker again
    assert pipeline.recover()["archives"] == 0  # and not again while that is pending
    pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == Status.READY and ledger_kinds(job) == ["reserve", "settle"]


def test_deadline_abandons_a_job(studio) -> None:
    job = make_job(studio.team)
    Generation.objects.filter(pk=job.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    assert pipeline.recover()["abandoned"] == 1
    job.refresh_from_db()
    assert (job.status, job.failure_code) == (Status.FAILED, "deadline")
