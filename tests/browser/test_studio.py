"""A person's journey in real Chromium, with a real worker: sign in, generate
text-to-video and first + last frame from two uploads, watch the status change live,
play the result in the gallery, filter, share, open the link signed out, revoke it."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from tests import images
from tests.cast import PASSWORD, add_credential

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_studio_journey(
    live_server,
    page: Page,
    browser: Browser,
    cast,
    emulator,
    settings,
    artifacts,
    start_worker,
    tmp_path,
) -> None:
    # Long enough that the page, polling every 2 s, sees the job generating even when
    # the other test worker keeps both cores busy (it once saw only Submitted, Ready).
    settings.SANDBOX_GENERATION_SECONDS = 6
    add_credential(cast.team, emulator.volcengine_url)
    worker = start_worker()
    base = live_server.url
    first, last = tmp_path / "first.jpg", tmp_path / "last.png"
    first.write_bytes(images.solid(1280, 720, (220, 60, 30)))
    last.write_bytes(images.solid(1280, 720, (30, 60, 220), fmt="PNG"))

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("#generate-form")).to_be_visible()
    # From here on the page must not reload: submits and statuses change it in place.
    page.evaluate("window.__samePage = true")

    page.fill("#id_prompt", "一只纸船漂过河流 a paper boat drifting down a river")
    page.select_option("#id_aspect_ratio", "16:9")
    expect(page.locator("[data-cost]")).to_have_text("3.00 ¥")
    page.click("[data-submit]")
    expect(page.locator(".message.success")).to_contain_text("queued")

    page.select_option("#id_mode", "i2v_first_tail_720p")
    expect(page.locator("[data-show=ratio]")).to_be_hidden()
    page.set_input_files("#id_first_image", str(first))
    page.set_input_files("#id_last_image", str(last))
    expect(page.locator("[data-frame=last] [data-ratio]")).to_contain_text("16:9")
    page.fill("#id_prompt", "from sunset red to night blue")
    page.click("[data-submit]")
    expect(page.locator(".message.success")).to_contain_text("queued")

    cards = page.locator("[data-job]")
    expect(cards).to_have_count(2)
    seen = _watch_status(page, cards.nth(0).locator("[data-status-label]"))
    # The worker may have taken the job before the page was drawn: it starts in any state
    # before Ready, and at least three states follow one another without a reload.
    assert seen[0] in ("Queued", "Submitting", "Submitted"), seen
    assert seen[-1] == "Ready" and len(seen) >= 3, seen
    expect(cards.nth(1).locator("[data-status-label]")).to_have_text("Ready", timeout=60_000)
    assert page.evaluate("window.__samePage") is True

    # Ready videos play where they were made, large enough to judge (at least 480 px).
    cards.nth(0).locator("[data-play]").click()
    player = cards.nth(0).locator("video.feed-player")
    expect(player).to_be_visible()
    box = player.bounding_box()
    assert box is not None and box["width"] >= 480, box
    _wait_until_playing(page, player)
    for action in ("Download", "Regenerate", "Extend", "Share"):
        expect(
            cards.nth(0)
            .get_by_role("link", name=action)
            .or_(cards.nth(0).get_by_role("button", name=action))
        ).to_be_visible()
    assert page.evaluate("window.__samePage") is True
    page.screenshot(path=str(artifacts / "generate-page.png"), full_page=True)

    page.click("nav >> text=Gallery")
    tiles = page.locator("[data-job-tile]")
    expect(tiles).to_have_count(2)
    tiles.first.locator("[data-play]").click()
    video = tiles.first.locator("video")
    expect(video).to_be_visible()
    _wait_until_playing(page, video)

    page.select_option("#id_mode", "t2v_720p")
    page.click("[data-testid=filters] button[type=submit]")
    expect(tiles).to_have_count(1)
    expect(page.locator("[data-testid=totals]")).to_contain_text("1 video")
    page.screenshot(path=str(artifacts / "gallery-page.png"), full_page=True)

    tiles.first.locator("[data-pick]").check()
    page.fill("#share-form input[name=title]", "River")
    page.click("[data-share-button]")
    share_url = page.locator("[data-testid=share-url]").input_value()

    stranger = browser.new_context()
    public = stranger.new_page()
    public.goto(share_url)
    expect(public.locator("[data-testid=shared-item]")).to_have_count(1)
    expect(public.locator("video")).to_be_visible()
    html = public.content()
    assert "paper boat" in html and "sunset red" not in html
    assert "member" not in html.split("</head>")[1] and "¥" not in html
    public.screenshot(path=str(artifacts / "share-page.png"), full_page=True)

    page.once("dialog", lambda dialog: dialog.accept())
    page.click("button:has-text('Revoke')")
    expect(page.locator(".message.success")).to_contain_text("revoked")
    assert public.goto(share_url).status == 410
    expect(public.locator("[data-testid=link-gone]")).to_contain_text("no longer works")
    stranger.close()
    worker.stop()


def _watch_status(page: Page, label, timeout: float = 60.0) -> list[str]:  # type: ignore[no-untyped-def]
    """The distinct statuses a job card shows, in order, until it is ready."""
    import time

    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        text = label.text_content().strip()
        if not seen or seen[-1] != text:
            seen.append(text)
        if text in ("Ready", "Failed"):
            return seen
        page.wait_for_timeout(100)
    return seen


def _wait_until_playing(page: Page, video, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    """Our CSP forbids eval, so poll the element instead of wait_for_function."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if video.evaluate("v => v.currentTime") > 0.2:
            return
        page.wait_for_timeout(100)
    raise AssertionError("the video did not start playing")
