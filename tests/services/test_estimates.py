"""One answer to "what would this cost, and may I submit it now", for the generate page
and the API alike (services/estimates.py): the same document, the same checks, and the
same refusal the reservation would give, in its words."""

from __future__ import annotations

from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.urls import reverse

from generations.models import Membership
from tests.api_client import Api, token_for

pytestmark = pytest.mark.django_db

QUERIES = [
    {"mode": "t2v_1080p", "duration": "10"},
    {"mode": "t2v_720p", "duration": "5", "variants": "3", "vary": "seed"},
    {"mode": "seedance_2_0", "duration": "5", "resolution": "720p", "aspect_ratio": "9:16"},
    {"mode": "seedance_1_5_pro", "duration": "4", "resolution": "480p", "audio": "1"},
]


def _both(cast, query: dict[str, str]) -> tuple:  # type: ignore[no-untyped-def]
    """The member's estimate from the generate page and from the API."""
    page = cast.client("member").get(reverse("estimate", args=["team-a"]), query)
    flags = {k: "true" for k, v in query.items() if k in ("audio", "draft") and v == "1"}
    api = Api(token_for(cast, "member")).get(f"/api/v1/estimate?{urlencode({**query, **flags})}")
    return page, api


@pytest.mark.parametrize("query", QUERIES)
def test_the_page_and_the_api_answer_the_same(ark, query) -> None:
    page, api = _both(ark, query)
    assert page.status_code == api.status_code == 200
    first, second = page.json(), api.json()
    first.pop("resets_at"), second.pop("resets_at")
    assert first == second


@pytest.mark.parametrize(
    ("query", "words"),
    [
        ({"mode": "seedance_2_0_fast", "duration": "5", "resolution": "1080p"}, "1080p"),
        ({"mode": "t2v_720p", "duration": "5", "aspect_ratio": "9:21"}, "does not offer 9:21"),
        ({"mode": "t2v_720p", "duration": "7"}, "not 7"),
        ({"mode": "seedance_2_0", "duration": "5", "draft": "1"}, "makes no drafts"),
    ],
)
def test_what_the_form_refuses_the_estimate_refuses_too(ark, query, words) -> None:
    """The API's estimate dropped an unknown resolution silently and took any ratio.
    What the schema allows but the mode does not is refused in the form's words."""
    page, api = _both(ark, query)
    assert page.status_code == api.status_code == 400
    assert words in page.json()["error"] and words in api.json()["detail"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"mode": "seedance_2_0", "duration": "5", "resolution": "8k"}, "resolution"),
        ({"mode": "t2v_720p", "duration": "5", "aspect_ratio": "2:1"}, "aspect_ratio"),
        ({"mode": "t2v_720p", "duration": "5", "variants": "9"}, "variants"),
        ({"mode": "nope", "duration": "5"}, "mode"),
    ],
)
def test_what_the_schema_does_not_allow_is_refused_for_its_field(ark, query, field) -> None:
    page, api = _both(ark, query)
    assert page.status_code == api.status_code == 400
    assert field in api.json()["errors"], api.json()


def test_a_suspended_team_is_told_so_before_generate_not_after(keyed) -> None:
    keyed.team.suspend("unpaid invoice 2026-11")
    page, api = _both(keyed, {"mode": "t2v_720p", "duration": "5"})
    for answer in (page.json(), api.json()):
        assert answer["fits"] is False
        assert answer["blocked"] == "This team is suspended: unpaid invoice 2026-11"
    html = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert "This team is suspended: unpaid invoice 2026-11" in html
    assert "data-submit disabled" in html
    assert "Not enough quota left" not in html


def test_a_member_with_a_budget_sees_it_and_is_stopped_by_it(keyed) -> None:
    Membership.objects.filter(team=keyed.team, user=keyed.member).update(
        monthly_budget_cny=Decimal("5.00")
    )
    fits, _api = _both(keyed, {"mode": "t2v_720p", "duration": "5"})  # 3.00
    assert fits.json()["budget_left_cny"] == "5.00" and fits.json()["fits"] is True
    over, api = _both(keyed, {"mode": "t2v_720p", "duration": "10"})  # 6.00
    for answer in (over.json(), api.json()):
        assert answer["fits"] is False and "monthly budget" in answer["blocked"]
        assert answer["left_cny"] == "100.00"  # the team's quota has room: the budget stops it
    html = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert "Your budget left this month" in html and "5.00 ¥" in html


def test_a_member_without_a_budget_sees_the_teams_quota_only(keyed) -> None:
    html = keyed.client("member").get(reverse("studio", args=["team-a"])).content.decode()
    assert "data-budget hidden" in html
