"""A worker's life: resuming the pipeline when it starts, and the periodic sweeper."""

from __future__ import annotations

import logging
import os
import uuid

from django.db import DatabaseError
from django_q.models import Schedule

from generations.models import (
    WorkerLease,
)
from generations.services import (
    held_frames,
)
from generations.services.pipeline.dispatching import kick
from generations.services.pipeline.recovery import recover, requeue_downloads

log = logging.getLogger("generations.pipeline")  # the name operators filter on


SWEEPER = "studio sweeper"  # the schedule row; created by migration 0002


def ensure_sweeper() -> None:
    """Put the sweeper's schedule back if it went missing (deleted in the admin, or a
    database restored without it): without it, dropped work waits for a dispatcher."""
    Schedule.objects.get_or_create(
        name=SWEEPER,
        defaults={
            "func": f"{sweep.__module__}.{sweep.__name__}",  # the function, by its path
            "schedule_type": Schedule.MINUTES,
            "minutes": 1,
            "repeats": -1,
        },
    )


def resume_at_worker_start(**_: object) -> None:
    """A worker that (re)starts resumes the pipeline at once instead of waiting for the
    sweeper: after a crash, dispatchers come back within one lease, and downloads the
    dead cluster had taken are handed out again."""
    # The cluster's workers share their parent process: it names this start.
    start = f"{os.uname().nodename}:{os.getppid()}"
    try:
        # The first worker of this start does the cluster-wide part (the marker is swept
        # with the kick markers after an hour).
        if WorkerLease.acquire(f"kick:resume:{start}", uuid.uuid4().hex, 3600):
            ensure_sweeper()
            requeue_downloads(grace=0)
        kick(after_start=start)
    except DatabaseError:
        log.warning("could not resume the pipeline at worker start; the sweeper will")


def sweep() -> dict[str, int]:
    report = recover()
    # Frames kept for a form that came back with an error live a day; looked at hourly.
    if WorkerLease.acquire("sweep:held-frames", uuid.uuid4().hex, 3600):
        report["held_frames_removed"] = held_frames.purge()
    report["dispatchers_started"] = kick()
    return report
