"""A job's whole life in this process against the emulator over real HTTP: queued,
submitted, polled, archived and settled; every step safe to run twice."""

from __future__ import annotations

from django.core.files.storage import default_storage

from generations.jimeng.probe import probe
from generations.models import Status
from generations.services import ledger, pipeline
from tests.pipeline import drive, make_job
from tests.services.pipeline.helpers import ledger_kinds


def test_a_job_goes_from_queued_to_ready_and_is_settled(studio, emulator) -> None:
    job = make_job(studio.team, "t2v_720p", aspect_ratio="9:16", user=studio.member)
    assert job.status == Status.QUEUED and ledger_kinds(job) == ["reserve"]
    (job,) = drive([job.pk])
    assert job.status == Status.READY
    assert job.upstream_task_id and job.upstream_request_id and job.aigc_meta_tagged is True
    assert (job.video_width, job.video_height, job.video_frames, job.video_fps) == (
        720,
        1280,
        121,
        24,
    )
    assert default_storage.exists(job.video.name) and default_storage.exists(job.poster.name)
    with default_storage.open(job.video.name) as handle:
        info = probe(handle.name)
    assert info.frames == 121
    assert ledger_kinds(job) == ["reserve", "settle"]
    assert emulator.submits() == 1
    assert job.polls >= 1 and job.upstream_done_at and job.finished_at


def test_every_step_can_run_twice_without_double_work(studio, emulator) -> None:
    job = make_job(studio.team)
    pipeline.dispatch_round("first")
    pipeline.dispatch_round("second")  # nothing left to submit: no second submit
    assert emulator.submits() == 1
    job = drive([job.pk])[0]
    pipeline.archive(job.pk)  # a redelivered archive task finds nothing to do
    pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == Status.READY and ledger_kinds(job) == ["reserve", "settle"]
    assert ledger.settle(job) is None
