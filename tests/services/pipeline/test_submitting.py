"""Submitting (services/pipeline/submitting.py): exactly once; what busy, refusing and
unknown answers do to the job, and which use up its tries."""

from __future__ import annotations

import signal

import pytest
from django.core.files.storage import default_storage

from generations.models import Generation, Status
from generations.services import pipeline
from tests import images
from tests.cast import add_credential
from tests.pipeline import FAST_PIPELINE, drive, frame, make_job
from tests.services.pipeline.helpers import ledger_kinds


def test_image_mode_sends_the_fitted_frames(studio, emulator) -> None:
    job = make_job(
        studio.team,
        "i2v_first_tail_720p",
        frames=[
            frame(0, images.solid(2560, 1440, (220, 20, 20))),
            frame(1, images.solid(1280, 720, (20, 20, 220)), "last.png"),
        ],
    )
    stored = list(job.images.order_by("position"))
    assert [i.aspect_ratio for i in stored] == ["16:9", "16:9"]
    assert all(
        default_storage.exists(i.original.name) and default_storage.exists(i.fitted.name)
        for i in stored
    )
    (job,) = drive([job.pk])
    assert job.status == Status.READY and (job.video_width, job.video_height) == (1280, 720)
    assert '"binary_data_base64": "<2 image(s)>"' in emulator.store.tasks()[0].body


def test_text_risk_on_submit_fails_without_retrying(studio, emulator) -> None:
    job = make_job(studio.team, prompt="a cat [risk:text]")
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "50412")
    assert ledger_kinds(job) == ["reserve", "release"]
    assert len(emulator.store.calls("submit")) == 1


def test_busy_submit_is_sent_again_later_because_no_task_was_made(studio, emulator) -> None:
    job = make_job(studio.team, prompt="busy submit [sandbox:submit-faults=50429,50500]")
    (job,) = drive([job.pk])
    assert job.status == Status.READY and job.attempts >= 3
    submits = emulator.store.calls("submit")
    assert [row["code"] for row in submits] == [50429, 50500, 10000]
    assert len(emulator.store.tasks()) == 1


def test_rate_limits_never_use_up_a_jobs_tries_but_errors_do(studio, emulator) -> None:
    """A burst meets the account's limits as long as earlier jobs run: "not now" is no
    reason to fail a job. Ten limits in a row (more than MAX_SUBMIT_ATTEMPTS) and the job
    is still made; eight internal errors and it fails, released."""
    limits = ",".join(["50429"] * 10)
    waited = make_job(studio.team, prompt=f"limited [sandbox:submit-faults={limits}]")
    (waited,) = drive([waited.pk])
    assert waited.status == Status.READY and waited.attempts > pipeline.MAX_SUBMIT_ATTEMPTS
    errors = ",".join(["50500"] * pipeline.MAX_SUBMIT_ATTEMPTS)
    broken = make_job(studio.team, prompt=f"broken [sandbox:submit-faults={errors}]")
    (broken,) = drive([broken.pk])
    assert (broken.status, broken.failure_code) == (Status.FAILED, "50500")
    assert ledger_kinds(broken) == ["reserve", "release"]


def test_submit_read_timeout_is_never_resent(studio, emulator, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.0
    settings.JIMENG_SUBMIT_TIMEOUT = 0.3
    job = make_job(studio.team, prompt="slow submit [sandbox:submit-faults=slow]")
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "submit_unknown")
    assert "not sent again" in job.failure_reason
    assert len(emulator.store.calls("submit")) == 1


def test_a_task_timeout_cannot_cut_a_submit_in_half(studio, emulator) -> None:
    """django-q2 ends an overrunning task by raising from SIGALRM. If that landed between
    the upstream accepting a job and its task id being stored, the job would be paid for
    and lost. The alarm waits until the submit is recorded, then goes off."""

    class TaskTimeout(Exception):
        pass

    def on_alarm(signum, frame):  # type: ignore[no-untyped-def]
        raise TaskTimeout

    job = make_job(studio.team)
    Generation.objects.filter(pk=job.pk).update(lease_owner="d")
    previous = signal.signal(signal.SIGALRM, on_alarm)
    try:
        signal.setitimer(signal.ITIMER_REAL, 0.001)  # due long before the request returns
        with pytest.raises(TaskTimeout):
            pipeline.submit(job, "d")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    job.refresh_from_db()
    assert job.status == Status.SUBMITTED and job.upstream_task_id
    assert [task.id for task in emulator.store.tasks()] == [job.upstream_task_id]


def test_limits_met_before_an_error_leave_the_job_all_its_tries(studio) -> None:
    """Eight busy answers, then one internal error: the job is made (the limits used up
    none of its tries; the error used one)."""
    faults = ",".join(["50429", "50430"] * (pipeline.MAX_SUBMIT_ATTEMPTS // 2) + ["50500"])
    job = make_job(studio.team, prompt=f"busy hour [sandbox:submit-faults={faults}]")
    (job,) = drive([job.pk])
    assert job.status == Status.READY
    assert (job.attempts, job.submit_errors) == (pipeline.MAX_SUBMIT_ATTEMPTS + 2, 1)
    studio.owner.is_staff = True
    studio.owner.save(update_fields=["is_staff"])
    page = studio.client("owner").get(f"/t/team-a/jobs/{job.pk}/").content.decode()
    assert 'data-testid="submit-tries"' in page  # operators see the tries and the errors
    member_page = studio.client("member").get(f"/t/team-a/jobs/{job.pk}/").content.decode()
    assert 'data-testid="submit-tries"' not in member_page


def test_an_allowed_host_on_an_internal_address_fails_the_job_at_once_saying_so(
    cast, emulator, settings
) -> None:
    """A refused address is refused the same way every time: no deferred retries; and
    the reason says what happened (the host is allowed, its address is not)."""
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    settings.UPSTREAM_ALLOWED_HOSTS = ["localhost"]
    add_credential(cast.team, "http://localhost:9/api/")  # not the emulator's port
    job = make_job(cast.team)
    pipeline.dispatch_round("d")
    job.refresh_from_db()
    assert (job.status, job.failure_code, job.attempts) == (Status.FAILED, "address_private", 1)
    assert "resolves to a loopback or private address" in job.failure_reason
    assert ledger_kinds(job) == ["reserve", "release"]
