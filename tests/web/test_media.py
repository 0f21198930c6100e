"""Media (generations/media.py): through access checks to signed links that expire,
with Range."""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import reverse

from tests.web.helpers import ready_job

pytestmark = pytest.mark.django_db


def test_media_goes_through_access_checks_and_signed_urls(keyed) -> None:
    job = ready_job(keyed.team)
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
    job = ready_job(keyed.team)
    url = keyed.client("viewer").get(reverse("job-media", args=["team-a", job.pk, "poster"]))[
        "Location"
    ]
    settings.MEDIA_URL_TTL_SECONDS = -1
    assert Client().get(url).status_code == 404
