"""The generate page says before Generate what the server would say after it: in real
Chromium, each thing the server refuses keeps Generate off with the server's own words
next to it, and the same form forced through gets the same words back from the server."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from generations.models import Generation
from tests import images
from tests.cast import PASSWORD, add_credential
from tests.conftest import SANDBOX_ARK_KEY

pytestmark = [pytest.mark.browser]


@pytest.fixture
def signed_in(live_server, page: Page, cast, emulator) -> Page:  # type: ignore[no-untyped-def]
    add_credential(cast.team, emulator.volcengine_url)
    add_credential(
        cast.team, emulator.ark_url, access_key="", secret=SANDBOX_ARK_KEY, kind="ark",
        default=False, label="Ark",
    )  # fmt: skip
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "member")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")
    expect(page.locator("#generate-form")).to_be_visible()
    return page


def _blocked_by(page: Page, text: str) -> None:
    expect(page.locator("[data-submit]")).to_be_disabled()
    expect(page.locator("[data-testid=blocked]")).to_be_visible()
    expect(page.locator("[data-testid=blocked] li")).to_contain_text([text])


def _server_says(page: Page, text: str) -> None:
    """The form sent anyway, past the disabled button: the server refuses with the same
    words."""
    with page.expect_navigation():
        page.evaluate("document.getElementById('generate-form').submit()")
    expect(page.locator(".errorlist").filter(has_text=text)).to_have_count(1)
    assert not Generation.objects.exists()


def test_a_long_paste_is_not_cut_and_generate_waits(signed_in: Page) -> None:
    page = signed_in
    # Nothing typed yet: Generate waits, and says so calmly (nothing is wrong).
    blocked = page.locator("[data-testid=blocked]")
    expect(blocked).to_contain_text("To generate:")
    expect(blocked).to_have_class("message info")
    page.fill("#id_prompt", "a" * 2001)
    expect(blocked).to_contain_text("Generate is off until this is fixed:")
    expect(blocked).to_have_class("message warning")
    assert page.eval_on_selector("#id_prompt", "e => e.value.length") == 2001
    words = "The prompt has 2001 characters; Text to video · 720P takes at most 800."
    _blocked_by(page, words)
    # Past 2,000 the form's own field limit speaks first; the page said the mode's.
    _server_says(page, "The prompt has 2001 characters; at most 2000 are taken.")
    page.fill("#id_prompt", "a" * 801)
    _blocked_by(page, "The prompt has 801 characters; Text to video · 720P takes at most 800.")
    _server_says(page, "The prompt has 801 characters; Text to video · 720P takes at most 800.")
    page.fill("#id_prompt", "a kite")
    expect(page.locator("[data-submit]")).to_be_enabled()
    expect(page.locator("[data-testid=blocked]")).to_be_hidden()


def test_files_the_server_would_refuse_are_refused_before_upload(signed_in: Page, tmp_path) -> None:
    page = signed_in
    page.select_option("#id_mode", "i2v_first_720p")
    expect(page.locator("[data-testid=image-limits]")).to_have_text(
        "JPEG, PNG or WebP, at most 20 MB; width ÷ height between 0.33 and 3."
    )
    _blocked_by(page, "needs 1 image(s): add the first frame.")
    page.fill("#id_prompt", "the boat sails")

    big = tmp_path / "big.jpg"
    big.write_bytes(images.solid(64, 64) + b"\0" * (30 * 1024 * 1024))
    page.set_input_files("#id_first_image", str(big))
    _blocked_by(page, "The file is larger than 20 MB.")
    _server_says(page, "The file is larger than 20 MB.")

    page.select_option("#id_mode", "i2v_first_720p")
    page.fill("#id_prompt", "the boat sails")
    fake = tmp_path / "notes.jpg"
    fake.write_text("not a picture at all")
    page.set_input_files("#id_first_image", str(fake))
    _blocked_by(page, "The file is not a JPEG, PNG or WebP image.")
    _server_says(page, "The file is not a JPEG, PNG or WebP image.")

    page.select_option("#id_mode", "i2v_first_720p")
    page.fill("#id_prompt", "the boat sails")
    good = tmp_path / "good.jpg"
    good.write_bytes(images.solid(1280, 720))
    page.set_input_files("#id_first_image", str(good))
    expect(page.locator("[data-submit]")).to_be_enabled()


def test_a_private_image_address_is_refused_before_it_becomes_a_job(signed_in: Page) -> None:
    page = signed_in
    page.select_option("#id_mode", "i2v_first_720p")
    page.fill("#id_prompt", "the boat sails")
    page.fill("#id_first_image_url", "http://10.1.2.3/boat.jpg")
    words = "This is a private or local address, which the video service cannot fetch"
    _blocked_by(page, words)
    _server_says(page, words)
    page.select_option("#id_mode", "i2v_first_720p")
    page.fill("#id_prompt", "the boat sails")
    for address in (
        "http://localhost:8000/a.jpg",
        "http://[::1]/a.jpg",
        "http://100.64.0.1/a.png",
        "http://172.31.255.1/a.png",
        "http://192.168.0.9/a.png",
    ):
        page.fill("#id_first_image_url", address)
        _blocked_by(page, words)
    page.fill("#id_first_image_url", "http://172.32.0.1/boat.jpg")  # just past 172.16/12
    expect(page.locator("[data-submit]")).to_be_enabled()
    page.fill("#id_first_image_url", "https://images.example.com/boat.jpg")
    expect(page.locator("[data-submit]")).to_be_enabled()


def test_a_draft_is_480p_and_nothing_else_can_be_chosen(signed_in: Page) -> None:
    page = signed_in
    page.select_option("#id_mode", "seedance_1_5_pro")
    expect(page.locator("[data-testid=image-limits]")).to_contain_text("between 0.4 and 2.5")
    page.select_option("#id_resolution", "720p")
    page.fill("#id_prompt", "rain on a tiled roof")
    page.check("#id_draft")
    expect(page.locator("#id_resolution")).to_have_value("480p")
    assert page.eval_on_selector("#id_resolution option[value='720p']", "o => o.disabled")
    page.click("[data-submit]")
    expect(page.locator(".message.success")).to_contain_text("queued")
    job = Generation.objects.get()
    assert job.draft and job.resolution == "480p"
    page.uncheck("#id_draft")
    assert not page.eval_on_selector("#id_resolution option[value='720p']", "o => o.disabled")


def test_after_submit_on_a_phone_the_new_job_is_in_view(signed_in: Page) -> None:
    page = signed_in
    page.set_viewport_size({"width": 390, "height": 844})
    page.fill("#id_prompt", "a kite over the lake")
    page.click("[data-submit]")
    expect(page.locator(".message.success")).to_contain_text("queued")
    job = Generation.objects.get()
    card = page.locator(f'[data-job="{job.pk}"]')
    expect(card).to_be_in_viewport()


def test_frames_kept_from_a_submit_show_and_can_be_removed(signed_in: Page, tmp_path) -> None:
    page = signed_in
    page.select_option("#id_mode", "i2v_first_720p")
    page.fill("#id_prompt", "the boat sails")
    frame = tmp_path / "frame.jpg"
    frame.write_bytes(images.solid(1280, 720))
    page.set_input_files("#id_first_image", str(frame))
    page.click("[data-submit]")
    expect(page.locator(".message.success")).to_contain_text("queued")
    # Submitted in place: the form still holds the file and shows it.
    assert page.eval_on_selector("#id_first_image", "input => input.files.length") == 1
    expect(page.locator("[data-frame=first] img[data-preview]")).to_be_visible()
    expect(page.locator("[data-submit]")).to_be_enabled()
    # Reuse settings (from the job page) brings the frames back as pictures of them.
    job = Generation.objects.get()
    page.goto(page.url.split("?")[0] + f"?from={job.pk}")
    kept = page.locator("[data-testid=reused-frames]")
    thumbnail = kept.locator("img")
    expect(thumbnail).to_have_count(1)  # a picture of the frame, not "No file chosen"
    thumbnail.scroll_into_view_if_needed()  # it loads lazily
    page.wait_for_function(
        "img => img.complete && img.naturalWidth > 0", arg=thumbnail.element_handle()
    )
    expect(page.locator("[data-submit]")).to_be_enabled()
    page.click("[data-testid=forget-reused]")
    expect(kept).to_have_count(0)
    assert page.input_value("input[name=reuse_images_from]") == ""
    _blocked_by(page, "needs 1 image(s): add the first frame.")


def test_a_template_for_another_mode_asks_before_it_changes_the_price(
    signed_in: Page, cast
) -> None:
    from generations.services import prompts

    page = signed_in
    prompts.save_template(
        team=cast.team, user=cast.owner, name="Lanterns", prompt="lanterns over water",
        mode="t2v_1080p",
    )  # fmt: skip
    page.reload()
    expect(page.locator("#id_mode")).to_have_value("t2v_720p")
    expect(page.locator("[data-cost]")).to_have_text("3.00 ¥")
    page.select_option("#prompt-templates", label="Lanterns")
    notice = page.locator("[data-template-switch]")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("Text to video · 1080P")
    expect(notice).to_contain_text("now Text to video · 720P")
    # Nothing changed yet: not the mode, not the price.
    expect(page.locator("#id_mode")).to_have_value("t2v_720p")
    expect(page.locator("[data-cost]")).to_have_text("3.00 ¥")
    page.click("[data-testid=template-switch-no]")
    expect(notice).to_be_hidden()
    expect(page.locator("#id_prompt")).to_have_value("lanterns over water")
    expect(page.locator("#id_mode")).to_have_value("t2v_720p")
    page.fill("#id_prompt", "")
    page.select_option("#prompt-templates", label="Lanterns")
    page.click("[data-testid=template-switch-yes]")
    expect(page.locator("#id_mode")).to_have_value("t2v_1080p")
    expect(page.locator("#id_prompt")).to_have_value("lanterns over water")
    expect(page.locator("[data-cost]")).not_to_have_text("3.00 ¥")
