"""Copy buttons beside the secrets shown once: a new API token, an invitation link and
a share link land on the clipboard in one click, and the button says so."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from tests.cast import PASSWORD, add_credential
from tests.web.helpers import ready_job

pytestmark = [pytest.mark.browser]


def test_secrets_shown_once_are_copied_in_one_click(live_server, browser: Browser, cast) -> None:
    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"])
    page = context.new_page()
    base = live_server.url
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", "owner")
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")

    def copied(button: str, field: str) -> None:
        page.click(f"[data-testid={button}]")
        expect(page.locator(f"[data-testid={button}]")).to_have_text("Copied")
        value = page.input_value(field)
        assert value and page.evaluate("navigator.clipboard.readText()") == value

    page.goto(f"{base}/t/team-a/api/")
    page.fill("#id_name", "ci script")
    page.click("text=Create token")
    copied("copy-new-token", "#new-token")

    page.goto(f"{base}/t/team-a/team/")
    page.click("text=Create invitation link")
    copied("copy-invitation-url", "#invitation-url")

    add_credential(cast.team)
    job = ready_job(cast.team)
    page.goto(f"{base}/t/team-a/gallery/")
    page.locator(f"input[data-pick][value='{job.pk}']").check()
    page.click("[data-share-button]")
    copied("copy-share-url", "#share-url")
    context.close()
