"""The gallery's kept totals always equal counting the jobs themselves."""

from __future__ import annotations

import itertools
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Count, Q, Sum
from django.utils import timezone

from generations.models import GalleryTotal, Generation, Status
from generations.services import gallery_totals, pipeline
from generations.services.pipeline import ending
from tests.cast import add_credential
from tests.pipeline import FAST_PIPELINE, drive, make_job


def _live(team, *, mode="", author="", status="", since=None, until=None) -> dict:  # type: ignore[no-untyped-def]
    jobs = Generation.objects.filter(team=team)
    if mode:
        jobs = jobs.filter(mode=mode)
    if author:
        jobs = jobs.filter(created_by_id=int(author))
    if status:
        jobs = jobs.filter(status=status)
    if since:
        jobs = jobs.filter(created_at__date__gte=since)
    if until:
        jobs = jobs.filter(created_at__date__lte=until)
    ready = Q(status=Status.READY)
    sums = jobs.aggregate(
        count=Count("pk"), seconds=Sum("seconds", filter=ready), cost=Sum("cost_cny", filter=ready)
    )
    return {
        "count": sums["count"],
        "seconds": sums["seconds"] or 0,
        "cost": sums["cost"] or Decimal("0"),
    }


def test_kept_totals_match_the_jobs_through_every_outcome(cast, emulator, settings) -> None:
    for name, value in FAST_PIPELINE.items():
        setattr(settings, name, value)
    add_credential(cast.team, emulator.volcengine_url)
    jobs = [
        make_job(cast.team, "t2v_720p", user=cast.member),
        make_job(cast.team, "t2v_1080p", user=cast.owner, seconds=10),
        make_job(cast.team, "t2v_720p", prompt="x [risk:video]", user=cast.member),
        make_job(cast.team, "s20_t2v", user=cast.owner),
    ]
    cancelled = make_job(cast.team, "t2v_720p", user=cast.admin)
    pipeline.cancel(cancelled)
    still_queued = make_job(cast.team, "ti2v_pro", user=cast.member)
    Generation.objects.filter(pk=still_queued.pk).update(
        next_action_at=timezone.now() + timezone.timedelta(hours=1)
    )
    drive([job.pk for job in jobs])
    assert Generation.objects.filter(pk=still_queued.pk, status=Status.QUEUED).exists()
    today = timezone.localdate()
    authors = ["", str(cast.member.pk), str(cast.owner.pk)]
    for mode, author, status in itertools.product(
        ["", "t2v_720p", "s20_t2v"], authors, ["", Status.READY, Status.FAILED, Status.CANCELLED]
    ):
        kept = gallery_totals.totals(
            cast.team, mode=mode, author=author, status=status, since=today, until=today
        )
        assert kept == _live(cast.team, mode=mode, author=author, status=status), (
            mode,
            author,
            status,
        )
    assert (
        gallery_totals.totals(cast.team, status=Status.GENERATING) is None
    )  # in flight: counted live
    before = sorted(
        GalleryTotal.objects.exclude(count=0).values_list(
            "day", "mode", "author_id", "outcome", "count", "seconds", "cost_cny"
        )
    )
    gallery_totals.rebuild(cast.team)
    after = sorted(
        GalleryTotal.objects.values_list(
            "day", "mode", "author_id", "outcome", "count", "seconds", "cost_cny"
        )
    )
    assert before == after


@pytest.mark.django_db
def test_gallery_uses_live_counting_for_prompt_search(cast) -> None:
    add_credential(cast.team)
    make_job(cast.team, prompt="a red kite")
    make_job(cast.team, prompt="a blue boat")
    page = cast.client("viewer").get("/t/team-a/gallery/", {"q": "kite"})
    assert page.context["totals"]["count"] == 1
    assert cast.client("viewer").get("/t/team-a/gallery/").context["totals"]["count"] == 2


@pytest.mark.django_db(transaction=True)
def test_jobs_created_and_ended_together_never_deadlock(cast) -> None:
    """A job's creation locks the team row, then its gallery total. A job's end holds
    that total when it commits, and PostgreSQL then checks its rows' foreign keys with a
    key-share lock on the team: the team lock must not conflict with it, or the two wait
    on each other ("deadlock detected", seen on CI; docs/architecture.md, Locks)."""
    add_credential(cast.team)
    cast.team.quota_cny = None
    cast.team.save()
    made: list[int] = []
    ended: set[int] = set()
    errors: list[BaseException] = []
    until = time.monotonic() + 6

    def create() -> None:
        while time.monotonic() < until and not errors:
            made.append(make_job(cast.team, user=cast.member).pk)

    def end() -> None:
        while time.monotonic() < until and not errors:
            for pk in [pk for pk in made if pk not in ended]:
                ending.fail(Generation.objects.get(pk=pk), "upstream", "ended by the test")
                ended.add(pk)

    def run(work) -> None:  # type: ignore[no-untyped-def]
        try:
            work()
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(work,)) for work in (create, create, end, end)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert len(made) > 10 and ended  # they did overlap
    assert gallery_totals.totals(cast.team) == _live(cast.team)
