"""Generate → watch → share with the keyboard alone, in real Chromium with a real
worker: Tab to a control, type, Enter. Each control reached shows where the focus is."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from generations.models import Generation, ShareLink
from tests.cast import PASSWORD, add_credential

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _tab_to(page: Page, selector: str, most: int = 120) -> None:
    """Press Tab until `selector` has the focus (and say so if it never does)."""
    for _ in range(most):
        if page.evaluate("s => document.activeElement?.matches(s) ?? false", selector):
            seen = page.evaluate(
                """() => {
                  const style = getComputedStyle(document.activeElement);
                  return style.outlineStyle !== 'none' || style.boxShadow !== 'none';
                }"""
            )
            assert seen, f"{selector} has the focus but does not show it"
            return
        page.keyboard.press("Tab")
    raise AssertionError(f"Tab never reached {selector}")


def test_generate_watch_and_share_with_the_keyboard_alone(
    live_server, page: Page, cast, emulator, settings, start_worker
) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 2
    add_credential(cast.team, emulator.volcengine_url)
    worker = start_worker()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.goto(f"{live_server.url}/accounts/login/")
    _tab_to(page, "#id_username")
    page.keyboard.type("member")
    _tab_to(page, "#id_password")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.locator("#generate-form")).to_be_visible()

    _tab_to(page, "#id_prompt")
    page.keyboard.type("a paper lantern rising over a dark lake")
    _tab_to(page, "[data-submit]")
    page.keyboard.press("Enter")
    expect(page.locator(".message.success")).to_contain_text("queued")
    job = Generation.objects.get()
    card = page.locator(f'[data-job="{job.pk}"]')
    expect(card.locator("[data-status-label]")).to_have_text("Ready", timeout=60_000)

    # Watch: the poster is a button; Enter plays the video in its place.
    _tab_to(page, f"[data-testid=feed-play-{job.pk}]")
    page.keyboard.press("Enter")
    player = card.locator("video.feed-player")
    expect(player).to_be_visible()
    for _ in range(100):
        if player.evaluate("v => v.currentTime") > 0.2:
            break
        page.wait_for_timeout(100)
    else:
        raise AssertionError("the video did not start playing")

    # Share: Enter on Share shows the link in the card; Enter on Copy copies it.
    _tab_to(page, f"[data-testid=feed-share-{job.pk}]")
    page.keyboard.press("Enter")
    url = card.locator(f"[data-testid=share-url-{job.pk}]")
    expect(url).to_be_visible()
    link = ShareLink.objects.get()
    assert url.input_value().endswith(f"/s/{link.key}/")
    _tab_to(page, f"[data-testid=copy-share-url-{job.pk}]")
    page.keyboard.press("Enter")
    expect(card.locator(f"[data-testid=copy-share-url-{job.pk}]")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == url.input_value()
    worker.stop()
