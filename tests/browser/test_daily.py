"""A day's work in real Chromium with a real worker: two variants from one submit
(estimated together, the form kept), the bell ringing as they finish, another take
with Regenerate, the gallery grouping the variants in one tile, and the gallery's CSV and a zip of
a selection downloaded."""

from __future__ import annotations

import csv
import io
import zipfile

import pytest
from playwright.sync_api import Page, expect

from generations.models import Generation
from tests.cast import PASSWORD, add_credential

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_variants_bell_regenerate_and_exports(
    live_server, page: Page, cast, emulator, settings, artifacts, start_worker, tmp_path
) -> None:
    settings.SANDBOX_GENERATION_SECONDS = 3
    add_credential(cast.team, emulator.volcengine_url)
    worker = start_worker()
    base = live_server.url

    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", PASSWORD)
    page.click("main form button[type=submit]")
    expect(page.locator("#generate-form")).to_be_visible()
    bell = page.locator("[data-bell-count]")
    expect(bell).to_be_hidden()

    # Two takes of one prompt: estimated together, queued together.
    page.fill("#id_prompt", "two takes of a lantern festival")
    page.select_option("#id_variants", "2")
    expect(page.locator("[data-variants-vary]")).to_be_visible()
    expect(page.locator("[data-cost]")).to_have_text("6.00 ¥")
    expect(page.locator("[data-price]")).to_contain_text("2 videos together")
    page.click("[data-submit]")
    expect(page.locator(".message.success")).to_contain_text("2 variants queued")
    # The form is kept as it was, ready for another try.
    expect(page.locator("#id_prompt")).to_have_value("two takes of a lantern festival")

    cards = page.locator("[data-job]")
    expect(cards).to_have_count(2)
    for n in range(2):
        expect(cards.nth(n).locator("[data-status-label]")).to_have_text("Ready", timeout=60_000)
    # The bell rings without a reload, and the "queued" banner has gone.
    expect(bell).to_have_text("2", timeout=15_000)
    expect(page.locator(".message.success")).to_have_count(0)
    page.screenshot(path=str(artifacts / "daily-variants.png"), full_page=True)

    # Another take of the first, in one click.
    cards.first.locator("[data-regenerate]").click()
    expect(page.locator(".message.success")).to_contain_text("another take of")
    expect(cards).to_have_count(3)
    expect(cards.first.locator("[data-status-label]")).to_have_text("Ready", timeout=60_000)
    expect(bell).to_have_text("3", timeout=15_000)

    page.click("[data-testid=bell]")
    expect(page.locator("[data-notification='job.ready']")).to_have_count(3)
    expect(page.locator("[data-bell-count]")).to_be_hidden()  # read once opened
    page.reload()
    expect(page.locator("li.unread")).to_have_count(0)

    # The gallery groups the variants; its CSV and a zip of a selection download.
    page.click("nav >> text=Gallery")
    # One tile for the regenerated take, one for the two takes of the submit: the newest
    # large, the other small beside it (three identical tiles told nothing).
    tiles = page.locator("[data-job-tile]")
    expect(tiles).to_have_count(2)
    variants = sorted(Generation.objects.filter(batch__gt="").values_list("pk", flat=True))
    group = page.locator(f"[data-job-tile='{variants[1]}']")
    expect(group.locator(f"[data-testid=variants-{variants[1]}]")).to_contain_text(
        "2 takes of one prompt"
    )
    expect(group.locator(f"[data-take='{variants[0]}'] img")).to_be_visible()
    with page.expect_download() as got:
        page.click("[data-testid=gallery-csv]")
    rows = list(csv.DictReader(io.StringIO(got.value.path().read_text("utf-8-sig"))))
    assert len(rows) == 3 and {row["prompt"] for row in rows} == {"two takes of a lantern festival"}
    assert {row["status"] for row in rows} == {"ready"}

    tiles.first.locator("[data-pick]").check()
    zip_link = page.locator("[data-testid=gallery-zip]")
    expect(zip_link).to_have_text("Download the selected videos (zip)")
    with page.expect_download() as got:
        zip_link.click()
    archive = zipfile.ZipFile(got.value.path())
    videos = [name for name in archive.namelist() if name.endswith(".mp4")]
    assert len(videos) == 1 and archive.read(videos[0])[4:8] == b"ftyp"
    page.screenshot(path=str(artifacts / "daily-gallery.png"), full_page=True)
    worker.stop()
