"""Helpers to make jobs and drive the real pipeline in the test process."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

import pytest

from generations.jimeng import catalog
from generations.jimeng.images import fit_image
from generations.jimeng.payload import GenerationInput
from generations.models import Generation, Status, Team
from generations.services import jobs, ledger, pipeline
from generations.services.frames import EXTENSIONS, Frame
from tests import images


def frame(position: int, data: bytes, name: str = "frame.jpg") -> Frame:
    import io

    fitted = fit_image(data)
    return Frame(
        position,
        lambda: io.BytesIO(data),
        name,
        EXTENSIONS[fitted.original_format],
        fitted.data,
        fitted.extension,
        fitted.width,
        fitted.height,
        fitted.aspect_ratio,
    )


def make_job(
    team: Team,
    mode: str = "t2v_720p",
    prompt: str = "a kite over the lake",
    *,
    user: Any = None,
    frames: list[Frame] | None = None,
    **fields: Any,
) -> Generation:
    chosen = catalog.get_mode(mode)
    frames = (
        frames
        if frames is not None
        else ([frame(0, images.solid(1280, 720))] if chosen.min_images else [])
    )
    if chosen.min_images == 2 and len(frames) == 1:
        frames.append(frame(1, images.solid(1280, 720, (20, 20, 200))))
    request = GenerationInput(
        prompt=prompt,
        seconds=fields.pop("seconds", chosen.default_duration),
        images_base64=tuple("…" for _ in frames),
        image_ratios=tuple(f.aspect_ratio for f in frames),
        template_id="robo_arm" if chosen.camera else None,
        **fields,
    )
    return jobs.start_generation(team=team, user=user, mode=chosen, request=request, frames=frames)


def drive(
    ids: Iterable[int], *, timeout: float = 30.0, owner: str = "test-dispatcher"
) -> list[Generation]:
    """Run dispatcher rounds and archive steps until every job is finished."""
    ids = list(ids)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pipeline.dispatch_round(owner)
        for generation in Generation.objects.filter(pk__in=ids, status=Status.DOWNLOADING):
            pipeline.archive(generation.pk)
        jobs = list(Generation.objects.filter(pk__in=ids).order_by("pk"))
        if all(job.is_terminal for job in jobs):
            return jobs
        time.sleep(0.05)
    states = {job.pk: job.status for job in Generation.objects.filter(pk__in=ids)}
    pytest.fail(f"jobs did not finish in {timeout}s: {states}")


FAST_PIPELINE = {
    "POLL_EXPECTED_SECONDS": 0.4,
    "POLL_MIN_INTERVAL": 0.1,
    "POLL_MAX_INTERVAL": 1.0,
    "UPSTREAM_QPS": 100.0,
    "JIMENG_QUERY_TIMEOUT": 2.0,
    "JIMENG_SUBMIT_TIMEOUT": 5.0,
}


def media_files() -> set[str]:
    """Every file in media storage, to check that nothing was left behind."""
    from django.core.files.storage import default_storage

    found: set[str] = set()

    def walk(path: str) -> None:
        if path and not default_storage.exists(path):
            return
        directories, files = default_storage.listdir(path)
        found.update(f"{path}/{name}".lstrip("/") for name in files)
        for directory in directories:
            walk(f"{path}/{directory}".lstrip("/"))

    walk("")
    return found


def mark_ready(
    job: Generation,
    *,
    video: bytes = b"0123456789" * 100,
    poster: bytes | None = None,
    **fields: Any,
) -> Generation:
    """Finish a job as the archive step would, with stand-in files: media stored under
    the job's names, the row ready, the cost settled, the gallery totals kept."""
    import io

    from django.core.files.storage import default_storage
    from django.db import transaction
    from django.utils import timezone

    from generations.models import poster_path, video_path
    from generations.services import gallery_totals

    names = {video_path(job): video, poster_path(job): poster or images.solid(320, 180)}
    for name, data in names.items():
        if default_storage.exists(name):
            default_storage.delete(name)
        default_storage.save(name, io.BytesIO(data))
    with transaction.atomic():
        Generation.objects.filter(pk=job.pk).update(
            status=Status.READY,
            video=video_path(job),
            poster=poster_path(job),
            finished_at=timezone.now(),
            **{"video_width": 1280, "video_height": 720, **fields},
        )
        ledger.settle(job)
        gallery_totals.record_finished(job, Status.READY)
    job.refresh_from_db()
    return job
