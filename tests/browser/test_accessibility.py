"""axe-core (from npm, node_modules/axe-core) on every page of the studio, at desktop
and phone width, in English and in Chinese: no serious or critical violation.

The pages are the mobile test's (tests/browser/test_mobile.py): a team with something
on every page. axe is injected into each page as it loaded; the context bypasses our
Content-Security-Policy for that script only (the pages themselves run under it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import Browser

from tests.browser.test_mobile import DESKTOP, PHONE, _context, _world

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE = Path(__file__).resolve().parents[2] / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")
LANGUAGES = {"en": "en-US", "zh-hans": "zh-CN"}


def _violations(page) -> list[str]:  # type: ignore[no-untyped-def]
    page.add_script_tag(path=str(AXE))
    found = page.evaluate(
        """async () => {
          const result = await axe.run(document, {resultTypes: ['violations']});
          return result.violations.map(v => ({
            id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' ') + ' ' + n.failureSummary),
          }));
        }"""
    )
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — {v['nodes']}"
        for v in found
        if v["impact"] in SERIOUS
    ]


def test_every_page_has_no_serious_accessibility_violation(
    live_server, browser: Browser, cast
) -> None:
    assert AXE.exists(), "axe-core is missing: make install fetches it from npm"
    visits = _world(cast)
    problems = []
    by_who: dict[str, list] = {}  # type: ignore[type-arg]
    for visit in visits:
        by_who.setdefault(visit.who, []).append(visit)
    for language, locale in LANGUAGES.items():
        for who, mine in by_who.items():
            for width_name, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
                context = _context(
                    browser, live_server.url, who, viewport, locale=locale, bypass_csp=True
                )
                page = context.new_page()
                for visit in mine:
                    response = page.goto(visit.path)
                    assert response is not None and response.status < 500, visit
                    lang = page.get_attribute("html", "lang")
                    assert lang == language, (visit, lang)
                    for problem in _violations(page):
                        problems.append(f"{visit.slug} ({width_name}, {language}): {problem}")
                context.close()
    assert problems == [], "\n".join(problems)
