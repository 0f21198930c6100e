"""The admin's ledger at a laptop's width (1366 px): every column on screen, none
hidden past the table's right edge."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from generations.services import ledger
from tests.cast import PASSWORD, add_credential
from tests.pipeline import make_job, mark_ready

pytestmark = [pytest.mark.browser]


def test_the_ledger_shows_every_column_at_1366_px(live_server, page: Page, cast) -> None:
    get_user_model().objects.create_superuser("operator", "op@example.com", PASSWORD)
    add_credential(cast.team)
    long_prompt = "a lantern festival over the river at dusk, drone shot, " * 6
    for _ in range(3):
        mark_ready(make_job(cast.team, prompt=long_prompt, user=cast.member))
    ledger.grant_topup(
        team=cast.team,
        amount_cny=50,
        seconds=0,
        reason="A top-up for the spring campaign, agreed with finance in March " * 2,
        user=cast.owner,
    )
    page.set_viewport_size({"width": 1366, "height": 768})
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "operator")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.goto(f"{live_server.url}/admin/generations/ledgerentry/")
    headers = page.locator("#result_list thead th")
    expect(headers.first).to_be_visible()
    names = [name.strip() for name in headers.all_inner_texts()]
    for wanted in ("Generation", "Reason", "Created by"):
        assert any(wanted.lower() in name.lower() for name in names), names
    # Past the window's edge, or past the edge of the box the admin scrolls the table in.
    cut = page.evaluate(
        """() => {
          const box = document.querySelector('#changelist .results').getBoundingClientRect();
          const right = Math.min(window.innerWidth, box.right) + 1;
          return [...document.querySelectorAll('#result_list thead th')]
            .filter(th => th.getBoundingClientRect().right > right)
            .map(th => th.textContent.trim());
        }"""
    )
    assert cut == [], f"columns out of sight at 1366 px: {cut}"
