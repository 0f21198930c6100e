"""The pipeline against the emulator over real HTTP: submit once, poll, archive, settle;
and every way a job can fail, each releasing its reservation."""

from __future__ import annotations

import signal
import time
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.utils import timezone
from django_q.models import Schedule

from generations.jimeng.probe import probe
from generations.models import Generation, LedgerEntry, Status
from generations.services import ledger, pipeline
from generations.services.pipeline import upstream_rate
from tests import images
from tests.cast import add_credential
from tests.pipeline import FAST_PIPELINE, drive, frame, make_job
from tests.queue import queued_tasks

ARCHIVE = pipeline.archive


@pytest.fixture
def studio(cast, emulator, settings):
    """Team A with a key on the emulator, and a fast pipeline."""
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    add_credential(cast.team, emulator.volcengine_url)
    return cast


def _ledger(generation: Generation) -> list[str]:
    return list(
        LedgerEntry.objects.filter(generation=generation)
        .order_by("pk")
        .values_list("kind", flat=True)
    )


def test_a_job_goes_from_queued_to_ready_and_is_settled(studio, emulator) -> None:
    job = make_job(studio.team, "t2v_720p", aspect_ratio="9:16", user=studio.member)
    assert job.status == Status.QUEUED and _ledger(job) == ["reserve"]
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
    assert _ledger(job) == ["reserve", "settle"]
    assert emulator.submits() == 1
    assert job.polls >= 1 and job.upstream_done_at and job.finished_at


def test_queries_record_when_the_task_was_last_seen_running(studio, emulator) -> None:
    job = make_job(studio.team, prompt="a slow kite [sandbox:seconds=2]")
    (job,) = drive([job.pk])
    assert job.polls >= 2
    assert job.submitted_at < job.upstream_running_at < job.upstream_done_at
    assert (job.upstream_done_at - job.upstream_running_at).total_seconds() < 1.5


def test_every_step_can_run_twice_without_double_work(studio, emulator) -> None:
    job = make_job(studio.team)
    pipeline.dispatch_round("first")
    pipeline.dispatch_round("second")  # nothing left to submit: no second submit
    assert emulator.submits() == 1
    job = drive([job.pk])[0]
    pipeline.archive(job.pk)  # a redelivered archive task finds nothing to do
    pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == Status.READY and _ledger(job) == ["reserve", "settle"]
    assert ledger.settle(job) is None


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


def test_output_risk_fails_with_reason_and_releases(studio) -> None:
    job = make_job(studio.team, prompt="a cat [risk:video]")
    (job,) = drive([job.pk])
    assert job.status == Status.FAILED and job.failure_code == "50516"
    assert "did not pass content review" in job.failure_reason
    assert _ledger(job) == ["reserve", "release"]
    assert studio.team.usage().reserved_cny == Decimal("0.00")


def test_text_risk_on_submit_fails_without_retrying(studio, emulator) -> None:
    job = make_job(studio.team, prompt="a cat [risk:text]")
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "50412")
    assert _ledger(job) == ["reserve", "release"]
    assert len(emulator.store.calls("submit")) == 1


def test_link_that_expired_before_download_fails_clearly(studio, settings) -> None:
    settings.SANDBOX_URL_TTL_SECONDS = 0
    job = make_job(studio.team)
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "link_expired")
    assert "link expired" in job.failure_reason
    assert _ledger(job) == ["reserve", "release"]
    assert not default_storage.exists(f"videos/{job.team_id}/{job.pk}.mp4")


def test_busy_queries_never_fail_a_job(studio, emulator) -> None:
    job = make_job(studio.team, prompt="busy [sandbox:faults=50429,50500,50429,50500]")
    (job,) = drive([job.pk])
    assert job.status == Status.READY
    codes = [row["code"] for row in emulator.store.calls("query")]
    assert codes[:4] == [50429, 50500, 50429, 50500]
    assert _ledger(job) == ["reserve", "settle"]


def test_query_timeouts_are_retried(studio, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.0
    settings.JIMENG_QUERY_TIMEOUT = 0.3
    job = make_job(studio.team, prompt="slow [sandbox:faults=slow,slow]")
    (job,) = drive([job.pk])
    assert job.status == Status.READY and job.polls >= 3


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
    assert _ledger(broken) == ["reserve", "release"]


def test_submit_read_timeout_is_never_resent(studio, emulator, settings) -> None:
    settings.SANDBOX_SLOW_SECONDS = 1.0
    settings.JIMENG_SUBMIT_TIMEOUT = 0.3
    job = make_job(studio.team, prompt="slow submit [sandbox:submit-faults=slow]")
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "submit_unknown")
    assert "not sent again" in job.failure_reason
    assert len(emulator.store.calls("submit")) == 1


@pytest.mark.parametrize(("marker", "code"), [("[sandbox:expired]", "expired")])
def test_expired_task_ends_the_job(studio, marker, code) -> None:
    (job,) = drive([make_job(studio.team, prompt=f"x {marker}").pk])
    assert (job.status, job.failure_code) == (Status.FAILED, code)
    assert _ledger(job) == ["reserve", "release"]


def test_unknown_task_ends_the_job(studio) -> None:
    job = make_job(studio.team)
    pipeline.dispatch_round("d")
    Generation.objects.filter(pk=job.pk).update(
        upstream_task_id="4242", next_action_at=timezone.now()
    )
    (job,) = drive([job.pk])
    assert (job.status, job.failure_code) == (Status.FAILED, "not_found")


def test_worker_dying_mid_submit_is_an_unknown_outcome(studio, emulator) -> None:
    job = make_job(studio.team)
    Generation.objects.filter(pk=job.pk).update(
        status=Status.SUBMITTING, lease_until=timezone.now() - timedelta(seconds=1)
    )
    report = pipeline.recover()
    job.refresh_from_db()
    assert report["unknown_submits"] == 1
    assert (job.status, job.failure_code) == (Status.FAILED, "submit_unknown")
    assert emulator.submits() == 0 and _ledger(job) == ["reserve", "release"]


def test_archive_dropped_by_a_dead_worker_is_picked_up(studio) -> None:
    job = make_job(studio.team)
    while job.status != Status.DOWNLOADING:
        pipeline.dispatch_round("d")
        job.refresh_from_db()
    # A worker claimed the download, then died: its lease runs out.
    Generation.objects.filter(pk=job.pk).update(
        lease_owner="dead",
        lease_until=timezone.now() - timedelta(seconds=1),
        next_action_at=timezone.now() - timedelta(minutes=5),
    )
    assert pipeline.recover()["archives"] == 1  # queued for a worker again
    assert pipeline.recover()["archives"] == 0  # and not again while that is pending
    pipeline.archive(job.pk)
    job.refresh_from_db()
    assert job.status == Status.READY and _ledger(job) == ["reserve", "settle"]


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


def test_deadline_abandons_a_job(studio) -> None:
    job = make_job(studio.team)
    Generation.objects.filter(pk=job.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))
    assert pipeline.recover()["abandoned"] == 1
    job.refresh_from_db()
    assert (job.status, job.failure_code) == (Status.FAILED, "deadline")


def test_cancel_only_before_submission(studio) -> None:
    first, second = make_job(studio.team), make_job(studio.team)
    assert pipeline.cancel(first)
    pipeline.dispatch_round("d")
    second.refresh_from_db()
    assert not pipeline.cancel(second)
    first.refresh_from_db()
    assert first.status == Status.CANCELLED and _ledger(first) == ["reserve", "release"]


def test_refused_reservation_leaves_nothing_behind(studio) -> None:
    studio.team.quota_cny = Decimal("1.00")
    studio.team.save()
    before = set(_all_media())
    with pytest.raises(ledger.QuotaExceeded):
        make_job(studio.team, "i2v_first_720p")
    assert not Generation.objects.exists() and not LedgerEntry.objects.exists()
    assert set(_all_media()) == before


def _all_media() -> list[str]:
    found = []
    for top in ("uploads", "videos", "posters"):
        if not default_storage.exists(top):
            continue
        for directory in default_storage.listdir(top)[0]:
            found += [
                f"{top}/{directory}/{name}"
                for name in default_storage.listdir(f"{top}/{directory}")[1]
            ]
    return found


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


@pytest.fixture
def other_team_key(studio, emulator):
    add_credential(studio.other_team, emulator.volcengine_url)
    studio.other_team_with_key = studio.other_team
    return studio


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


def _queued_dispatchers() -> int:
    from django_q.brokers import get_broker

    return get_broker().queue_size()


@pytest.mark.django_db(transaction=True)
def test_a_restarted_worker_starts_dispatchers_even_after_a_recent_kick(cast, settings) -> None:
    """A crash right after a kick leaves the kick marker and a dead dispatcher's lease
    behind; the next worker start must still start dispatchers, once."""
    from django_q.brokers import get_broker

    from generations.models import WorkerLease

    add_credential(cast.team)
    get_broker().purge_queue()
    make_job(cast.team)  # its kick ran on commit
    before = _queued_dispatchers()
    assert before == settings.DISPATCH_SLOTS
    WorkerLease.acquire("dispatch:0", "a-dead-worker", 30)
    assert pipeline.kick() == 0  # an ordinary kick is held back by the marker and the lease
    assert pipeline.kick(after_start="host:1234") == settings.DISPATCH_SLOTS
    assert pipeline.kick(after_start="host:1234") == 0  # the other workers of that start
    assert _queued_dispatchers() == before + settings.DISPATCH_SLOTS
    get_broker().purge_queue()


@pytest.mark.django_db(transaction=True)
def test_a_job_made_just_after_a_dispatcher_finished_still_wakes_one(cast, settings) -> None:
    """A dispatcher that finds nothing to do ends at once. A job made a moment later
    must start a dispatcher again, though the kick marker of the first kick is young."""
    from django_q.brokers import get_broker

    add_credential(cast.team)
    get_broker().purge_queue()
    first = make_job(cast.team)  # its kick ran on commit and started the dispatchers
    assert _queued_dispatchers() == settings.DISPATCH_SLOTS
    assert pipeline.cancel(first)
    for slot in range(settings.DISPATCH_SLOTS):  # they run, find nothing and end
        assert pipeline.dispatch(slot) == "0 actions"
    get_broker().purge_queue()
    make_job(cast.team)  # within the markers' 5 s
    assert _queued_dispatchers() == settings.DISPATCH_SLOTS
    get_broker().purge_queue()


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


def test_a_dispatch_round_takes_no_new_work_after_its_slice(studio, emulator) -> None:
    for _ in range(3):
        make_job(studio.team)
    round_ = pipeline.dispatch_round("d", until=time.monotonic() - 1)
    assert round_.actions == 0 and emulator.submits() == 0
    assert Generation.objects.filter(status=Status.QUEUED, lease_owner="").count() == 3


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
    assert _ledger(job) == ["reserve", "release"]
