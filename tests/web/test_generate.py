"""The generate page (views/studio.py, forms/generate.py): who may generate, the form's
rules and their errors in the user's language, uploads, the quota, the estimate, and
the form as it was after a submit or a refusal."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from generations.models import CredentialKind, EntryKind, Generation, LedgerEntry, Status
from generations.services import held_frames
from tests import images
from tests.cast import add_credential, post_generate
from tests.pipeline import make_job, media_files
from tests.web.helpers import upload

pytestmark = pytest.mark.django_db


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    return found.group(1) if found else ""


def test_member_submits_and_the_job_is_queued_with_its_reservation(keyed) -> None:
    response = post_generate(
        keyed.client("member"),
        prompt="一只猫 on a roof",
        duration="10",
        aspect_ratio="9:16",
        seed="42",
    )
    assert response.status_code == 302
    job = Generation.objects.get()
    assert (job.status, job.seconds, job.aspect_ratio, job.seed, job.cost_cny) == (
        Status.QUEUED,
        10,
        "9:16",
        42,
        Decimal("6.00"),
    )
    assert job.params == {
        "req_key": "jimeng_t2v_v30",
        "prompt": "一只猫 on a roof",
        "seed": 42,
        "frames": 241,
        "aspect_ratio": "9:16",
    }
    assert list(LedgerEntry.objects.values_list("kind", "amount_cny")) == [
        (EntryKind.RESERVE, Decimal("6.00"))
    ]
    assert job.next_action_at is not None and job.created_by == keyed.member


@pytest.mark.parametrize(("role", "status"), [("viewer", 403), ("outsider", 404)])
def test_viewers_and_outsiders_cannot_generate(keyed, role, status) -> None:
    assert post_generate(keyed.client(role)).status_code == status
    assert not Generation.objects.exists() and not LedgerEntry.objects.exists()


def test_viewer_sees_the_page_without_the_form(keyed) -> None:
    page = keyed.client("viewer").get(reverse("studio", args=["team-a"])).content.decode()
    assert "generate-form" not in page and "Viewers watch and share" in page


@pytest.mark.parametrize(
    ("fields", "field", "words"),
    [
        ({"duration": "6"}, "duration", "5, 10"),
        ({"prompt": "x" * 801}, "prompt", "801 characters"),
        ({"prompt": ""}, "prompt", "Write a prompt"),
        ({"mode": "i2v_first_720p"}, "first_image", "needs 1 image"),
        ({"mode": "s20_t2v", "prompt": "y" * 151}, "prompt", "at most 150"),
        (
            {"mode": "i2v_recamera_720p", "first_image_url": "https://images.example.com/a.jpg"},
            "template_id",
            "camera movement",
        ),
        (
            {"mode": "i2v_first_720p", "first_image_url": "ftp://x/y.jpg"},
            "first_image_url",
            "http://",
        ),
        ({"seed": "-7"}, "seed", "-1 (random)"),
        ({"mode": "no-such-mode"}, "mode", "Select a valid choice"),
    ],
)
def test_bad_input_gets_a_field_error_and_reserves_nothing(keyed, fields, field, words) -> None:
    response = post_generate(keyed.client("member"), **fields)
    assert response.status_code == 400
    errors = response.context["form"].errors
    assert field in errors and words in " ".join(errors[field])
    assert not Generation.objects.exists() and not LedgerEntry.objects.exists()


def test_errors_are_in_the_users_language(keyed) -> None:
    response = post_generate(keyed.client("member", HTTP_ACCEPT_LANGUAGE="zh-hans"), duration="6")
    assert "秒" in " ".join(response.context["form"].errors["duration"])


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "empty"),
        (b"not an image at all", "not a JPEG"),
        (images.png_bomb(), "too many pixels"),
        (images.solid(400, 1600), "too long and thin"),
        (images.animated_png(), "Animated"),
    ],
)
def test_bad_uploads_are_refused_on_the_field(keyed, data, words) -> None:
    before = media_files()
    response = post_generate(
        keyed.client("member"), mode="i2v_first_720p", prompt="", first_image=upload(data)
    )
    assert words in " ".join(response.context["form"].errors.get("first_image", [])), (
        response.context["form"].errors
    )
    assert not Generation.objects.exists() and media_files() == before


def test_first_and_last_frames_must_share_a_ratio(keyed) -> None:
    response = post_generate(
        keyed.client("member"),
        mode="i2v_first_tail_720p",
        first_image=upload(images.solid(1280, 720)),
        last_image=upload(images.solid(720, 1280)),
    )
    assert "same aspect ratio" in " ".join(response.context["form"].errors["last_image"])
    assert not Generation.objects.exists()


def test_uploads_keep_original_and_fitted_versions(keyed) -> None:
    big = images.gradient(5000, 2812, "PNG")
    response = post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        first_image=upload(big, "big.png"),
    )
    assert response.status_code == 302
    image = Generation.objects.get().images.get()
    with default_storage.open(image.original.name) as handle:
        assert handle.read() == big
    assert (image.width, image.height, image.aspect_ratio) == (2560, 1440, "16:9")
    assert image.original.name.endswith(".png") and image.original_name == "big.png"


def test_quota_refusal_says_whats_left_and_creates_nothing(keyed) -> None:
    keyed.team.quota_cny = Decimal("2.00")
    keyed.team.save()
    before = media_files()
    response = post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        first_image=upload(images.solid(800, 600)),
    )
    page = response.content.decode()
    assert response.status_code == 400 and "Not enough quota" in page and "2.00 CNY" in page
    assert not Generation.objects.exists() and not LedgerEntry.objects.exists()
    # Only the frame is kept, for the next try (held_frames.py), in the member's folder.
    member = keyed.users["member"]
    added = media_files() - before
    assert added and all(n.startswith(f"held/{keyed.team.pk}/{member.pk}/") for n in added)


def test_gateway_models_appear_only_with_a_gateway_key(keyed) -> None:
    page = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert "doubao-seedance" not in page and "t2v_720p" in page
    add_credential(
        keyed.team,
        kind=CredentialKind.GATEWAY,
        access_key="",
        secret="k",
        default=False,
        label="gw",
    )
    page = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert "doubao-seedance-1-0-pro-250528" in page


def test_estimate_follows_mode_duration_and_price_table(keyed) -> None:
    client = keyed.client("viewer")
    data = client.get(
        reverse("estimate", args=["team-a"]), {"mode": "t2v_1080p", "duration": "10"}
    ).json()
    assert data == {
        "videos": 1,
        "cost_cny": "8.00",
        "seconds": 10,
        "price_cny_per_second": "0.800",
        "price_cny_per_million_tokens": None,
        "tokens": None,
        "is_estimate": False,
        "left_cny": "100.00",
        "left_seconds": None,
        "budget_cny": None,
        "budget_left_cny": None,
        "fits": True,
        "blocked": None,
        "resets_at": data["resets_at"],
    }
    ark = client.get(
        reverse("estimate", args=["team-a"]),
        {"mode": "seedance_2_0", "duration": "5", "resolution": "720p", "aspect_ratio": "16:9"},
    ).json()
    # 1280 × 720 × 121 / 1024 = 108,900 tokens at 46 CNY per million
    assert (ark["tokens"], ark["cost_cny"], ark["price_cny_per_million_tokens"]) == (
        108_900,
        "5.01",
        "46.000",
    )
    auto = client.get(
        reverse("estimate", args=["team-a"]),
        {"mode": "seedance_2_0", "duration": "-1", "resolution": "480p", "audio": "1"},
    ).json()
    assert auto["tokens"] == 864 * 496 * (24 * 15 + 1) // 1024  # "auto" reserves the longest
    data = client.get(
        reverse("estimate", args=["team-a"]), {"mode": "i2v_first_720p", "duration": "5"}
    ).json()
    assert data["is_estimate"] is True
    assert (
        client.get(
            reverse("estimate", args=["team-a"]), {"mode": "t2v_720p", "duration": "6"}
        ).status_code
        == 400
    )


def test_after_a_submit_the_form_comes_back_as_it_was(keyed) -> None:
    client = keyed.client("member")
    response = post_generate(
        client,
        mode="i2v_first_720p",
        prompt="a lighthouse at dusk",
        duration="10",
        seed="-1",
        first_image=upload(images.solid(1280, 720)),
    )
    job = Generation.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/t/team-a/?from={job.pk}&keep=1"
    page = client.get(response["Location"]).content.decode()
    assert 'value="i2v_first_720p" selected' in page
    assert "a lighthouse at dusk</textarea>" in page
    assert _hidden(page, "reuse_images_from") == str(job.pk)
    assert re.search(r'name="seed" value="-1"', page)  # a random seed stays random
    assert f"Job #{job.pk} queued." in page and f"job-{job.pk}" in page


def test_after_a_refusal_the_frames_are_kept_and_need_no_new_upload(keyed) -> None:
    keyed.team.quota_cny = Decimal("2.00")
    keyed.team.save()
    client = keyed.client("member")
    frame = images.solid(1280, 720, colour=(200, 40, 40))
    response = post_generate(
        client, mode="i2v_first_720p", prompt="a red room", first_image=upload(frame, "red.jpg")
    )
    page = response.content.decode()
    token = _hidden(page, "held_frames")
    assert response.status_code == 400 and token
    assert "Kept from your last try" in page and "red.jpg" in page
    assert "a red room</textarea>" in page

    # Another member cannot use the token; the page does not show them the frame.
    other = post_generate(
        keyed.client("admin"), mode="i2v_first_720p", prompt="x", held_frames=token
    )
    assert other.status_code == 400 and "red.jpg" not in other.content.decode()

    keyed.team.quota_cny = None
    keyed.team.save()
    response = post_generate(client, mode="i2v_first_720p", prompt="a red room", held_frames=token)
    assert response.status_code == 302
    image = Generation.objects.get().images.get()
    with default_storage.open(image.original.name) as handle:
        assert handle.read() == frame
    assert image.original_name == "red.jpg"
    member = keyed.users["member"].pk
    assert not [n for n in media_files() if n.startswith(f"held/{keyed.team.pk}/{member}/{token}")]


def test_a_new_upload_replaces_a_kept_frame(keyed) -> None:
    keyed.team.quota_cny = Decimal("2.00")
    keyed.team.save()
    client = keyed.client("member")
    first = post_generate(
        client, mode="i2v_first_720p", prompt="", first_image=upload(images.solid(800, 600))
    )
    token = _hidden(first.content.decode(), "held_frames")
    newer = images.solid(1024, 768, colour=(10, 200, 10))
    again = post_generate(
        client,
        mode="i2v_first_720p",
        prompt="",
        held_frames=token,
        first_image=upload(newer, "green.png"),
    )
    assert _hidden(again.content.decode(), "held_frames") == token
    (kept,) = held_frames.held(keyed.team.pk, keyed.users["member"].pk, token)
    with default_storage.open(kept.name) as handle:
        assert handle.read() == newer
    assert kept.original_name == "green.png"


def test_kept_frames_are_purged_after_a_day(keyed) -> None:
    held_frames.purge(timezone.now() + timedelta(days=2))  # what earlier tests left
    keyed.team.quota_cny = Decimal("2.00")
    keyed.team.save()
    post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        first_image=upload(images.solid(800, 600)),
    )
    assert held_frames.purge() == 0
    assert held_frames.purge(timezone.now() + timedelta(days=1, minutes=1)) == 2
    assert not [n for n in media_files() if n.startswith("held/")]


def test_viewers_see_jobs_not_a_generate_card(keyed) -> None:
    make_job(keyed.team, prompt="a viewer can watch this")
    page = keyed.client("viewer").get(reverse("studio", args=["team-a"])).content.decode()
    nav = page.split('<nav class="mainnav">')[1].split("</nav>")[0]
    assert ">Jobs</a>" in nav and "Generate" not in nav
    assert 'class="card"' in page and "a viewer can watch this" in page
    assert "generate-form" not in page and "<h1>Jobs</h1>" in page
    member = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert ">Generate</a>" in member.split('<nav class="mainnav">')[1]
