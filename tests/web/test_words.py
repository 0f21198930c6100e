"""What people read: modes by name (not their codes), units in their language."""

from __future__ import annotations

import pytest
from django.urls import reverse
from django.utils import translation

from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db


def test_cards_show_mode_names_and_units_in_the_users_language(keyed) -> None:
    job = make_job(keyed.team, "t2v_720p", seconds=5)
    mark_ready(job)
    client = keyed.client("member")
    pages = [
        client.get(reverse("studio", args=["team-a"])).content.decode(),
        client.get(reverse("gallery", args=["team-a"])).content.decode(),
    ]
    for page in pages:
        assert "Text to video · 720P · 5 s" in page and ">t2v_720p<" not in page
    client.cookies["django_language"] = "zh-hans"
    with translation.override("zh-hans"):
        for name in ("studio", "gallery"):
            page = client.get(reverse(name, args=["team-a"]), HTTP_ACCEPT_LANGUAGE="zh-hans")
            text = page.content.decode()
            assert "5 秒" in text and "5 s<" not in text and "文生视频" in text
