"""The studio's pages: generate form rules and errors, estimates, live status, job
pages, cancel and retry, media access, the gallery and share links."""

from __future__ import annotations

import io
import re
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from generations.models import CredentialKind, EntryKind, Generation, LedgerEntry, ShareLink, Status
from generations.services import held_frames, pipeline
from tests import images
from tests.cast import add_credential, post_generate
from tests.pipeline import make_job, mark_ready, media_files

pytestmark = pytest.mark.django_db


def _upload(data: bytes, name: str = "frame.jpg") -> io.BytesIO:
    handle = io.BytesIO(data)
    handle.name = name
    return handle


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
            {"mode": "i2v_recamera_720p", "first_image_url": "http://127.0.0.1/a.jpg"},
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
        keyed.client("member"), mode="i2v_first_720p", prompt="", first_image=_upload(data)
    )
    assert words in " ".join(response.context["form"].errors.get("first_image", [])), (
        response.context["form"].errors
    )
    assert not Generation.objects.exists() and media_files() == before


def test_first_and_last_frames_must_share_a_ratio(keyed) -> None:
    response = post_generate(
        keyed.client("member"),
        mode="i2v_first_tail_720p",
        first_image=_upload(images.solid(1280, 720)),
        last_image=_upload(images.solid(720, 1280)),
    )
    assert "same aspect ratio" in " ".join(response.context["form"].errors["last_image"])
    assert not Generation.objects.exists()


def test_uploads_keep_original_and_fitted_versions(keyed) -> None:
    big = images.gradient(5000, 2812, "PNG")
    response = post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        first_image=_upload(big, "big.png"),
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
        first_image=_upload(images.solid(800, 600)),
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
    for took in (12, 13, 14, 15, 16):
        done = make_job(keyed.team)
        mark_ready(done)
        Generation.objects.filter(pk=done.pk).update(
            submitted_at=finished - timedelta(seconds=took),
            upstream_running_at=finished,
            upstream_done_at=finished,
        )
    from django.core.cache import cache

    cache.clear()
    assert 12 <= status()["expected_seconds"] <= 16
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


def _ready(team, mode: str = "t2v_720p", **fields) -> Generation:
    return mark_ready(make_job(team, mode, **fields))


def test_media_goes_through_access_checks_and_signed_urls(keyed) -> None:
    job = _ready(keyed.team)
    client = keyed.client("viewer")
    redirect = client.get(reverse("job-media", args=["team-a", job.pk, "video"]))
    assert redirect.status_code == 302 and redirect["Location"].startswith("/m/")
    full = client.get(redirect["Location"])
    assert full.status_code == 200 and b"".join(full.streaming_content) == b"0123456789" * 100
    part = Client().get(redirect["Location"], HTTP_RANGE="bytes=10-19")
    assert part.status_code == 206 and part["Content-Range"] == "bytes 10-19/1000"
    assert b"".join(part.streaming_content) == b"0123456789"
    assert Client().get(redirect["Location"], HTTP_RANGE="bytes=5000-").status_code == 416
    download = client.get(reverse("job-media", args=["team-a", job.pk, "download"]))
    assert "attachment" in Client().get(download["Location"])["Content-Disposition"]
    assert (
        keyed.client("outsider")
        .get(reverse("job-media", args=["team-a", job.pk, "video"]))
        .status_code
        == 404
    )
    tampered = redirect["Location"][:-4] + "abcd/"
    assert Client().get(tampered).status_code == 404


def test_signed_media_urls_expire(keyed, settings) -> None:
    job = _ready(keyed.team)
    url = keyed.client("viewer").get(reverse("job-media", args=["team-a", job.pk, "poster"]))[
        "Location"
    ]
    settings.MEDIA_URL_TTL_SECONDS = -1
    assert Client().get(url).status_code == 404


def test_gallery_filters_totals_and_pages(keyed) -> None:
    for n in range(3):
        _ready(keyed.team, prompt=f"river boat {n}", user=keyed.member)
    _ready(keyed.team, "t2v_1080p", prompt="mountain", user=keyed.owner, seconds=10)
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


def _share(client: Client, *ids: int, **extra) -> str:
    client.post(
        reverse("share-create", args=["team-a"]), {"generations": [str(i) for i in ids], **extra}
    )
    page = client.get(reverse("share-list", args=["team-a"])).content.decode()
    return re.search(r'value="http://testserver(/s/[^"]+)"', page).group(1)


def test_a_share_link_shows_only_the_shared_items(keyed) -> None:
    shared = _ready(keyed.team, prompt="Shared <b>kite</b>", user=keyed.member)
    hidden = _ready(keyed.team, prompt="Secret project", user=keyed.member)
    path = _share(keyed.client("member"), shared.pk)
    page = Client().get(path)
    html = page.content.decode()
    assert page.status_code == 200
    assert "Shared &lt;b&gt;kite&lt;/b&gt;" in html and "Secret project" not in html
    assert "member@example.com" not in html and "member" not in html.lower().split("</head>")[1]
    assert "¥" not in html and "CNY" not in html
    assert 'property="og:video"' in html and 'property="og:image"' in html
    assert Client().get(f"{path}{hidden.pk}/video").status_code == 404
    video = Client().get(f"{path}{shared.pk}/video")
    assert video.status_code == 302
    assert ShareLink.objects.get().view_count == 1


def test_albums_and_view_counts(keyed) -> None:
    jobs = [_ready(keyed.team, prompt=f"album {n}") for n in range(3)]
    path = _share(keyed.client("member"), *[job.pk for job in jobs], title="Trip")
    html = Client().get(path).content.decode()
    assert html.count('data-testid="shared-item"') == 3 and "Trip" in html
    Client().get(path)
    page = keyed.client("viewer").get(reverse("share-list", args=["team-a"])).content.decode()
    assert 'data-testid="views">2<' in page


def test_revoked_and_expired_links_answer_410(keyed) -> None:
    job = _ready(keyed.team)
    path = _share(keyed.client("member"), job.pk)
    link = ShareLink.objects.get()
    revoke = reverse("share-revoke", args=["team-a", link.pk])
    assert keyed.client("outsider").post(revoke).status_code == 404
    assert keyed.client("viewer").post(revoke).status_code == 403  # viewers only look
    keyed.client("admin").post(revoke)  # admins revoke any of the team's links

    gone = Client().get(path)
    assert gone.status_code == 410 and b"no longer works" in gone.content
    assert Client().get(f"{path}{job.pk}/poster").status_code == 410
    expiring = _share(keyed.client("member"), job.pk, expires_in_days="1")
    ShareLink.objects.filter(revoked_at__isnull=True).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert Client().get(expiring).status_code == 410
    unknown = Client().get("/s/" + "0" * 42 + "/")
    assert unknown.status_code == 404 and b"No such link" in unknown.content


def test_share_keys_are_long_and_unguessable(keyed) -> None:
    job = _ready(keyed.team)
    path = _share(keyed.client("member"), job.pk)
    key = path.split("/")[2]
    assert len(key) >= 10 + 32
    tampered = key[:-1] + ("y" if key.endswith("x") else "x")  # one character off
    assert Client().get(f"/s/{tampered}/").status_code == 404
    assert Client().get(f"/s/{key[:10]}/").status_code == 404


def test_outsiders_cannot_share_another_teams_videos(keyed) -> None:
    job = _ready(keyed.team)
    keyed.client("outsider").post(
        reverse("share-create", args=["team-b"]), {"generations": [str(job.pk)]}
    )
    assert not ShareLink.objects.exists()


# --- the form as it was -------------------------------------------------------------


def _hidden(page: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', page)
    return found.group(1) if found else ""


def test_after_a_submit_the_form_comes_back_as_it_was(keyed) -> None:
    client = keyed.client("member")
    response = post_generate(
        client,
        mode="i2v_first_720p",
        prompt="a lighthouse at dusk",
        duration="10",
        seed="-1",
        first_image=_upload(images.solid(1280, 720)),
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
        client, mode="i2v_first_720p", prompt="a red room", first_image=_upload(frame, "red.jpg")
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
        client, mode="i2v_first_720p", prompt="", first_image=_upload(images.solid(800, 600))
    )
    token = _hidden(first.content.decode(), "held_frames")
    newer = images.solid(1024, 768, colour=(10, 200, 10))
    again = post_generate(
        client,
        mode="i2v_first_720p",
        prompt="",
        held_frames=token,
        first_image=_upload(newer, "green.png"),
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
        first_image=_upload(images.solid(800, 600)),
    )
    assert held_frames.purge() == 0
    assert held_frames.purge(timezone.now() + timedelta(days=1, minutes=1)) == 2
    assert not [n for n in media_files() if n.startswith("held/")]


# --- regenerate ---------------------------------------------------------------------


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


def test_regenerating_keeps_a_chosen_seed_and_the_frames(keyed) -> None:
    frame = images.solid(1280, 720, colour=(5, 90, 200))
    post_generate(
        keyed.client("member"),
        mode="i2v_first_720p",
        prompt="",
        seed="77",
        first_image=_upload(frame, "blue.jpg"),
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
    from tests.api import Api, token_for

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
