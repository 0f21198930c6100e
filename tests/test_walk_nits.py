"""What a new user stumbled over on a walk through the demo: one control per label,
viewers without a generate card, names (not codes) and translated units, labels like
the rest, one title per admin page, the price per second on gallery tiles."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from tests.cast import make_user
from tests.pipeline import make_job, mark_ready

pytestmark = pytest.mark.django_db


def _ids(page: str) -> Counter[str]:
    return Counter(re.findall(r'\bid="([^"]+)"', page))


def test_the_team_page_has_one_control_per_id_and_each_label_finds_its_own(keyed) -> None:
    page = keyed.client("owner").get(reverse("team-detail", args=["team-a"])).content.decode()
    repeated = [name for name, count in _ids(page).items() if count > 1]
    assert repeated == []
    for target in re.findall(r'<label[^>]* for="([^"]+)"', page):
        assert _ids(page)[target] == 1, target
    member = keyed.team.memberships.get(user__username="member")
    assert f'for="member-{member.pk}-role"' in page and "Role of member" in page


def test_viewers_see_jobs_not_a_generate_card(keyed) -> None:
    make_job(keyed.team, prompt="a viewer can watch this")
    page = keyed.client("viewer").get(reverse("studio", args=["team-a"])).content.decode()
    nav = page.split('<nav class="mainnav">')[1].split("</nav>")[0]
    assert ">Jobs</a>" in nav and "Generate" not in nav
    assert 'class="card"' in page and "a viewer can watch this" in page
    assert "generate-form" not in page and "<h1>Jobs</h1>" in page
    member = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert ">Generate</a>" in member.split('<nav class="mainnav">')[1]


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


def test_admin_action_pages_say_their_title_once(keyed) -> None:
    operator = Client()
    operator.force_login(make_user("operator", is_staff=True, is_superuser=True))
    page = operator.post(
        reverse("admin:generations_team_changelist"),
        {"action": "grant_topup", "_selected_action": [keyed.team.pk]},
    ).content.decode()
    body = page.split("<body", 1)[1]
    assert re.findall(r"<h1>([^<]*)</h1>", body) == ["Grant a top-up"]
