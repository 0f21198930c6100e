"""A creator's hour in real Chromium with a real worker, all on the generate page after
it first loads: three takes of one prompt compared side by side and one kept, another
take of it, the next part of it (Extend), the chain downloaded as one MP4 (probed: one
video stream, as long as its parts), the video shared with the copy button, and the
link opened on a phone. The page is never loaded again: every action answers in place."""

from __future__ import annotations

import av
import pytest
from playwright.sync_api import Browser, Page, expect

from generations.models import Generation, ShareLink
from tests.cast import PASSWORD, add_credential

pytestmark = [pytest.mark.browser, pytest.mark.slow]

READY = 90_000  # ms: a take on a busy machine


def _ready(card) -> None:  # type: ignore[no-untyped-def]
    expect(card.locator("[data-status-label]")).to_have_text("Ready", timeout=READY)
    expect(card.locator("[data-play]")).to_be_visible(timeout=READY)  # the card came back whole


def test_a_creators_hour(
    live_server, page: Page, browser: Browser, cast, emulator, settings, artifacts, start_worker
) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 2
    add_credential(cast.team, emulator.volcengine_url)
    worker = start_worker()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("#generate-form")).to_be_visible()
    loads: list[str] = []  # every document the tab loads from here on
    page.on(
        "framenavigated",
        lambda frame: loads.append(frame.url) if frame is page.main_frame else None,
    )
    shots = artifacts / "creators-hour"
    shots.mkdir(exist_ok=True)

    # Three takes of one prompt, side by side.
    page.fill("#id_prompt", "a paper boat on a rainy canal, three ways")
    page.select_option("#id_variants", "3")
    page.click("[data-submit]")
    row = page.locator("[data-variants]").first
    takes = row.locator("[data-job]")
    expect(takes).to_have_count(3)
    for n in range(3):
        _ready(takes.nth(n))
    tops = {round(takes.nth(n).bounding_box()["y"]) for n in range(3)}  # type: ignore[index]
    assert len(tops) == 1, tops
    expect(page.locator("#id_variants")).to_have_value("3")  # the form as it was
    page.screenshot(path=str(shots / "1-three-takes.png"), full_page=True)

    # Watch the middle one inline, and keep it: the others fold away.
    middle = takes.nth(1)
    kept_id = int(middle.get_attribute("data-job") or 0)
    middle.locator("[data-play]").click()
    expect(middle.locator("video.feed-player")).to_be_visible()
    middle.locator(f"[data-testid=keep-{kept_id}]").click()
    row = page.locator("[data-variants]").first
    expect(row.locator(f"[data-testid=kept-{kept_id}]")).to_be_visible()
    expect(row.locator("[data-other-takes] [data-job]").first).to_be_hidden()
    page.screenshot(path=str(shots / "2-kept.png"), full_page=True)

    # Another take of the kept one, at the top of the feed.
    row.locator(f'[data-job="{kept_id}"] [data-regenerate]').click()
    newest = page.locator("#feed > [data-job]").first
    expect(newest).not_to_have_attribute("data-job", str(kept_id))
    take_id = int(newest.get_attribute("data-job") or 0)
    _ready(newest)

    # Its next part: Extend fills the form in place, with the frame it starts from.
    newest.locator(f"[data-testid=feed-extend-{take_id}]").click()
    expect(page.locator("[data-testid=extending]")).to_contain_text(f"#{take_id}")
    frame = page.locator("[data-testid=extending-frame]")
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=frame.element_handle()
    )
    page.fill("#id_prompt", "the boat drifts under a bridge")
    page.select_option("#id_variants", "1")
    page.click("[data-submit]")
    part = page.locator("#feed > [data-job]").first
    expect(part).not_to_have_attribute("data-job", str(take_id))
    part_id = int(part.get_attribute("data-job") or 0)
    _ready(part)
    assert Generation.objects.get(pk=part_id).extends_id == take_id

    # The chain as one MP4, asked for from the card: joined, downloaded, probed.
    part.locator(f"[data-testid=feed-chain-mp4-{part_id}]").click()
    ready = part.locator("[data-testid=chain-mp4-ready]")
    expect(ready).to_be_visible(timeout=60_000)
    with page.expect_download() as got:
        ready.click()
    with av.open(str(got.value.path())) as joined:
        assert len(joined.streams.video) == 1
        length = float(joined.duration or 0) / av.time_base
    parts = Generation.objects.filter(pk__in=(take_id, part_id))
    expected = sum(job.video_duration or 0 for job in parts)
    assert abs(length - expected) < 0.2, (length, expected)

    # Share it with the copy button; open the link on a phone.
    part.locator(f"[data-testid=feed-share-{part_id}]").click()
    copy = part.locator(f"[data-testid=copy-share-url-{part_id}]")
    copy.click()
    expect(copy).to_have_text("Copied")
    url = page.evaluate("navigator.clipboard.readText()")
    assert url.endswith(f"/s/{ShareLink.objects.get().key}/")
    page.screenshot(path=str(shots / "3-shared.png"), full_page=True)
    assert loads == [], f"full page loads after the first: {loads}"

    phone = browser.new_context(viewport={"width": 390, "height": 844})
    public = phone.new_page()
    public.goto(url)
    expect(public.locator("video")).to_be_visible()
    width = public.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    public.screenshot(path=str(shots / "4-share-on-a-phone.png"), full_page=True)
    phone.close()
    worker.stop()
