"""A worker's start (services/pipeline/workers.py): it resumes the pipeline at once."""

from __future__ import annotations

import pytest
from django.utils import timezone
from django_q.models import Schedule

from generations.models import Generation, Status
from generations.services import pipeline
from tests.cast import add_credential
from tests.pipeline import make_job
from tests.queue import queued_tasks
from tests.services.pipeline.helpers import queued_dispatchers

ARCHIVE = pipeline.archive


def test_a_worker_start_hands_out_downloads_its_dead_predecessor_had_taken(studio) -> None:
    """A Redis broker forgets the tasks a killed cluster had taken off the queue: the
    job sits in downloading, handed out a moment ago, held by nobody. The next start
    hands it out again at once (not a minute later through the sweeper), once per
    start, and puts back a sweeper schedule that went missing."""
    job = make_job(studio.team)
    while job.status != Status.DOWNLOADING:
        pipeline.dispatch_round("d")
        job.refresh_from_db()
    Generation.objects.filter(pk=job.pk).update(next_action_at=timezone.now())
    Schedule.objects.filter(name=pipeline.SWEEPER).delete()
    queued_tasks()
    assert pipeline.recover()["archives"] == 0  # the sweeper's grace: maybe just handed out

    pipeline.resume_at_worker_start()
    pipeline.resume_at_worker_start()  # a second worker of the same start

    assert [t["args"] for t in queued_tasks() if t["func"] == ARCHIVE] == [(job.pk,)]
    sweeper = Schedule.objects.get(name=pipeline.SWEEPER)
    sweep = "generations.services.pipeline.workers.sweep"
    assert (sweeper.func, sweeper.minutes, sweeper.repeats) == (sweep, 1, -1)
    pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == Status.READY


@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_starts_dispatchers_even_after_a_recent_kick(cast, settings) -> None:
    """A crash right after a kick leaves the kick marker and a dead dispatcher's lease
    behind; the next worker start must still start dispatchers, once."""
    from django_q.brokers import get_broker

    from generations.models import WorkerLease

    add_credential(cast.team)
    get_broker().purge_queue()
    make_job(cast.team)  # its kick ran on commit
    before = queued_dispatchers()
    assert before == settings.DISPATCH_SLOTS
    WorkerLease.acquire("dispatch:0", "a-dead-worker", 30)
    assert pipeline.kick() == 0  # an ordinary kick is held back by the marker and the lease
    assert pipeline.kick(after_start="host:1234") == settings.DISPATCH_SLOTS
    assert pipeline.kick(after_start="host:1234") == 0  # the other workers of that start
    assert queued_dispatchers() == before + settings.DISPATCH_SLOTS
    get_broker().purge_queue()
