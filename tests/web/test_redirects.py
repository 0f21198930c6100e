"""After an action, a page goes back only to the studio's own pages."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.pipeline import make_job

pytestmark = pytest.mark.security


@pytest.mark.django_db
def test_cancel_never_redirects_off_site(keyed) -> None:
    job = make_job(keyed.team)
    url = reverse("job-cancel", args=["team-a", job.pk])
    response = keyed.client("member").post(url, {"next": "https://evil.example/phish"})
    assert response["Location"] == reverse("job-detail", args=["team-a", job.pk])
    job = make_job(keyed.team)
    url = reverse("job-cancel", args=["team-a", job.pk])
    inside = keyed.client("member").post(url, {"next": "/t/team-a/gallery/"})
    assert inside["Location"] == "/t/team-a/gallery/"
