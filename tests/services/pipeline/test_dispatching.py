"""Dispatching (services/pipeline/dispatching.py): the fair order, the upstream's rate,
slices of time, waking a dispatcher for every new job."""

from __future__ import annotations

import time

import pytest

from generations.models import Generation, Status
from generations.services import pipeline
from generations.services.pipeline import upstream_rate
from tests.cast import add_credential
from tests.pipeline import make_job
from tests.services.pipeline.helpers import queued_dispatchers


@pytest.fixture
def other_team_key(studio, emulator):
    add_credential(studio.other_team, emulator.volcengine_url)
    studio.other_team_with_key = studio.other_team
    return studio


def test_fair_order_serves_every_team(studio, emulator, settings, other_team_key) -> None:
    settings.UPSTREAM_QPS = 1000.0
    big = [make_job(studio.team) for _ in range(8)]
    small = make_job(studio.other_team_with_key)
    pipeline.dispatch_round("d", batch=2)  # room for two actions only
    small.refresh_from_db()
    assert small.status == Status.SUBMITTED  # not behind the big team's eight
    assert (
        Generation.objects.filter(pk__in=[g.pk for g in big], status=Status.SUBMITTED).count() == 1
    )


def test_dispatch_respects_the_upstream_rate(studio, emulator, settings, other_team_key) -> None:
    settings.UPSTREAM_QPS = 2.0
    for _ in range(6):
        make_job(studio.team)
    pipeline.dispatch_round("d")
    # One token in the bucket, then one every half second: a round waits for the rate
    # (ROUND_PATIENCE_SECONDS of it) and leaves the rest to the next round.
    paced = 2.0 * upstream_rate.HEADROOM  # calls a second, with the limiter's headroom
    calls = sorted(call["at"] for call in emulator.store.calls("submit"))
    # One at once, then as the tokens come, for about a second of patience (how many
    # fit depends on how long each call takes): never all six.
    assert 2 <= len(calls) <= 1 + pipeline.ROUND_PATIENCE_SECONDS * paced + 1
    # Sent 1 / paced apart (arrivals jitter by the first request's longer latency).
    assert calls[-1] - calls[0] >= (len(calls) - 1) / paced - 0.2, calls
    assert Generation.objects.filter(status=Status.QUEUED).count() == 6 - len(calls)


@pytest.mark.django_db(transaction=True)
def test_a_job_made_just_after_a_dispatcher_finished_still_wakes_one(cast, settings) -> None:
    """A dispatcher that finds nothing to do ends at once. A job made a moment later
    must start a dispatcher again, though the kick marker of the first kick is young."""
    from django_q.brokers import get_broker

    add_credential(cast.team)
    get_broker().purge_queue()
    first = make_job(cast.team)  # its kick ran on commit and started the dispatchers
    assert queued_dispatchers() == settings.DISPATCH_SLOTS
    assert pipeline.cancel(first)
    for slot in range(settings.DISPATCH_SLOTS):  # they run, find nothing and end
        assert pipeline.dispatch(slot) == "0 actions"
    get_broker().purge_queue()
    make_job(cast.team)  # within the markers' 5 s
    assert queued_dispatchers() == settings.DISPATCH_SLOTS
    get_broker().purge_queue()


def test_a_dispatch_round_takes_no_new_work_after_its_slice(studio, emulator) -> None:
    for _ in range(3):
        make_job(studio.team)
    round_ = pipeline.dispatch_round("d", until=time.monotonic() - 1)
    assert round_.actions == 0 and emulator.submits() == 0
    assert Generation.objects.filter(status=Status.QUEUED, lease_owner="").count() == 3
