"""Polling (services/pipeline/polling.py): what each answer of the upstream does to a
job; a failed query never ends one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.utils import timezone

from generations.models import Generation, Status
from generations.services import pipeline
from tests.pipeline import drive, make_job
from tests.services.pipeline.helpers import ledger_kinds


def test_queries_record_when_the_task_was_last_seen_running(studio, emulator) -> None:
    job = make_job(studio.team, prompt="a slow kite [sandbox:seconds=2]")
    (job,) = drive([job.pk])
    assert job.polls >= 2
    assert job.submitted_at < job.upstream_running_at < job.upstream_done_at
    assert (job.upstream_done_at - job.upstream_running_at).total_seconds() < 1.5


def test_output_risk_fails_with_reason_and_releases(studio) -> None:
    job = make_job(studio.team, prompt="a cat [risk:video]")
    (job,) = drive([job.pk])
    assert job.status == Status.FAILED and job.failure_code == "50516"
    assert "did not pass content review" in job.failure_reason
    assert ledger_kinds(job) == ["reserve", "release"]
    assert studio.team.usage().reserved_cny == Decimal("0.00")


def test_busy_queries_never_fail_a_job(studio, emulator) -> None:
    job = make_job(studio.team, prompt="busy [sandbox:faults=50429,50500,50429,50500]")
    (job,) = drive([job.pk])
    assert job.status == Status.READY
    codes = [row["code"] for row in emulator.store.calls("query")]
    assert codes[:4] == [50429, 50500, 50429, 50500]
    assert ledger_kinds(job) == ["reserve", "settle"]


def test_query_timeouts_are_retried(studio, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.0
    settings.JIMENG_QUERY_TIMEOUT = 0.3
    job = make_job(studio.team, prompt="slow [sandbox:faults=slow,slow]")
    (job,) = drive([job.pk])
    assert job.status == Status.READY and job.polls >= 3


@pytest.mark.parametrize(("marker", "code"), [("[sandbox:expired]", "expired")])
def test_expired_task_ends_the_job(studio, marker, code) -> None:
    (job,) = drive([make_job(studio.team, prompt=f"x {marker}").pk])
    assert (job.status, job.failure_code) == (Status.FAILED, code)
    assert ledger_kinds(job) == ["reserve", "release"]


def test_unknown_task_ends_the_job(studio) -> None:
    job = make_job(studio.team)
    pipeline.dispatch_round("d")
    Generation.objects.filter(pk=job.pk).update(
        upstream_task_id="4242", next_action_at=timezone.now()
    )
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "not_found")
