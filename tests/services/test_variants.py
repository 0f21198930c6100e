"""Variants: one submit makes up to four videos (different seeds, durations or aspect
ratios), reserved all or none, estimated together, and grouped in the gallery."""

from __future__ import annotations

import io
import re
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from generations.models import Generation, LedgerEntry
from tests import images
from tests.cast import post_generate
from tests.pipeline import mark_ready

pytestmark = pytest.mark.django_db


def upload(data: bytes, name: str = "frame.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


def test_one_submit_makes_several_takes_with_their_own_seeds(keyed) -> None:
    client = keyed.client("member")
    response = post_generate(client, prompt="a red kite", variants="3")
    jobs = list(Generation.objects.order_by("pk"))
    assert response.status_code == 302 and len(jobs) == 3
    assert len({job.batch for job in jobs}) == 1 and jobs[0].batch
    assert [j.variants for j in Generation.objects.with_variants()] == [3, 3, 3]
    assert {job.prompt for job in jobs} == {"a red kite"}
    assert {job.seed for job in jobs} == {-1} and len({job.seed_used for job in jobs}) == 3
    assert LedgerEntry.objects.filter(kind="reserve").count() == 3
    page = client.get(response["Location"]).content.decode()
    assert f"3 variants queued: jobs #{jobs[0].pk}–#{jobs[2].pk}." in page


def test_a_chosen_seed_counts_up(keyed) -> None:
    post_generate(keyed.client("member"), seed="10", variants="3")
    assert [job.seed for job in Generation.objects.order_by("pk")] == [10, 11, 12]


def test_variants_by_duration_and_by_ratio(keyed) -> None:
    client = keyed.client("member")
    post_generate(client, duration="5", variants="2", vary="duration")
    assert [job.seconds for job in Generation.objects.order_by("pk")] == [5, 10]
    refused = post_generate(client, duration="5", variants="3", vary="duration")
    assert refused.status_code == 400
    assert "This mode offers 2 durations" in refused.content.decode()
    before = Generation.objects.count()
    post_generate(client, aspect_ratio="9:16", variants="4", vary="ratio")
    ratios = [job.aspect_ratio for job in Generation.objects.order_by("pk")[before:]]
    assert ratios[0] == "9:16" and len(set(ratios)) == 4


def test_the_quota_covers_every_variant_or_none_is_made(keyed) -> None:
    keyed.team.quota_cny = Decimal("8.00")
    keyed.team.save()
    client = keyed.client("member")
    estimate = client.get(
        reverse("estimate", args=["team-a"]),
        {"mode": "t2v_720p", "duration": "5", "variants": "3", "vary": "seed"},
    ).json()
    assert (estimate["videos"], estimate["cost_cny"], estimate["fits"]) == (3, "9.00", False)
    refused = post_generate(client, variants="3")
    page = refused.content.decode()
    assert refused.status_code == 400 and "needs 9.00 CNY" in page
    assert not Generation.objects.exists() and not LedgerEntry.objects.exists()
    two = client.get(
        reverse("estimate", args=["team-a"]),
        {"mode": "t2v_720p", "duration": "5", "variants": "2"},
    ).json()
    assert (two["cost_cny"], two["fits"]) == ("6.00", True)


def test_each_variant_gets_the_frames(keyed) -> None:
    frame = images.solid(1280, 720, colour=(10, 120, 60))
    post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        variants="2",
        first_image=upload(frame),
    )
    jobs = list(Generation.objects.order_by("pk"))
    assert len(jobs) == 2
    for job in jobs:
        image = job.images.get()
        with default_storage.open(image.original.name) as handle:
            assert handle.read() == frame
    assert jobs[0].images.get().original.name != jobs[1].images.get().original.name


def test_the_gallery_groups_the_variants_of_a_submit(keyed) -> None:
    post_generate(keyed.client("member"), prompt="take", variants="2")
    post_generate(keyed.client("member"), prompt="alone")
    first, second, alone = Generation.objects.order_by("pk")
    for job in (first, second, alone):
        mark_ready(job)
    client = keyed.client("viewer")
    page = client.get(reverse("gallery", args=["team-a"])).content.decode()
    # One tile for the submit: its newest take large, the other small in its strip.
    assert re.findall(r'data-job-tile="(\d+)"', page) == [str(alone.pk), str(second.pk)]
    assert f'data-testid="variants-{second.pk}"' in page and "2 takes of one prompt" in page
    strip = page[page.index(f'data-testid="takes-{second.pk}"') :]
    assert f'data-take="{first.pk}"' in strip[: strip.index("</ul>")]
    assert f'data-testid="variants-{alone.pk}"' not in page
    # The submit's own list shows every take as a tile of its own.
    grouped = client.get(reverse("gallery", args=["team-a"]), {"batch": first.batch})
    text = grouped.content.decode()
    assert f'data-job-tile="{first.pk}"' in text and f'data-job-tile="{second.pk}"' in text
    assert f'data-job-tile="{alone.pk}"' not in text and "2 videos" in text
    assert "one of 2 variants" in text and "data-take=" not in text


def test_the_take_kept_leads_its_tile_for_whoever_kept_it(keyed) -> None:
    post_generate(keyed.client("member"), prompt="take", variants="3")
    first, second, third = (mark_ready(job) for job in Generation.objects.order_by("pk"))
    member = keyed.client("member")
    gallery = reverse("gallery", args=["team-a"])
    answer = member.post(reverse("job-keep", args=["team-a", first.pk]), {"next": gallery})
    assert answer.status_code == 302 and answer["Location"] == gallery
    page = member.get(gallery).content.decode()
    assert re.findall(r'data-job-tile="(\d+)"', page) == [str(first.pk)]
    assert re.findall(r'data-take="(\d+)"', page) == [str(third.pk), str(second.pk)]
    assert 'class="badge ok">kept<' in page
    # Another member has kept nothing: the newest leads for them.
    other = keyed.client("viewer").get(gallery).content.decode()
    assert re.findall(r'data-job-tile="(\d+)"', other) == [str(third.pk)]


def test_how_to_vary_is_asked_only_for_several_videos(keyed) -> None:
    client = keyed.client("member")
    page = client.get(reverse("studio", args=["team-a"])).content.decode()
    assert "data-variants-vary hidden" in page
    keyed.team.quota_cny = Decimal("1.00")
    keyed.team.save()
    refused = post_generate(client, variants="3", vary="seed").content.decode()
    assert "data-variants-vary>" in refused and 'value="3" selected' in refused


def test_a_deleted_variant_no_longer_counts(keyed, django_capture_on_commit_callbacks) -> None:
    from generations.services import housekeeping

    post_generate(keyed.client("member"), prompt="take", variants="2")
    first, second = (mark_ready(job) for job in Generation.objects.order_by("pk"))
    with django_capture_on_commit_callbacks(execute=True):
        housekeeping.delete(first)
    page = keyed.client("viewer").get(reverse("gallery", args=["team-a"])).content.decode()
    assert f'data-job-tile="{second.pk}"' in page and "variants-" not in page
