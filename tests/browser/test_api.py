"""An admin's API journey in real Chromium: make a token and use it, add a webhook and
see its test event arrive signed at a local receiver, revoke the token; and the
browsable API docs work under the studio's Content Security Policy."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from generations.models import ApiToken, Webhook
from generations.services import webhooks
from tests.cast import PASSWORD
from tests.local_http import local_server
from tests.queue import run_queued

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page: Page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", PASSWORD)
    page.click("form button[type=submit]")


def test_api_journey(cast, live_server, page: Page, artifacts, settings) -> None:
    base = live_server.url
    page.on("dialog", lambda dialog: dialog.accept())
    _sign_in(page, base, "admin")
    page.goto(f"{base}/t/team-a/")
    page.click("nav >> text=API")
    page.fill("#id_name", "notebook")
    page.select_option("#id_expires_in_days", "90")
    page.click("text=Create token")
    token = page.locator("#new-token").input_value()
    assert token.startswith("jst_")
    page.screenshot(path=str(artifacts / "api-tokens.png"), full_page=True)

    me = page.request.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert me.status == 200 and me.json()["role"] == "admin"
    page.reload()  # shown once: gone after a reload (and the reload made no other token)
    expect(page.locator("#new-token")).to_have_count(0)
    expect(page.locator("[data-testid=last-used]")).not_to_contain_text("never")
    assert ApiToken.objects.count() == 1

    with local_server() as receiver:
        settings.WEBHOOK_TRUSTED_URLS = [f"{receiver.url}/"]
        page.click("text=Webhooks")
        page.fill("#id_url", f"{receiver.url}/jimeng")
        page.click("text=Add webhook")
        secret = page.locator("#new-secret").input_value()
        page.reload()
        expect(page.locator("#new-secret")).to_have_count(0)
        assert secret == Webhook.objects.get().secret
        page.click("text=Send a test event")
        expect(page.locator(".message.success")).to_contain_text("test event")
        assert run_queued(webhooks.deliver) == ["HTTP 200"]
        page.reload()
        expect(page.locator("[data-testid=deliveries]")).to_contain_text("Delivered")
        assert receiver.received[0].headers["X-Jimeng-Event"] == "ping"
        page.screenshot(path=str(artifacts / "api-webhooks.png"), full_page=True)

    page.click("text=Access tokens")
    page.click("[data-testid^=token-] >> text=Revoke")
    expect(page.locator(".message.success")).to_contain_text("revoked")
    gone = page.request.get(f"{base}/api/v1/me", headers={"Authorization": f"Bearer {token}"})
    assert gone.status == 401


def test_the_api_docs_render_under_the_csp(live_server, page: Page, artifacts) -> None:
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.goto(f"{live_server.url}/api/v1/docs")
    expect(page.locator(".swagger-ui .title")).to_contain_text("Jimeng Studio API")
    expect(page.locator(".opblock-summary-path").first).to_be_visible()
    assert page.get_by_text("/api/v1/generations", exact=True).count() > 0
    page.screenshot(path=str(artifacts / "api-docs.png"), full_page=True)
    assert not problems, problems
    # A way back to the studio from the docs.
    back = page.get_by_role("link", name="← Back to Jimeng Studio")
    expect(back).to_be_visible()
    assert back.get_attribute("href") == "/"
