"""Posters seen again come from the browser's cache: a member's redirect to a file is the
same for a while and may be kept, and the signed link it leads to stays valid longer
than that."""

from __future__ import annotations

import time

import pytest
from django.test import Client
from django.urls import reverse

from tests.web.helpers import ready_job

TTL = 900  # MEDIA_URL_TTL_SECONDS: links are re-signed every TTL / 3 = 300 s


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch, settings) -> list[float]:  # type: ignore[no-untyped-def]
    settings.MEDIA_URL_TTL_SECONDS = TTL
    now = [1_800_000_000.0 + 10]  # 10 s into a window
    monkeypatch.setattr(time, "time", lambda: now[0])
    return now


def test_a_poster_link_is_the_same_on_every_load_of_a_window_and_may_be_cached(
    keyed, clock
) -> None:
    job = ready_job(keyed.team)
    client = keyed.client("viewer")
    poster = reverse("job-media", args=["team-a", job.pk, "poster"])
    first = client.get(poster)
    clock[0] += 200
    second = client.get(poster)
    assert first["Location"] == second["Location"]
    assert "no-store" not in first["Cache-Control"]
    assert first["Cache-Control"] == "private, max-age=290"  # until the window ends
    assert second["Cache-Control"] == "private, max-age=90"
    clock[0] += 100
    assert client.get(poster)["Location"] != first["Location"]  # a new window


def test_a_link_signed_at_a_windows_start_lives_two_thirds_of_its_life_at_least(
    keyed, clock
) -> None:
    job = ready_job(keyed.team)
    clock[0] += 289  # the page is drawn at the very end of a window
    url = keyed.client("viewer").get(reverse("job-media", args=["team-a", job.pk, "poster"]))[
        "Location"
    ]
    clock[0] += TTL * 2 / 3  # and kept open
    assert Client().get(url).status_code == 200
    clock[0] += TTL / 3
    assert Client().get(url).status_code == 404
