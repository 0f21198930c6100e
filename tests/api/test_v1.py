"""/api/v1/: tokens, creating jobs with the form's rules and the quota, reading, acting,
sharing, idempotency and the rate limit. Who may call what is tests/api/test_access.py."""

from __future__ import annotations

import base64
import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from generations.models import (
    ApiToken,
    EntryKind,
    Generation,
    IdempotencyKey,
    LedgerEntry,
    Membership,
    Role,
    ShareLink,
)
from tests import images
from tests.api_client import T2V, Api, token_for
from tests.cast import add_credential, post_generate
from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db


def _data_uri(data: bytes, kind: str = "jpeg") -> str:
    return f"data:image/{kind};base64,{base64.b64encode(data).decode()}"


# --- tokens ------------------------------------------------------------------------------


def test_a_token_is_stored_only_as_a_hash(keyed) -> None:
    token, plain = ApiToken.issue(team=keyed.team, user=keyed.member, name="nightly")
    secret = plain.split("_", 2)[2]
    assert plain.startswith(f"jst_{token.public_id}_") and len(secret) >= 40
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM generations_apitoken")
        stored = repr(cursor.fetchall())
    assert secret not in stored and plain not in stored
    assert ApiToken.find(plain) == token
    assert ApiToken.find(plain[:-1] + ("A" if plain[-1] != "A" else "B")) is None
    assert ApiToken.find("jst_" + token.public_id) is None


def test_expired_revoked_and_orphaned_tokens_are_refused(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    assert api.get("/api/v1/me").status_code == 200
    token = ApiToken.objects.get(user=keyed.member)
    token.revoke()
    assert api.get("/api/v1/me").status_code == 401

    _expired, plain = ApiToken.issue(
        team=keyed.team,
        user=keyed.member,
        name="old",
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    assert Api(plain).get("/api/v1/me").status_code == 401

    plain = token_for(keyed, "member")
    Membership.objects.filter(team=keyed.team, user=keyed.member).delete()
    assert Api(plain).get("/api/v1/me").status_code == 401  # left the team: token dead
    for header in ("Basic abc", "Bearer", "Bearer jst_x_y", ""):
        answer = Api(None).get("/api/v1/me", Authorization=header)
        assert answer.status_code == 401


def test_a_token_notes_when_it_was_last_used(keyed) -> None:
    plain = token_for(keyed, "viewer")
    assert ApiToken.objects.get(user=keyed.viewer).last_used_at is None
    Api(plain).get("/api/v1/me")
    assert ApiToken.objects.get(user=keyed.viewer).last_used_at is not None


def test_a_token_acts_with_its_members_current_role(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    assert api.get("/api/v1/me").json()["role"] == "member"
    Membership.objects.filter(team=keyed.team, user=keyed.member).update(role="viewer")
    assert api.post("/api/v1/generations", T2V).status_code == 403
    assert Generation.objects.count() == 0


# --- creating ----------------------------------------------------------------------------


def test_create_reserves_like_the_form_and_lands_in_the_gallery(keyed) -> None:
    answer = Api(token_for(keyed, "member")).post("/api/v1/generations", T2V)
    assert answer.status_code == 201, answer.content
    job = answer.json()
    row = Generation.objects.get(pk=job["id"])
    assert row.created_by == keyed.member and row.team == keyed.team
    assert (job["status"], job["mode"], job["seconds"], job["cost_cny"]) == (
        "queued",
        "t2v_720p",
        5,
        "3.00",
    )
    reserve = LedgerEntry.objects.get(generation=row, kind=EntryKind.RESERVE)
    assert reserve.amount_cny == Decimal("3.00")
    assert job["links"]["self"] == f"http://testserver/api/v1/generations/{row.pk}"
    gallery = keyed.client("viewer").get("/t/team-a/gallery/").content.decode()
    assert "a kite over the lake" in gallery


def test_the_api_and_the_form_give_the_same_messages(keyed) -> None:
    page = post_generate(keyed.client("member"), duration="7", prompt="").content.decode()
    answer = Api(token_for(keyed, "member")).post(
        "/api/v1/generations", {**T2V, "duration": 7, "prompt": ""}
    )
    assert answer.status_code == 400
    errors = answer.json()["errors"]
    assert set(errors) == {"duration", "prompt"}
    for messages in errors.values():
        for message in messages:
            assert message.replace("'", "&#x27;") in page
    assert Generation.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_messages_come_in_the_callers_language(keyed) -> None:
    api = Api(token_for(keyed, "member"), **{"Accept-Language": "zh-hans"})
    answer = api.post("/api/v1/generations", {**T2V, "prompt": ""})
    assert answer.status_code == 400
    text = json.dumps(answer.json(), ensure_ascii=False)
    assert any("\u4e00" <= ch <= "\u9fff" for ch in text), text


def test_images_as_data_uris_and_as_multipart(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    frame = images.solid(1280, 720)
    answer = api.post(
        "/api/v1/generations",
        {"mode": "i2v_first_720p", "prompt": "it moves", "first_image": _data_uri(frame)},
    )
    assert answer.status_code == 201, answer.content
    job = Generation.objects.get(pk=answer.json()["id"])
    assert job.images.count() == 1

    from django.core.files.uploadedfile import SimpleUploadedFile

    upload = api.client.post(
        "/api/v1/generations/upload",
        {
            "mode": "i2v_first_720p",
            "prompt": "it moves again",
            "first_image": SimpleUploadedFile("f.png", images.solid(1280, 720, fmt="PNG")),
        },
        headers=api.headers,
    )
    assert upload.status_code == 201, upload.content
    assert Generation.objects.get(pk=upload.json()["id"]).images.count() == 1


@pytest.mark.parametrize(
    ("image", "field", "words"),
    [
        ("data:image/png;base64,%%%not-base64", "first_image", "base64"),
        (_data_uri(b"GIF89a this is not a still image", "png"), "first_image", "JPEG, PNG"),
        ("ftp://example.com/a.png", "first_image_url", "http"),
        # Plainly internal: nobody outside could fetch it (a job would fail at once).
        ("http://10.1.2.3/a.png", "first_image_url", "private or local address"),
        ("http://[::1]:8080/a.png", "first_image_url", "private or local address"),
        ("http://localhost/a.png", "first_image_url", "private or local address"),
    ],
)
def test_bad_images_are_refused_with_the_field_named(keyed, image, field, words) -> None:
    answer = Api(token_for(keyed, "member")).post(
        "/api/v1/generations", {"mode": "i2v_first_720p", "prompt": "x", "first_image": image}
    )
    assert answer.status_code == 400, answer.content
    errors = answer.json()["errors"]
    assert field in errors and words in " ".join(errors[field])
    assert Generation.objects.count() == 0


def test_over_quota_is_402_and_changes_nothing(keyed) -> None:
    keyed.team.quota_cny = Decimal("2.00")
    keyed.team.save()
    answer = Api(token_for(keyed, "member")).post("/api/v1/generations", T2V)
    assert answer.status_code == 402
    assert "2.00" in answer.json()["detail"]
    assert Generation.objects.count() == 0 and LedgerEntry.objects.count() == 0


def test_estimate_matches_what_create_reserves(keyed) -> None:
    api = Api(token_for(keyed, "viewer"))
    estimate = api.get("/api/v1/estimate?mode=t2v_1080p&duration=10").json()
    job = Api(token_for(keyed, "member")).post(
        "/api/v1/generations", {**T2V, "mode": "t2v_1080p", "duration": 10}
    )
    assert estimate["cost_cny"] == job.json()["cost_cny"] and estimate["fits"] is True
    assert api.get("/api/v1/estimate?mode=t2v_1080p&duration=7").status_code == 400
    assert api.get("/api/v1/estimate?mode=nope&duration=5").status_code == 400


# --- idempotency -------------------------------------------------------------------------


def test_a_repeated_idempotency_key_returns_the_same_job(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    first = api.post("/api/v1/generations", T2V, **{"Idempotency-Key": "render-42"})
    again = api.post("/api/v1/generations", T2V, **{"Idempotency-Key": "render-42"})
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert Generation.objects.count() == 1
    assert LedgerEntry.objects.filter(kind=EntryKind.RESERVE).count() == 1

    other = api.post(
        "/api/v1/generations",
        {**T2V, "prompt": "something else"},
        **{"Idempotency-Key": "render-42"},
    )
    assert other.status_code == 422 and Generation.objects.count() == 1
    # Keys belong to a token: another token's same key is another request.
    second = Api(token_for(keyed, "member", name="second")).post(
        "/api/v1/generations", T2V, **{"Idempotency-Key": "render-42"}
    )
    assert second.status_code == 201 and Generation.objects.count() == 2


def test_a_refused_request_frees_its_idempotency_key(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    bad = api.post("/api/v1/generations", {**T2V, "duration": 7}, **{"Idempotency-Key": "k1"})
    assert bad.status_code == 400 and not IdempotencyKey.objects.exists()
    good = api.post("/api/v1/generations", T2V, **{"Idempotency-Key": "k1"})
    assert good.status_code == 201


# --- reading -----------------------------------------------------------------------------


def test_list_filters_and_pages_with_a_cursor(keyed) -> None:
    made = [make_job(keyed.team, prompt=f"boat {n}", user=keyed.member) for n in range(5)]
    make_job(keyed.team, prompt="a kite", user=keyed.admin)
    api = Api(token_for(keyed, "viewer"))
    seen, cursor = [], None
    while True:
        url = "/api/v1/generations?q=boat&limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = api.get(url).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert seen == sorted((job.pk for job in made), reverse=True)
    by_admin = api.get(f"/api/v1/generations?author={keyed.admin.pk}").json()["items"]
    assert [item["prompt"] for item in by_admin] == ["a kite"]
    bad = api.get("/api/v1/generations?since=2026-05-02&until=2026-05-01")
    assert bad.status_code == 400 and "until" in bad.json()["errors"]
    assert api.get("/api/v1/generations?cursor=bm9wZQ").status_code == 400


def test_another_teams_job_does_not_exist(keyed) -> None:
    add_credential(keyed.other_team)
    theirs = make_job(keyed.other_team)
    api = Api(token_for(keyed, "owner"))
    assert api.get(f"/api/v1/generations/{theirs.pk}").status_code == 404
    assert api.post(f"/api/v1/generations/{theirs.pk}/cancel").status_code == 404
    assert theirs.pk not in [i["id"] for i in api.get("/api/v1/generations").json()["items"]]


def test_download_redirects_to_a_signed_link_of_the_video(keyed) -> None:
    job = mark_ready(make_job(keyed.team), video=b"MP4-BYTES" * 10)
    api = Api(token_for(keyed, "viewer"))
    document = api.get(f"/api/v1/generations/{job.pk}").json()
    assert document["status"] == "ready" and "download" in document["links"]
    answer = api.get(f"/api/v1/generations/{job.pk}/download")
    assert answer.status_code == 302
    video = api.client.get(answer["Location"])  # no token needed: the link is signed
    assert b"".join(video.streaming_content) == b"MP4-BYTES" * 10
    queued = make_job(keyed.team)
    assert api.get(f"/api/v1/generations/{queued.pk}/download").status_code == 409


def test_cancel_and_retry(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    job = make_job(keyed.team, user=keyed.member)
    cancelled = api.post(f"/api/v1/generations/{job.pk}/cancel")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert keyed.team.usage().reserved_cny == Decimal("0.00")
    assert api.post(f"/api/v1/generations/{job.pk}/cancel").status_code == 409
    again = api.post(f"/api/v1/generations/{job.pk}/retry")
    assert again.status_code == 201 and again.json()["id"] != job.pk
    assert again.json()["prompt"] == job.prompt
    ready = mark_ready(make_job(keyed.team))
    assert api.post(f"/api/v1/generations/{ready.pk}/retry").status_code == 409
    assert api.post(f"/api/v1/generations/{ready.pk}/extend", {}).status_code == 409


# --- sharing and money -------------------------------------------------------------------


def test_share_links_made_listed_and_revoked(keyed) -> None:
    ready = [mark_ready(make_job(keyed.team)) for _ in range(2)]
    member = Api(token_for(keyed, "member"))
    made = member.post(
        "/api/v1/shares",
        {"generations": [ready[1].pk, ready[0].pk], "title": "Cut", "expires_in_days": 7},
    )
    assert made.status_code == 201, made.content
    link = made.json()
    assert link["generations"] == [ready[1].pk, ready[0].pk] and link["live"] is True
    public = Api(None).client.get(link["url"].removeprefix("http://testserver"))
    assert public.status_code == 200
    listed = Api(token_for(keyed, "viewer")).get("/api/v1/shares").json()["items"]
    assert [item["id"] for item in listed] == [link["id"]]

    # Another member may not revoke this member's link; an admin may.
    other = Membership.objects.get(team=keyed.team, user=keyed.viewer)
    other.role = "member"
    other.save()
    viewer_now_member = Api(token_for(keyed, "viewer"))
    assert viewer_now_member.delete(f"/api/v1/shares/{link['id']}").status_code == 403
    revoked = Api(token_for(keyed, "admin")).delete(f"/api/v1/shares/{link['id']}")
    assert revoked.status_code == 200 and revoked.json()["live"] is False
    assert ShareLink.objects.get(pk=link["id"]).revoked_at is not None

    nothing = member.post("/api/v1/shares", {"generations": [make_job(keyed.team).pk]})
    assert nothing.status_code == 409  # only finished videos are shared


def test_quota_shows_what_is_spent_reserved_and_left(keyed) -> None:
    mark_ready(make_job(keyed.team))
    make_job(keyed.team)
    quota = Api(token_for(keyed, "viewer")).get("/api/v1/quota").json()
    usage = keyed.team.usage()
    assert quota["quota_cny"] == "100.00"
    assert quota["spent_cny"] == str(usage.spent_cny) and quota["reserved_cny"] == "3.00"
    assert quota["left_cny"] == str(usage.left_cny)


# --- limits and the schema ---------------------------------------------------------------


def test_the_rate_limit_answers_429_with_retry_after(keyed, settings) -> None:
    settings.API_RATE_PER_MINUTE = 3
    api = Api(token_for(keyed, "viewer"))
    statuses = [api.get("/api/v1/me").status_code for _ in range(3)]
    limited = api.get("/api/v1/me")
    assert statuses == [200, 200, 200] and limited.status_code == 429
    assert 1 <= int(limited["Retry-After"]) <= 61
    # The limit is per token: the member's own token is not slowed by the viewer's.
    assert Api(token_for(keyed, "member")).get("/api/v1/me").status_code == 200


def test_the_openapi_schema_and_docs_are_served(client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    paths = schema["paths"]
    assert "/api/v1/generations" in paths and "/api/v1/generations/{generation_id}" in paths
    assert schema["components"]["securitySchemes"]
    docs = client.get("/api/v1/docs")
    assert docs.status_code == 200 and b"swagger-ui" in docs.content


def test_regenerate_makes_another_take_of_any_job(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    ready = mark_ready(make_job(keyed.team, prompt="a kite", seed=-1))
    answer = api.post(f"/api/v1/generations/{ready.pk}/regenerate")
    assert answer.status_code == 201
    again = Generation.objects.get(pk=answer.json()["id"])
    assert again.retry_of_id == ready.pk and again.seed_used != ready.seed_used
    viewer = Api(token_for(keyed, "viewer"))
    assert viewer.post(f"/api/v1/generations/{ready.pk}/regenerate").status_code == 403


def test_variants_through_the_api_like_the_form(keyed) -> None:
    api = Api(token_for(keyed, "member"))
    answer = api.post("/api/v1/generations", {**T2V, "variants": 3, "vary": "seed"})
    assert answer.status_code == 201
    made = answer.json()
    assert len(made["variants"]) == 3 and made["id"] == made["variants"][0]
    listed = api.get(f"/api/v1/generations?batch={made['batch']}").json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(made["variants"])
    too_many = api.post("/api/v1/generations", {**T2V, "variants": 3, "vary": "duration"})
    assert too_many.status_code == 400 and "variants" in too_many.json()["errors"]
    assert Generation.objects.count() == 3


@pytest.mark.security
def test_a_removed_members_tokens_stay_dead_when_they_are_invited_back(keyed) -> None:
    """Before: re-invited, the old token worked again, with the new role."""
    plain = token_for(keyed, "member")
    member = Membership.objects.get(team=keyed.team, user=keyed.member)
    removed = keyed.client("admin").post(
        reverse("member-remove", args=["team-a", member.pk]), follow=True
    )
    assert removed.status_code == 200
    assert ApiToken.objects.get(user=keyed.member).revoked_at is not None
    Membership.objects.create(team=keyed.team, user=keyed.member, role=Role.ADMIN)
    assert Api(plain).get("/api/v1/me").status_code == 401
    # Ended outside the studio (the admin deletes the row), then invited back: dead too.
    other = token_for(keyed, "viewer")
    Membership.objects.filter(team=keyed.team, user=keyed.viewer).delete()
    Membership.objects.create(team=keyed.team, user=keyed.viewer, role=Role.OWNER)
    assert Api(other).get("/api/v1/me").status_code == 401
    assert Api(token_for(keyed, "viewer")).get("/api/v1/me").status_code == 200  # a new one
