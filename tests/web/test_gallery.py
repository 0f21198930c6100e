"""The gallery (views/gallery.py): filters, totals, pages."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from generations.models import Generation, Status
from generations.services import pipeline
from tests.pipeline import make_job, mark_ready
from tests.web.helpers import ready_job

pytestmark = pytest.mark.django_db


def test_gallery_filters_totals_and_pages(keyed) -> None:
    for n in range(3):
        ready_job(keyed.team, prompt=f"river boat {n}", user=keyed.member)
    ready_job(keyed.team, "t2v_1080p", prompt="mountain", user=keyed.owner, seconds=10)
    failed = make_job(keyed.team, prompt="broken")
    pipeline.fail(failed, "50516", "")
    client = keyed.client("viewer")
    page = client.get(reverse("gallery", args=["team-a"]))
    assert page.context["totals"] == {"count": 5, "seconds": 25, "cost": Decimal("17.00")}
    assert (
        client.get(reverse("gallery", args=["team-a"]), {"q": "river"}).context["totals"]["count"]
        == 3
    )
    assert (
        client.get(reverse("gallery", args=["team-a"]), {"mode": "t2v_1080p"}).context["totals"][
            "count"
        ]
        == 1
    )
    assert (
        client.get(reverse("gallery", args=["team-a"]), {"status": "failed"}).context["totals"][
            "count"
        ]
        == 1
    )
    author = client.get(reverse("gallery", args=["team-a"]), {"author": keyed.owner.pk})
    assert author.context["totals"]["count"] == 1
    today = timezone.localdate()
    dated = client.get(
        reverse("gallery", args=["team-a"]), {"since": today - timedelta(days=1), "until": today}
    )
    assert dated.context["totals"]["count"] == 5
    assert (
        client.get(
            reverse("gallery", args=["team-a"]), {"since": today + timedelta(days=1)}
        ).context["totals"]["count"]
        == 0
    )
    bad = client.get(
        reverse("gallery", args=["team-a"]), {"since": today, "until": today - timedelta(days=2)}
    )
    assert bad.status_code == 200 and "before the start date" in bad.content.decode()


def test_gallery_pages(keyed) -> None:
    for _ in range(30):
        make_job(keyed.team)
    client = keyed.client("viewer")
    first = client.get(reverse("gallery", args=["team-a"]))
    second = client.get(reverse("gallery", args=["team-a"]), {"page": 2})
    assert len(first.context["page"]) == 24 and len(second.context["page"]) == 6
    assert keyed.client("outsider").get(reverse("gallery", args=["team-a"])).status_code == 404


def test_gallery_filters_read_like_the_other_labels(keyed) -> None:
    page = keyed.client("member").get(reverse("gallery", args=["team-a"])).content.decode()
    filters = page.split('data-testid="filters"')[1].split("</form>")[0]
    labels = re.findall(r"<label[^>]*>([^<]*)</label>", filters)
    assert labels and not [label for label in labels if label.rstrip().endswith(":")]


def test_gallery_tiles_show_the_price_per_second(keyed) -> None:
    job = make_job(keyed.team, "t2v_720p", seconds=5)
    mark_ready(job)
    page = keyed.client("member").get(reverse("gallery", args=["team-a"])).content.decode()
    tile = page.split('data-testid="tile-cost"')[1].split("</span></span>")[0]
    assert f"{job.cost_cny} ¥" in tile and f"({job.price_cny_per_second} ¥/s" in tile


def test_the_filters_name_modes_and_states_in_the_readers_language(keyed) -> None:
    """No internal ids or steps: modes by their translated names, and states a person
    tells apart ("Submitted" covers the steps of sending a job upstream)."""
    page = keyed.client("member", HTTP_ACCEPT_LANGUAGE="zh-hans").get(
        reverse("gallery", args=["team-a"])
    )
    html = page.content.decode()
    mode_options = html.split('name="mode"')[1].split("</select>")[0]
    assert ">文生视频 · 720P</option>" in mode_options and "Text to video" not in mode_options
    status_options = html.split('name="status"')[1].split("</select>")[0]
    assert 'value="checking"' not in status_options and 'value="submitting"' not in status_options
    assert "核对提交中" not in status_options
    sending = make_job(keyed.team)
    Generation.objects.filter(pk=sending.pk).update(status=Status.CHECKING)
    sent = make_job(keyed.team)
    Generation.objects.filter(pk=sent.pk).update(status=Status.SUBMITTED)
    make_job(keyed.team)  # still queued
    listed = keyed.client("member").get(
        reverse("gallery", args=["team-a"]), {"status": "submitted"}
    )
    tiles = re.findall(r'data-job-tile="(\d+)"', listed.content.decode())
    assert sorted(map(int, tiles)) == sorted([sending.pk, sent.pk])
    # The API still filters by every state its document lists, the sending steps too.
    from tests.api_client import Api, token_for

    api = Api(token_for(keyed, "viewer"))
    exact = api.get("/api/v1/generations?status=checking")
    assert exact.status_code == 200, exact.content
    assert [job["id"] for job in exact.json()["items"]] == [sending.pk]


def test_a_camera_job_names_its_movement_in_words(keyed) -> None:
    job = mark_ready(make_job(keyed.team, "i2v_recamera_720p", camera_strength="strong"))
    page = keyed.client("member").get(reverse("job-detail", args=["team-a", job.pk]))
    camera = page.content.decode().split('data-testid="camera">')[1].split("</dd>")[0]
    assert camera == "Robotic arm: a smooth, swooping mechanical move · Strong"
