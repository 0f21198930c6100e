"""A person's journey in real Chromium: sign up, make a team, invite a colleague who
joins on signing up, save a Volcengine key and test it against the emulator."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.conftest import SANDBOX_AK, SANDBOX_SK

pytestmark = pytest.mark.browser
PASSWORD = "a-long-browser-password-31"


def _sign_up(page: Page, base: str, username: str, next_path: str = "") -> None:
    page.goto(f"{base}/accounts/signup/" + (f"?next={next_path}" if next_path else ""))
    page.fill("#id_username", username)
    page.fill("#id_email", f"{username}@example.com")
    page.fill("#id_password1", PASSWORD)
    page.fill("#id_password2", PASSWORD)
    page.click("form button[type=submit]")


def test_team_journey(emulator, page: Page, browser: Browser, artifacts, settings) -> None:
    base = emulator.base_url  # the live server, which serves the emulator too
    _sign_up(page, base, "founder")
    expect(page).to_have_url(f"{base}/teams/")
    page.fill("#id_name", "Kite Studio")
    page.click("text=Create team")
    expect(page.locator("[data-testid=current-team]")).to_have_text("Kite Studio")

    page.click("nav >> text=Team")
    page.select_option("#id_role", "member")
    page.click("text=Create invitation link")
    invitation_url = page.locator("[data-testid=invitation-url]").input_value()
    assert re.match(rf"{re.escape(base)}/invite/\S+", invitation_url)

    colleague = browser.new_context()
    other = colleague.new_page()
    _sign_up(other, base, "colleague", next_path=invitation_url.removeprefix(base))
    # Signing up from the link joins at once: no second "Accept invitation" click.
    expect(other.locator("[data-testid=current-team]")).to_have_text("Kite Studio")
    expect(other.locator(".message.success")).to_contain_text("Welcome to Kite Studio.")
    colleague.close()

    page.reload()
    expect(page.locator("[data-testid=member-colleague]")).to_be_visible()
    page.screenshot(path=str(artifacts / "team-page.png"), full_page=True)

    page.click("nav >> text=Keys")
    page.click("text=Add a key")
    expect(page.locator("input[value=volcengine]")).to_be_checked()  # never "---------"
    assert page.locator("input[name=kind]").count() == 3
    page.check("input[value=ark]")
    expect(page.locator("#id_access_key")).to_be_hidden()  # Ark keys are one Bearer key
    page.check("input[value=volcengine]")
    expect(page.locator("#id_access_key")).to_be_visible()
    page.fill("#id_label", "Emulator key")
    page.fill("#id_endpoint", f"{base}/sandbox/volcengine/")
    page.fill("#id_access_key", SANDBOX_AK)
    page.fill("#id_secret", SANDBOX_SK)
    page.click("form button[type=submit]")
    expect(page.locator(".message.success")).to_contain_text("Key saved")
    page.click("button:has-text('Test connection')")
    expect(page.locator(".message.success")).to_contain_text("Keys valid")
    html = page.content()
    assert SANDBOX_SK not in html and SANDBOX_AK not in html
    page.screenshot(path=str(artifacts / "credentials-page.png"), full_page=True)
