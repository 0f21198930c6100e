"""The poll schedule (services/pipeline/schedule.py): learned from recent jobs, from
when they finished, not from when the studio looked."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from generations.models import Generation
from tests.pipeline import make_job


def test_learned_schedule_follows_recent_jobs(studio, settings) -> None:
    from django.core.cache import cache

    from generations.services.pipeline import schedule

    cache.clear()
    now = timezone.now()
    for seconds in (10, 12, 14, 16, 18, 20):
        job = make_job(studio.team)
        Generation.objects.filter(pk=job.pk).update(
            submitted_at=now - timedelta(seconds=seconds),
            upstream_running_at=now - timedelta(seconds=1),
            upstream_done_at=now,
        )
    expected = schedule.expectation("t2v_720p", 5)
    assert 11 <= expected.early <= 13 and 14 <= expected.median <= 16
    assert schedule.expectation("t2v_720p", 10) != expected  # 10 s videos are learned apart
    assert schedule.first_delay(job) == pytest.approx(expected.early)
    early, late = schedule.next_delay(job, 5), schedule.next_delay(job, 30)
    assert early > late  # queries come closer together as the job runs long
    settings.POLL_FIXED_INTERVAL = 7.0
    assert schedule.first_delay(job) == schedule.next_delay(job, 30) == 7.0


def test_the_schedule_learns_when_jobs_finished_not_when_it_looked(studio) -> None:
    """Jobs that the first query, 45 s after the submit, already found done finished
    somewhere in those 45 s: learning "45 s" would keep the first query there for ever."""
    from django.core.cache import cache

    from generations.services.pipeline import schedule

    cache.clear()
    now = timezone.now()
    for _ in range(6):
        job = make_job(studio.team)
        Generation.objects.filter(pk=job.pk).update(
            submitted_at=now - timedelta(seconds=45), upstream_done_at=now
        )
    learned = schedule.expectation("t2v_720p", 5)
    assert learned.median == pytest.approx(22.5)
    assert schedule.first_delay(job) < 45


def test_a_new_studio_learns_once_its_first_jobs_finish(studio, settings, monkeypatch) -> None:
    """The cold default is cached only briefly; what is learned, for longer."""
    from django.core.cache import cache

    from generations.services.pipeline import schedule

    cache.clear()
    monkeypatch.setattr(schedule, "DEFAULT_CACHE_SECONDS", 1)
    settings.POLL_EXPECTED_SECONDS = 60
    assert schedule.expectation("t2v_720p", 5).median == 60  # no history yet
    now = timezone.now()
    for seconds in (10, 12, 14, 16, 18, 20):
        job = make_job(studio.team)
        Generation.objects.filter(pk=job.pk).update(
            submitted_at=now - timedelta(seconds=seconds), upstream_done_at=now
        )
    time.sleep(1.2)
    learned = schedule.expectation("t2v_720p", 5)
    assert learned.median == pytest.approx(7.5)  # noticed after 10–20 s: 5–10 s by midpoints
    Generation.objects.update(upstream_done_at=None)  # the history gone
    time.sleep(1.2)
    assert schedule.expectation("t2v_720p", 5) == learned  # kept for CACHE_SECONDS
