"""axe-core (vendored in tests/browser/vendor/axe-core, with its licence and version) on every main
page, as an analyst and as a senior analyst, and on the public report form and the login page:
no serious or critical violation. The pages hold the world of tests/world.py, built through the
services and the local peers, so that tables, flags and forms are all on them.

axe is evaluated in the page through the DevTools protocol, which the page's Content Security
Policy does not govern; the page itself still loads nothing but its own scripts."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.models import Review, ReviewState
from routing.models import Notice
from tests.browser.test_workspace_layout import LAPTOP, logged_in_page
from tests.world import World, build_world, world_settings

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@pytest.fixture
def world(settings, fake_dns, fake_rdap) -> Iterator[World]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        yield build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp)


def staff_pages(world: World) -> dict[str, tuple[int, Callable[[], list[Any]]]]:
    """URL name -> (the least rank that opens it, its arguments). Pages other parts of the
    workspace add are checked as soon as their URL name exists."""
    review = Review.objects.filter(state=ReviewState.OPEN).first()
    notice = Notice.objects.order_by("pk").first()
    assert review is not None and notice is not None
    return {
        "workspace-queue": (1, list),
        "workspace-case": (1, lambda: [world.cases["cdn"].pk]),
        "cases-list": (1, list),
        "workspace-search": (1, list),
        "worklist-mine": (1, list),
        "worklist-waiting": (1, list),
        "worklist-deadlines": (1, list),
        "worklist-held": (1, list),
        "notices-list": (1, list),
        "notices-detail": (1, lambda: [notice.pk]),
        "providers-list": (1, list),
        "stats-dashboard": (1, list),
        "reviews-queue": (2, list),
        "reviews-page": (2, lambda: [review.pk]),
        "disputes-queue": (2, list),
        "contacts-queue": (2, list),
        "rules-list": (2, list),
        "rules-new": (2, list),
        "deadline-rules": (2, list),
        "audit-list": (2, list),
        "stats-transparency": (2, lambda: [timezone.localdate().year]),
    }


def violations(page: Page) -> list[str]:
    """The serious and critical violations axe finds on the page, one line each."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate("async () => (await axe.run(document)).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {', '.join(str(n['target']) for n in v['nodes'][:3])}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def check(page: Page, url: str) -> list[str]:
    response = page.goto(url)
    assert response is not None and response.status < 400, (url, response and response.status)
    return [f"{url}: {line}" for line in violations(page)]


def test_no_serious_or_critical_violation_on_any_main_page(live_server, browser: Browser, world: World) -> None:
    base = live_server.url
    found: list[str] = []
    visited = 0
    for role, rank in (("analyst", 1), ("senior", 2)):
        page = logged_in_page(browser, base, f"axe-{role}", role)
        for name, (least, args) in staff_pages(world).items():
            if rank < least:
                continue
            try:
                path = reverse(name, args=args())
            except NoReverseMatch:
                continue  # a page not built yet
            found += check(page, base + path)
            visited += 1
        page.context.close()
    public = browser.new_context(viewport=LAPTOP).new_page()
    for path in (reverse("report-form"), reverse("login")):
        found += check(public, base + path)
        visited += 1
    public.context.close()
    assert visited >= 19  # the pages of main today; more as other parts of the workspace land
    assert not found, "\n".join(found)


def test_axe_finds_what_it_is_meant_to_find(live_server, browser: Browser) -> None:
    """The check can fail: a page with an unlabelled field and text too faint to read."""
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.goto(live_server.url + reverse("report-form"))
    page.evaluate(
        """() => {
          const input = document.createElement('input');
          input.type = 'text';
          document.querySelector('main').append(input);
          const faint = document.createElement('p');
          faint.textContent = 'faint';
          faint.style.color = '#eeeeee';
          document.querySelector('main').append(faint);
        }"""
    )
    found = violations(page)
    assert any(line.startswith("label ") for line in found), found
    assert any(line.startswith("color-contrast ") for line in found), found
    page.context.close()
