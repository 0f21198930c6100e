"""A job's pages (views/studio.py): the live status, the card, the job page, cancel,
retry and regenerate, and what it cost."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from generations.models import EntryKind, Generation, LedgerEntry, Status
from generations.services import pipeline
from tests import images
from tests.cast import add_credential, post_generate
from tests.pipeline import make_job, mark_ready
from tests.web.helpers import upload

pytestmark = pytest.mark.django_db


def test_status_endpoint_reports_only_this_teams_jobs(keyed) -> None:
    mine = make_job(keyed.team)
    theirs = make_job(keyed.other_team) if add_credential(keyed.other_team) else None
    data = (
        keyed.client("viewer")
        .get(reverse("jobs-status", args=["team-a"]), {"ids": f"{mine.pk},{theirs.pk}"})
        .json()
    )
    assert [job["id"] for job in data["jobs"]] == [mine.pk]
    assert data["jobs"][0]["status"] == "queued" and data["jobs"][0]["can_cancel"] is True


def test_the_card_tells_the_upstreams_state_and_an_eta_it_learned(keyed, settings) -> None:
    settings.POLL_EXPECTED_SECONDS = 40
    job = make_job(keyed.team)
    client = keyed.client("viewer")

    def status() -> dict:
        url = reverse("jobs-status", args=["team-a"])
        return client.get(url, {"ids": job.pk}).json()["jobs"][0]

    queued = status()
    assert (queued["upstream_note"], queued["submitted_at"]) == ("", None)
    assert queued["expected_seconds"] == 40  # nothing learned yet: the setting
    assert queued["late_seconds"] is None  # and so nothing is "longer than usual" yet
    sent_at = timezone.now() - timedelta(seconds=5)
    Generation.objects.filter(pk=job.pk).update(
        status=Status.SUBMITTED, upstream_status="in_queue", submitted_at=sent_at
    )
    waiting = status()
    assert waiting["upstream_note"] == "waiting in the upstream's queue"
    assert waiting["submitted_at"] == sent_at.isoformat()
    Generation.objects.filter(pk=job.pk).update(
        status=Status.GENERATING, upstream_status="generating"
    )
    assert status()["upstream_note"] == "the upstream is rendering it"
    page = client.get(reverse("studio", args=["team-a"])).content.decode()
    assert 'data-expected="40"' in page and "the upstream is rendering it" in page
    assert "usually ready in about %s" in page  # the words the page's script fills in

    # Once jobs of this kind have finished, the estimate is what they took.
    finished = timezone.now() - timedelta(seconds=1)
    for took in (12, 13, 14, 15, 16, 14, 13, 15, 14, 30):
        done = make_job(keyed.team)
        mark_ready(done)
        Generation.objects.filter(pk=done.pk).update(
            submitted_at=finished - timedelta(seconds=took),
            upstream_running_at=finished,
            upstream_done_at=finished,
        )
    from django.core.cache import cache

    cache.clear()
    learned = status()
    assert 12 <= learned["expected_seconds"] <= 16
    assert 16 <= learned["late_seconds"] <= 30  # nine in ten took no longer
    page = client.get(reverse("studio", args=["team-a"])).content.decode()
    assert f'data-late="{learned["late_seconds"]}"' in page
    mark_ready(job)
    assert status()["expected_seconds"] is None and status()["upstream_note"] == ""


def test_the_demo_expects_jobs_to_take_what_the_emulator_takes(settings) -> None:
    from generations.management.commands.demo import emulator_seconds

    settings.SANDBOX_GENERATION_SECONDS, settings.SANDBOX_GENERATION_SECONDS_MAX = 20, 20
    assert emulator_seconds() == 20
    settings.SANDBOX_GENERATION_SECONDS, settings.SANDBOX_GENERATION_SECONDS_MAX = 4, 12
    assert emulator_seconds() == 8


def test_job_page_shows_parameters_and_request_id(keyed) -> None:
    job = make_job(keyed.team, prompt="<script>alert(1)</script>")
    Generation.objects.filter(pk=job.pk).update(
        upstream_request_id="REQ-123", aigc_meta_tagged=True
    )
    page = (
        keyed.client("viewer").get(reverse("job-detail", args=["team-a", job.pk])).content.decode()
    )
    assert "REQ-123" in page and "tagged" in page and "jimeng_t2v_v30" in page
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page


def test_cancel_releases_and_only_before_submission(keyed) -> None:
    job = make_job(keyed.team)
    assert (
        keyed.client("viewer").post(reverse("job-cancel", args=["team-a", job.pk])).status_code
        == 403
    )
    keyed.client("member").post(reverse("job-cancel", args=["team-a", job.pk]))
    job.refresh_from_db()
    assert job.status == Status.CANCELLED
    kinds = LedgerEntry.objects.filter(generation=job).order_by("pk").values_list("kind", flat=True)
    assert list(kinds) == ["reserve", "release"]
    other = make_job(keyed.team)
    Generation.objects.filter(pk=other.pk).update(status=Status.SUBMITTED, upstream_task_id="1")
    keyed.client("member").post(reverse("job-cancel", args=["team-a", other.pk]))
    other.refresh_from_db()
    assert other.status == Status.SUBMITTED


def test_retry_makes_a_new_job_with_the_same_inputs(keyed) -> None:
    failed = make_job(keyed.team, "i2v_first_720p", prompt="again", seed=7)
    pipeline.fail(failed, "50516", "risk")
    response = keyed.client("member").post(reverse("job-retry", args=["team-a", failed.pk]))
    retry = Generation.objects.exclude(pk=failed.pk).get()
    assert response.status_code == 302
    assert (retry.mode, retry.prompt, retry.seed, retry.retry_of_id) == (
        "i2v_first_720p",
        "again",
        7,
        failed.pk,
    )
    original, copy = failed.images.get(), retry.images.get()
    assert copy.fitted.name != original.fitted.name
    with (
        default_storage.open(copy.fitted.name) as a,
        default_storage.open(original.fitted.name) as b,
    ):
        assert a.read() == b.read()
    page = keyed.client("member").get(reverse("job-detail", args=["team-a", retry.pk]))
    assert '<dt data-testid="made-from">Retry of</dt>' in page.content.decode()


def test_any_job_is_regenerated_in_one_click_with_a_new_take(keyed) -> None:
    source = mark_ready(make_job(keyed.team, "t2v_720p", prompt="a kite at dawn", seed=-1))
    client = keyed.client("member")
    page = client.get(reverse("job-detail", args=["team-a", source.pk])).content.decode()
    assert 'data-testid="regenerate"' in page
    studio_page = client.get(reverse("studio", args=["team-a"])).content.decode()
    assert f"/t/team-a/jobs/{source.pk}/regenerate" in studio_page  # on each card, too

    response = client.post(
        reverse("job-regenerate", args=["team-a", source.pk]), {"next": "/t/team-a/"}
    )
    again = Generation.objects.exclude(pk=source.pk).get()
    assert response.status_code == 302 and response["Location"] == "/t/team-a/"
    assert (again.prompt, again.mode, again.retry_of_id) == (
        "a kite at dawn",
        "t2v_720p",
        source.pk,
    )
    assert again.seed == -1 and again.seed_used != source.seed_used  # another take
    assert again.status == Status.QUEUED and again.cost_cny == source.cost_cny
    assert LedgerEntry.objects.filter(generation=again, kind=EntryKind.RESERVE).exists()
    page = client.get(reverse("job-detail", args=["team-a", again.pk])).content.decode()
    assert '<dt data-testid="made-from">Another take of</dt>' in page  # not "Retry of"


def test_regenerating_keeps_a_chosen_seed_and_the_frames(keyed) -> None:
    frame = images.solid(1280, 720, colour=(5, 90, 200))
    post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        seed="77",
        first_image=upload(frame, "blue.jpg"),
    )
    source = Generation.objects.get()
    keyed.client("member").post(reverse("job-regenerate", args=["team-a", source.pk]))
    again = Generation.objects.exclude(pk=source.pk).get()
    assert (again.seed, again.seed_used) == (77, 77)
    with default_storage.open(again.images.get().original.name) as handle:
        assert handle.read() == frame


def test_regenerate_is_for_members_and_checks_the_quota(keyed) -> None:
    source = mark_ready(make_job(keyed.team))
    url = reverse("job-regenerate", args=["team-a", source.pk])
    assert keyed.client("viewer").post(url).status_code == 403
    keyed.team.quota_cny = source.cost_cny  # the source used it all
    keyed.team.save()
    response = keyed.client("member").post(url, follow=True)
    assert "Not enough quota" in response.content.decode()
    assert Generation.objects.count() == 1


def test_a_failed_job_shows_it_was_not_charged_and_its_estimate_apart(keyed) -> None:
    from tests.api_client import Api, token_for

    failed = make_job(keyed.team, prompt="never made")
    pipeline.fail(failed, "50412", "")
    page = keyed.client("viewer").get(reverse("job-detail", args=["team-a", failed.pk]))
    cost = re.search(r'data-testid="cost">(.*?)</dd>', page.content.decode(), re.S)
    assert cost and "not charged" in cost.group(1) and "3.00 ¥ held" not in cost.group(1)
    assert re.search(r'data-testid="estimate">[^<]*3\.00 ¥', cost.group(1))
    gallery = keyed.client("viewer").get(reverse("gallery", args=["team-a"])).content.decode()
    assert "not charged" in re.search(r'data-testid="tile-cost">(.*?)</span>', gallery).group(1)
    csv_text = keyed.client("viewer").get(reverse("gallery-csv", args=["team-a"]))
    header, row = b"".join(csv_text.streaming_content).decode().splitlines()[:2]
    fields = dict(zip(header.split(","), row.split(","), strict=False))
    assert (fields["charged_cny"], fields["estimated_cny"]) == ("0.00", "3.00")
    document = Api(token_for(keyed, "viewer")).get(f"/api/v1/generations/{failed.pk}").json()
    assert (document["cost_cny"], document["charged_cny"], document["estimated_cny"]) == (
        "0.00",
        "0.00",
        "3.00",
    )
    running = make_job(keyed.team)
    document = Api(token_for(keyed, "viewer")).get(f"/api/v1/generations/{running.pk}").json()
    assert (document["cost_cny"], document["charged_cny"]) == ("3.00", None)  # held, not charged


def test_silent_is_said_only_of_a_model_that_could_have_made_sound(keyed) -> None:
    from tests.cast import add_credential

    add_credential(keyed.team, "http://127.0.0.1:9/sandbox/ark/api/v3", access_key="",
                   secret="k", kind="ark", default=False, label="Ark")  # fmt: skip
    jimeng = mark_ready(make_job(keyed.team, "t2v_720p"))
    seedance = mark_ready(make_job(keyed.team, "seedance_1_5_pro"))
    client = keyed.client("viewer")

    def page(job) -> str:  # type: ignore[no-untyped-def]
        return client.get(reverse("job-detail", args=["team-a", job.pk])).content.decode()

    assert 'data-testid="silent"' not in page(jimeng)  # Jimeng 3.0 never makes sound
    assert 'data-testid="silent"' in page(seedance)


def test_a_ready_jobs_page_does_not_repeat_it_under_the_player(keyed) -> None:
    ready = mark_ready(make_job(keyed.team))
    running = make_job(keyed.team)
    client = keyed.client("viewer")

    def page(job) -> str:  # type: ignore[no-untyped-def]
        return client.get(reverse("job-detail", args=["team-a", job.pk])).content.decode()

    assert page(ready).count('data-testid="player"') == 1
    assert f'data-job="{ready.pk}"' not in page(ready)
    assert f'data-job="{running.pk}"' in page(running)  # the live card, while it runs
