"""Gallery housekeeping: each member's favourites, the team's tags, and deleting a
finished video (admins): files removed, hidden everywhere, the ledger kept."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from generations.models import LedgerEntry, Tag
from generations.services.sharing import create_share
from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db


def _tiles(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-job-tile="(\d+)"', page)]


def test_favourites_are_each_members_own(keyed) -> None:
    kite, boat = (mark_ready(make_job(keyed.team, prompt=p)) for p in ("kite", "boat"))
    viewer, member = keyed.client("viewer"), keyed.client("member")
    url = reverse("job-favourite", args=["team-a", kite.pk])
    assert viewer.post(url, {"next": "/t/team-a/gallery/"})["Location"] == "/t/team-a/gallery/"
    gallery = reverse("gallery", args=["team-a"])
    assert _tiles(viewer.get(gallery, {"favourites": "on"}).content.decode()) == [kite.pk]
    assert _tiles(member.get(gallery, {"favourites": "on"}).content.decode()) == []
    page = viewer.get(gallery).content.decode()
    assert f'data-testid="favourite-{kite.pk}" aria-pressed="true"' in page
    assert f'data-testid="favourite-{boat.pk}" aria-pressed="false"' in page
    viewer.post(url)  # and off again
    assert _tiles(viewer.get(gallery, {"favourites": "on"}).content.decode()) == []


def test_members_tag_videos_and_the_gallery_filters_by_tag(keyed) -> None:
    kite, boat = (mark_ready(make_job(keyed.team, prompt=p)) for p in ("kite", "boat"))
    url = reverse("job-tags", args=["team-a", kite.pk])
    assert keyed.client("viewer").post(url, {"tags": "x"}).status_code == 403
    member = keyed.client("member")
    member.post(url, {"tags": "client-a, 春节，client-A,  draft  "})
    assert sorted(t.name for t in kite.tags.all()) == ["client-a", "draft", "春节"]
    page = member.get(reverse("gallery", args=["team-a"]), {"tag": "春节"}).content.decode()
    assert _tiles(page) == [kite.pk]
    detail = member.get(reverse("job-detail", args=["team-a", kite.pk])).content.decode()
    assert 'value="client-a, draft, 春节"' in detail
    too_many = member.post(url, {"tags": ",".join(f"t{n}" for n in range(11))}, follow=True)
    assert "At most 10 tags per video." in too_many.content.decode()
    assert kite.tags.count() == 3  # unchanged
    member.post(url, {"tags": ""})
    assert kite.tags.count() == 0 and Tag.objects.filter(team=keyed.team).count() == 3
    assert boat.tags.count() == 0


def test_admins_delete_a_video_and_the_ledger_keeps_its_cost(
    keyed, django_capture_on_commit_callbacks
) -> None:
    job = mark_ready(make_job(keyed.team, prompt="to delete", user=keyed.member))
    other = mark_ready(make_job(keyed.team, prompt="kept"))
    link = create_share(
        team=keyed.team,
        user=keyed.member,
        generation_ids=[job.pk, other.pk],
        title="",
        expires_at=None,
    )
    files = [job.video.name, job.poster.name]
    assert all(default_storage.exists(name) for name in files)
    spent = keyed.team.usage().spent_cny
    url = reverse("job-delete", args=["team-a", job.pk])
    assert keyed.client("member").post(url).status_code == 403
    running = make_job(keyed.team)
    refused = keyed.client("admin").post(
        reverse("job-delete", args=["team-a", running.pk]), follow=True
    )
    assert "Only a finished job can be deleted" in refused.content.decode()

    admin = keyed.client("admin")
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post(url).status_code == 302
    assert not any(default_storage.exists(name) for name in files)
    job.refresh_from_db()
    assert job.deleted_at is not None
    assert admin.get(reverse("job-detail", args=["team-a", job.pk])).status_code == 404
    gallery = admin.get(reverse("gallery", args=["team-a"])).content.decode()
    assert job.pk not in _tiles(gallery) and other.pk in _tiles(gallery)
    assert "2 videos" in gallery  # the totals forget it: the running job and the kept one
    assert keyed.team.usage().spent_cny == spent  # what it cost stays spent
    assert LedgerEntry.objects.filter(generation=job).count() == 2
    shared = Client().get(reverse("public-share", args=[link.key])).content.decode()
    assert "to delete" not in shared and "kept" in shared
    assert spent == Decimal("6.00")
