"""axe-core (vendored in tests/browser/vendor/axe-core, with its licence and version) on every main
page, as an analyst and as a senior analyst, and on the public report form and the login page:
no serious or critical violation. The pages hold data made through the services (`data`), so that
tables, flags and forms are on them.

axe is evaluated in the page through the DevTools protocol, which the page's Content Security
Policy does not govern; the page itself still loads nothing but its own files."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone
from playwright.sync_api import Browser, Page

from accounts.models import StaffProfile
from reports.assessment import Classification, case_assess
from reports.models import Case, Review, ReviewState
from routing.models import Notice
from routing.notices.responses import notice_respond
from tests import factories
from tests.browser.test_workspace_layout import logged_in_page
from tests.browser.walks import LAPTOP
from tests.routing.test_notice_link import sent_notice
from tests.test_times import ILLEGAL

AXE = Path(__file__).resolve().parent / "vendor" / "axe-core" / "axe.min.js"
BLOCKING = ("serious", "critical")


@dataclass
class Pages:
    """Something on each page: cases awaiting assessment (one with a long URL, one a contact
    check), a sent notice with a dispute, and a second opinion waiting for a senior."""

    case: Case
    notified: Case
    notice: Notice
    review: Review


@pytest.fixture
def data(settings) -> Pages:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_NOTICE_WORKING_HOURS = ""
    case = factories.awaiting_case(
        "https://gallery-hosting-12.example.com/albums/2026/some-long-path/003uudgqh.jpg", urgent=True
    )
    checked = factories.awaiting_case("https://files.example.org/x", hosting_country="DE")
    Case.objects.filter(pk=checked.pk).update(contact_check=True)
    notice, _path = sent_notice("Hoster", "https://files.example.com/a/1.jpg", "https://files.example.com/a/2.jpg")
    first, second = notice.items.order_by("pk")
    assert notice_respond(
        notice=notice, answers={first.pk: ("disputed", "it is a drawing"), second.pk: ("removed", "")}
    )
    trainee = factories.staff_user("trainee", "analyst")
    StaffProfile.objects.create(user=trainee, in_training=True)
    reviewed = factories.awaiting_case("https://example.net/review/1")
    case_assess(case=reviewed, user=trainee, classification=Classification(**ILLEGAL))
    review = Review.objects.get(case=reviewed, state=ReviewState.OPEN)
    return Pages(case, first.case, notice, review)


def staff_pages(data: Pages) -> dict[str, tuple[int, Callable[[], list[Any]]]]:
    """URL name -> (the least rank that opens it, its arguments): every main page of the workspace."""
    return {
        "workspace-queue": (1, list),
        "workspace-case": (1, lambda: [data.case.pk]),
        "workspace-case-notified": (1, lambda: [data.notified.pk]),
        "cases-list": (1, list),
        "workspace-search": (1, list),
        "worklist-mine": (1, list),
        "worklist-waiting": (1, list),
        "worklist-deadlines": (1, list),
        "worklist-held": (1, list),
        "notices-list": (1, list),
        "notices-detail": (1, lambda: [data.notice.pk]),
        "providers-list": (1, list),
        "providers-detail": (1, lambda: [data.notice.provider_id]),
        "account-settings": (1, list),
        "stats-dashboard": (1, list),
        "reviews-queue": (2, list),
        "reviews-page": (2, lambda: [data.review.pk]),
        "disputes-queue": (2, list),
        "contacts-queue": (2, list),
        "rules-list": (2, list),
        "rules-new": (2, list),
        "deadline-rules": (2, list),
        "audit-list": (2, list),
        "stats-transparency": (2, lambda: [timezone.localdate().year]),
        "providers-api": (2, lambda: [data.notice.provider_id]),
        "privacy-retention": (2, list),
        "privacy-reporter": (2, list),
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


def test_no_serious_or_critical_violation_on_any_main_page(live_server, data: Pages, browser: Browser) -> None:
    base = live_server.url
    found: list[str] = []
    visited = 0
    for role, rank in (("analyst", 1), ("senior", 2)):
        page = logged_in_page(browser, base, f"axe-{role}", role)
        for name, (least, args) in staff_pages(data).items():
            if rank < least:
                continue
            found += check(page, base + reverse(name.removesuffix("-notified"), args=args()))
            visited += 1
        page.context.close()
    public = browser.new_context(viewport=LAPTOP).new_page()
    for path in (reverse("report-form"), reverse("login")):
        found += check(public, base + path)
        visited += 1
    public.context.close()
    assert visited == 15 + 27 + 2  # the analyst's pages, the senior's, the two public ones
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
