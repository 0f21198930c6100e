"""Every page fits a phone: at 360, 390 and 430 px wide nothing scrolls sideways, in
real Chromium. Each page is also photographed at desktop and phone width into
tests/artifacts/pages/, for a look before a release."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from django.urls import URLPattern, reverse
from django.utils import timezone
from playwright.sync_api import Browser, BrowserContext

from generations import urls as studio_urls
from generations.models import ApiToken, Generation, NotificationKind, Status
from generations.services import notifications, prompts, webhooks
from generations.services.invitations import invite
from generations.services.sharing import create_share
from tests.cast import PASSWORD, add_credential
from tests.pipeline import make_job, mark_ready

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE_WIDTHS = (360, 390, 430)
PHONE, DESKTOP = {"width": 390, "height": 844}, {"width": 1280, "height": 900}

# Addresses that are not pages: actions (POST), JSON, media, callbacks and redirects.
NOT_PAGES = {
    "healthz",
    "readyz",
    "set_language",
    "logout",
    "password_reset_confirm",  # needs a mailed token; the same template as password_change
    "password_reset_complete",
    "password_change_done",
    "media",
    "public-media",
    "ark-callback",
    "estimate",
    "jobs-status",
    "job-cancel",
    "job-retry",
    "job-final",
    "job-regenerate",
    "notification-email",
    "job-favourite",
    "job-keep",
    "job-card",  # a part of the generate page, swapped in by it
    "job-tags",
    "job-delete",
    "prompt-template-create",
    "prompt-template-delete",
    "gallery-csv",
    "gallery-zip",
    "ledger-csv",
    "share-zip",
    "public-share-zip",
    "job-media",
    "share-create",
    "share-revoke",
    "team-leave",
    "member-role",
    "member-remove",
    "member-budget",
    "invitation-create",
    "invitation-revoke",
    "api-token-revoke",
    "api-webhook-delete",
    "api-webhook-ping",
    "api-delivery-resend",
    "credential-test",
    "credential-default",
    "credential-delete",
}


@dataclass(frozen=True)
class Visit:
    name: str  # the URL's name
    path: str
    who: str  # a cast role, or "anonymous"
    label: str = ""

    @property
    def slug(self) -> str:
        return self.label or self.name


def _world(cast) -> list[Visit]:  # type: ignore[no-untyped-def]
    """A team with something on every page: jobs in each state (one with a long
    unbroken prompt), a chain, a share link, an invitation, a token, a webhook."""
    credential = add_credential(cast.team)
    long_prompt = "a_very_long_unbroken_prompt_" * 12 + " 一只纸船漂过河流" * 6
    ready = mark_ready(make_job(cast.team, prompt=long_prompt, user=cast.member, seed=42))
    follow = mark_ready(make_job(cast.team, "i2v_first_720p", user=cast.member))
    Generation.objects.filter(pk=follow.pk).update(extends=ready)
    failed = make_job(cast.team, user=cast.member)
    Generation.objects.filter(pk=failed.pk).update(
        status=Status.FAILED, failure_code="50413", finished_at=timezone.now()
    )
    make_job(cast.team, user=cast.member)  # queued
    # Two takes of one submit: side by side on a desktop, a row to swipe on a phone.
    takes = [mark_ready(make_job(cast.team, user=cast.member)) for _ in range(2)]
    Generation.objects.filter(pk__in=[take.pk for take in takes]).update(batch="phone-takes")
    notifications.job_finished(ready.pk, NotificationKind.JOB_READY)
    notifications.job_finished(failed.pk, NotificationKind.JOB_FAILED)
    link = create_share(
        team=cast.team, user=cast.owner, generation_ids=[ready.pk], title="Phone", expires_at=None
    )
    chain_link = create_share(
        team=cast.team,
        user=cast.owner,
        generation_ids=[ready.pk, follow.pk],
        title="Chain",
        expires_at=None,
    )
    owner = cast.team.memberships.get(user=cast.owner)
    _invitation, token = invite(actor=owner, role="member", email="")
    prompts.save_template(
        team=cast.team, user=cast.owner, name="Lantern", prompt=long_prompt, mode="t2v_720p"
    )
    ApiToken.issue(team=cast.team, user=cast.owner, name=("a script with a long name " * 3)[:60])
    webhooks.add(
        team=cast.team,
        url="https://hooks.example.com/" + "deep/" * 20 + "jimeng",
        events=["job.ready"],
        user=cast.owner,
    )
    slug = cast.team.slug
    team = {"slug": slug}
    return [
        Visit("home", reverse("home"), "owner"),
        Visit("team-list", reverse("team-list"), "owner"),
        Visit("notifications", reverse("notifications"), "member"),
        Visit("studio", reverse("studio", kwargs=team), "owner"),
        Visit("studio", reverse("studio", kwargs=team), "viewer", "studio-viewer"),
        Visit("job-detail", reverse("job-detail", args=[slug, ready.pk]), "owner"),
        Visit("job-detail", reverse("job-detail", args=[slug, failed.pk]), "owner", "job-failed"),
        Visit("job-chain", reverse("job-chain", args=[slug, follow.pk]), "owner"),
        # The page that waits while a chain is joined into one MP4 (the first visit).
        Visit("job-chain-mp4", reverse("job-chain-mp4", args=[slug, follow.pk]), "owner"),
        Visit("gallery", reverse("gallery", kwargs=team), "owner"),
        Visit("prompt-templates", reverse("prompt-templates", kwargs=team), "owner"),
        Visit("share-list", reverse("share-list", kwargs=team), "owner"),
        Visit("team-detail", reverse("team-detail", kwargs=team), "owner"),
        Visit("api-tokens", reverse("api-tokens", kwargs=team), "owner"),
        Visit("api-webhooks", reverse("api-webhooks", kwargs=team), "owner"),
        Visit("credential-list", reverse("credential-list", kwargs=team), "owner"),
        Visit("credential-create", reverse("credential-create", kwargs=team), "owner"),
        Visit("credential-edit", reverse("credential-edit", args=[slug, credential.pk]), "owner"),
        Visit("password_change", reverse("password_change"), "owner"),
        Visit("login", reverse("login"), "anonymous"),
        Visit("signup", reverse("signup"), "anonymous"),
        Visit("password_reset", reverse("password_reset"), "anonymous"),
        Visit("password_reset_done", reverse("password_reset_done"), "anonymous"),
        Visit("invitation-accept", reverse("invitation-accept", args=[token]), "anonymous"),
        Visit("public-share", reverse("public-share", args=[link.key]), "anonymous"),
        Visit("public-share", reverse("public-share", args=["gone"]), "anonymous", "share-gone"),
        Visit(
            "public-chain-mp4",
            reverse("public-chain-mp4", args=[chain_link.key, ready.pk]),
            "anonymous",
        ),
    ]


def _context(
    browser: Browser, base: str, who: str, viewport: dict[str, int], **options: Any
) -> BrowserContext:
    context = browser.new_context(viewport=viewport, base_url=base, **options)  # type: ignore[arg-type]
    if who != "anonymous":
        page = context.new_page()
        page.goto("/accounts/login/")
        page.fill("#id_username", who)
        page.fill("#id_password", PASSWORD)
        page.click("main form button[type=submit]")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        page.close()
    return context


def _overflow(page) -> dict[str, object]:  # type: ignore[no-untyped-def]
    """How wide the page is against the window, and what sticks out if it is wider."""
    return page.evaluate(
        """() => {
          const width = window.innerWidth;
          const wide = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .slice(0, 5)
            .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
          return {scroll: document.documentElement.scrollWidth, width, wide};
        }"""
    )


def _cut_step_labels(page, *, phone: bool) -> list[str]:  # type: ignore[no-untyped-def]
    """A job card's step pills whose label does not fit ("Generat…"). On a phone only the
    current step carries its label; the others are dots."""
    return page.evaluate(
        """(phone) => [...document.querySelectorAll('.steps li')]
          .filter(li => !phone || li.classList.contains('current'))
          .filter(li => li.scrollWidth > li.clientWidth + 1)
          .map(li => li.textContent.trim())""",
        phone,
    )


def _small_targets(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Controls smaller than 24×24 CSS px (WCAG 2.2, 2.5.8), but for links inside a
    sentence, which the criterion leaves out; primary actions smaller than 44×44."""
    return page.evaluate(
        """() => {
          const controls = 'a, button, input, select, textarea, summary, [role=button]';
          const inSentence = (el) => {
            const parent = el.parentElement;
            return el.tagName === 'A' && getComputedStyle(el).display === 'inline'
              && parent && /^(P|LI|SPAN|TD|DD)$/.test(parent.tagName)
              && parent.textContent.trim().length > el.textContent.trim().length + 10;
          };
          const small = [];
          for (const el of document.querySelectorAll(controls)) {
            const box = el.getBoundingClientRect();
            if (el.type === 'hidden' || !box.width || !box.height) continue;
            if (getComputedStyle(el).visibility === 'hidden' || inSentence(el)) continue;
            // A primary action (a full-size button) at least 44 × 44, anything else 24 × 24.
            const least = el.matches('.button:not(.small)') ? 44 : 24;
            if (box.width >= least && box.height >= least) continue;
            const name = (el.textContent || el.name || el.type || '').trim().slice(0, 15);
            const size = `${Math.round(box.width)}×${Math.round(box.height)}`;
            small.push(`${el.tagName.toLowerCase()}.${el.className}[${name}] ${size}`);
          }
          return small;
        }"""
    )


def _actions_out_of_view(page) -> list[str]:  # type: ignore[no-untyped-def]
    """Buttons, links and fields in a table, and the navigation's items, that lie outside
    the window sideways: cut off, or reachable only by scrolling something nobody knows
    scrolls."""
    return page.evaluate(
        """() => [...document.querySelectorAll(
              'table a, table button, table input:not([type=hidden]), table select, nav a')]
          .filter(el => {
            const box = el.getBoundingClientRect();
            return box.width && (box.right > window.innerWidth + 1 || box.left < -1);
          })
          .map(el => (el.textContent || el.name || '').trim().slice(0, 20))"""
    )


def _page_names() -> set[str]:
    """Every named address of the studio that is a page."""
    named = {
        pattern.name
        for pattern in studio_urls.urlpatterns
        if isinstance(pattern, URLPattern) and pattern.name
    }
    return named - NOT_PAGES


def test_every_page_fits_a_phone(live_server, browser: Browser, cast, artifacts) -> None:
    visits = _world(cast)
    assert {visit.name for visit in visits} == _page_names()  # a new page is visited too
    shots = artifacts / "pages"
    shots.mkdir(exist_ok=True)
    problems = []
    by_who: dict[str, list[Visit]] = {}
    for visit in visits:
        by_who.setdefault(visit.who, []).append(visit)
    for who, mine in by_who.items():
        for viewport_name, viewport in (("mobile", PHONE), ("desktop", DESKTOP)):
            context = _context(browser, live_server.url, who, viewport)
            page = context.new_page()
            for visit in mine:
                response = page.goto(visit.path)
                assert response is not None and response.status < 500, visit
                page.screenshot(
                    path=str(shots / f"{visit.slug}-{viewport_name}.png"), full_page=True
                )
                cut = _cut_step_labels(page, phone=viewport_name == "mobile")
                if cut:
                    problems.append(f"{visit.slug} ({viewport_name}): step labels cut: {cut}")
                small = _small_targets(page)
                if small:
                    problems.append(f"{visit.slug} ({viewport_name}): small targets: {small}")
                if viewport_name == "desktop":
                    continue
                for width in PHONE_WIDTHS:
                    page.set_viewport_size({"width": width, "height": 844})
                    found = _overflow(page)
                    if found["scroll"] > found["width"]:
                        problems.append(f"{visit.slug} at {width}px: {found}")
                    hidden = _actions_out_of_view(page)
                    if hidden:
                        problems.append(f"{visit.slug} at {width}px: out of view: {hidden}")
                page.set_viewport_size(PHONE)
            context.close()
    assert problems == [], "\n".join(problems)


def test_request_parameters_are_shown_whole(live_server, browser: Browser, cast) -> None:
    add_credential(cast.team)
    job = mark_ready(make_job(cast.team, prompt="word " * 200, user=cast.member, seed=42))
    context = _context(browser, live_server.url, "member", PHONE)
    page = context.new_page()
    page.goto(reverse("job-detail", args=[cast.team.slug, job.pk]))
    params = page.locator("[data-testid=params]")
    sizes = params.evaluate(
        "el => [el.scrollWidth, el.clientWidth, el.scrollHeight, el.clientHeight]"
    )
    assert sizes[0] <= sizes[1] and sizes[2] <= sizes[3], sizes
    assert '"seed": 42' in params.inner_text()
    context.close()


def test_the_gallery_filters_fold_behind_a_button_on_a_phone(
    live_server, browser: Browser, cast
) -> None:
    add_credential(cast.team)
    mark_ready(make_job(cast.team, user=cast.member))
    for viewport, folded in ((PHONE, True), (DESKTOP, False)):
        context = _context(browser, live_server.url, "member", viewport)
        page = context.new_page()
        page.goto(reverse("gallery", args=[cast.team.slug]))
        filters = page.locator("[data-testid=filters]")
        assert filters.is_visible() is not folded
        if folded:
            page.click("[data-testid=filters-toggle]")
            assert filters.is_visible()
            page.select_option("#id_status", "ready")
            page.click("[data-testid=filters] button[type=submit]")
            assert filters.is_visible()  # a filter on: shown, so one sees what is filtered
        context.close()
