"""An Ark journey in real Chromium with a real worker and callbacks: generate a Seedance
video with sound priced in tokens, see it ready with its sound, extend it from its last
frame, and watch the chain play as one sequence."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import Page, expect

from generations.models import Generation
from tests.cast import PASSWORD, add_credential
from tests.conftest import SANDBOX_ARK_KEY

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_ark_journey(
    live_server, page: Page, cast, emulator, settings, artifacts, start_worker
) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 2
    add_credential(cast.team, emulator.ark_url, access_key="", secret=SANDBOX_ARK_KEY, kind="ark")
    worker = start_worker(PUBLIC_BASE_URL=live_server.url)
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    page.select_option("#id_mode", "seedance_1_5_pro")
    expect(page.locator("[data-show=audio]")).to_be_visible()
    expect(page.locator("[data-show=seed]")).to_be_visible()
    page.fill("#id_prompt", "雨落在屋檐上 rain on a tiled roof")
    page.select_option("#id_duration", "4")
    page.select_option("#id_resolution", "480p")
    page.select_option("#id_aspect_ratio", "16:9")
    expect(page.locator("[data-cost]")).to_have_text("0.32 ¥")  # 40,594 tokens × 8 ¥/M
    page.check("#id_generate_audio")
    expect(page.locator("[data-cost]")).to_have_text("0.65 ¥")  # × 16 ¥/M with sound
    expect(page.locator("[data-price]")).to_contain_text("tokens")
    page.click("[data-submit]")
    card = page.locator("[data-job]").first
    expect(card.locator("[data-status-label]")).to_have_text("Ready", timeout=60_000)
    first = Generation.objects.get()
    assert first.polls == 1  # the callback made the end known; one GET confirmed it

    page.goto(f"{base}/t/team-a/jobs/{first.pk}/")
    expect(page.locator("[data-testid=sound]")).to_be_visible()
    expect(page.locator("[data-testid=cost]")).to_contain_text("tokens billed")
    page.screenshot(path=str(artifacts / "ark-job-page.png"), full_page=True)
    page.click("[data-testid=extend]")
    expect(page.locator("[data-testid=extending]")).to_contain_text(f"#{first.pk}")
    page.select_option("#id_mode", "seedance_2_0")
    expect(page.locator("[data-show=seed]")).to_be_hidden()  # 2.0 picks its own
    page.fill("#id_prompt", "the rain stops and the sun comes out")
    page.select_option("#id_duration", "4")
    page.select_option("#id_resolution", "480p")
    page.click("[data-submit]")
    expect(page.locator("[data-job]")).to_have_count(2)  # joined the feed, in place
    expect(page.locator("[data-job]").first.locator("[data-status-label]")).to_have_text(
        "Ready", timeout=60_000
    )
    second = Generation.objects.exclude(pk=first.pk).get()
    assert second.extends_id == first.pk

    page.goto(f"{base}/t/team-a/gallery/")
    page.click(f"[data-testid=chain-{second.pk}]")
    parts = page.locator("[data-chain-part]")
    expect(parts).to_have_count(2)
    player = page.locator("[data-chain-player]")
    expect(page.locator("[data-chain-player][data-chain-ready]")).to_have_count(1)
    player.evaluate("v => { v.muted = true; v.play(); }")
    _wait_for_part(page, parts, 1)
    page.screenshot(path=str(artifacts / "ark-chain.png"), full_page=True)
    worker.stop()


def _wait_for_part(page: Page, parts, index: int, timeout: float = 20.0) -> None:  # type: ignore[no-untyped-def]
    """The player moves on to part `index` when the one before ends."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "playing" in (parts.nth(index).get_attribute("class") or ""):
            return
        page.wait_for_timeout(200)
    raise AssertionError("the chain did not move on to its next part")
