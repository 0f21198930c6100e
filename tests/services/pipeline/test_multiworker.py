"""Three qcluster processes on PostgreSQL + Redis share 100 jobs from three teams
(80 / 15 / 5) against the emulator at 5 requests per second."""

from __future__ import annotations

import statistics

import pytest
from django.conf import settings
from django.db import connection

from generations.models import Generation, Status
from tests.cast import add_credential
from tests.pipeline import make_job
from tests.workers import wait_for

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        connection.vendor != "postgresql" or settings.Q_BROKER != "redis",
        reason="runs on PostgreSQL with the Redis broker (CI's second pass)",
    ),
]
QPS = 5
BURST = 2


def _peak_per_second(times: list[float]) -> int:
    """The most calls in any one-second window."""
    times = sorted(times)
    peak, start = 0, 0
    for end, moment in enumerate(times):
        while times[start] <= moment - 1.0:
            start += 1
        peak = max(peak, end - start + 1)
    return peak


def test_three_workers_share_the_load_fairly_within_the_rate(
    cast, emulator, settings, start_worker
) -> None:
    settings.SANDBOX_QPS = QPS
    settings.SANDBOX_GENERATION_SECONDS = 2
    settings.SANDBOX_GENERATION_SECONDS_MAX = 4
    teams = {"big": (cast.team, 80), "medium": (cast.other_team, 15)}
    from generations.models import Team

    teams["small"] = (Team.objects.create(name="Team C", slug="team-c"), 5)
    for team, _ in teams.values():
        team.quota_cny = None
        team.save()
        add_credential(team, emulator.volcengine_url)  # one upstream account for all three
    overrides = {
        "UPSTREAM_QPS": str(QPS),
        "Q_WORKERS": "2",
        "POLL_EXPECTED_SECONDS": "3",
        "POLL_MIN_INTERVAL": "1",
        "DISPATCH_SLICE_SECONDS": "10",
    }
    workers = [start_worker(**overrides) for _ in range(3)]
    # The worst order for a first-come queue: all of the big team's jobs first.
    jobs = {
        name: [make_job(team, prompt=f"{name} {n}").pk for n in range(count)]
        for name, (team, count) in teams.items()
    }

    wait_for(
        lambda: Generation.objects.exclude(status__in=(Status.READY, Status.FAILED)).count() == 0,
        300,
        "every job to finish",
        workers[0],
    )

    failed = list(
        Generation.objects.filter(status=Status.FAILED).values_list(
            "pk", "failure_code", "failure_detail"
        )
    )
    assert not failed, failed
    tasks = emulator.store.tasks()
    assert len(tasks) == 100  # one submit per job, whichever of the three workers sent it
    assert sorted(t.id for t in tasks) == sorted(
        Generation.objects.values_list("upstream_task_id", flat=True)
    )
    calls = emulator.store.calls()
    peak = _peak_per_second([row["at"] for row in calls])
    refused = sum(1 for row in calls if row["http_status"] == 429)
    waits = {
        name: statistics.median(
            (job.submitted_at - job.created_at).total_seconds()
            for job in Generation.objects.filter(pk__in=ids)
        )
        for name, ids in jobs.items()
    }
    print(
        f"\n3 workers, 100 jobs: {len(calls)} upstream calls, "
        f"peak {peak}/s against a limit of {QPS}/s, "
        f"{refused} refused by the upstream; median wait to submit: "
        + ", ".join(f"{name} team {wait:.1f}s" for name, wait in waits.items())
    )
    assert peak <= QPS + BURST
    assert waits["small"] < waits["big"] / 3  # the small team did not wait behind the big one
    assert waits["medium"] < waits["big"]
