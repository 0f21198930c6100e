"""Archiving (services/pipeline/archiving.py): the download of a finished video."""

from __future__ import annotations

from django.core.files.storage import default_storage

from generations.models import Status
from tests.pipeline import drive, make_job
from tests.services.pipeline.helpers import ledger_kinds


def test_link_that_expired_before_download_fails_clearly(studio, settings) -> None:
    settings.SANDBOX_URL_TTL_SECONDS = 0
    job = make_job(studio.team)
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "link_expired")
    assert "link expired" in job.failure_reason
    assert ledger_kinds(job) == ["reserve", "release"]
    assert not default_storage.exists(f"videos/{job.team_id}/{job.pk}.mp4")
