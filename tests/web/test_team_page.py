"""The team page: one control per id, each label finding its own."""

from __future__ import annotations

import re
from collections import Counter

import pytest
from django.urls import reverse

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
