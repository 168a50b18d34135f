"""A deadline breach as a senior analyst sees it at 1366x768: the case page's red timer with the
rule and the evidence links, the worklist's breached filter, and the rules page."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

from django.utils import timezone
from playwright.sync_api import Browser

from reports.assessment import Classification, case_assess
from routing.deadlines.escalation import deadlines_sweep
from routing.models import DeadlineRule, Provider
from tests import factories
from tests.browser.test_workspace_layout import logged_in_page

ILLEGAL = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def test_a_senior_sees_a_breached_deadline_on_the_case_and_the_worklist(live_server, browser: Browser) -> None:
    provider = Provider.objects.create(name="Slow Hosting", abuse_emails=["abuse@slow.example"], country="NL")
    DeadlineRule.objects.create(name="Removal order (1 h)", hours=1, starts_at="verdict", country="NL")
    DeadlineRule.objects.create(name="Agreed with providers (24 h)", hours=24, starts_at="notice")
    late = factories.awaiting_case(
        "https://slow.example.com/albums/2026/x.jpg", hosting_country="NL", provider=provider
    )
    fresh = factories.awaiting_case(
        "https://slow.example.com/albums/2026/y.jpg", hosting_country="NL", provider=provider
    )
    case_assess(case=late, user=None, classification=Classification(**ILLEGAL))  # type: ignore[arg-type]
    # The first verdict's deadline passes (the sweep marks it), the second's has an hour left.
    deadlines_sweep(now=timezone.now() + timedelta(hours=2))
    case_assess(case=fresh, user=None, classification=Classification(**ILLEGAL))  # type: ignore[arg-type]
    shots = os.environ.get("SCART_DEADLINE_SHOTS")
    page = logged_in_page(browser, live_server.url, "sen", "senior")
    page.goto(f"{live_server.url}/cases/{fresh.pk}/")
    badge = page.locator("#deadline .badge")
    assert "left" in badge.inner_text() and "text-bg-warning" in (badge.get_attribute("class") or "")
    assert page.locator("#deadline a", has_text="PDF").count() == 1
    if shots:
        page.screenshot(path=str(Path(shots) / "case.png"))
    page.goto(f"{live_server.url}/work/deadlines/?show=all")
    rows = page.locator("table tbody tr")
    assert rows.count() == 2
    assert "overdue by 1 h" in rows.first.inner_text()  # least time left first
    if shots:
        page.screenshot(path=str(Path(shots) / "worklist.png"), full_page=True)
    page.goto(f"{live_server.url}/deadlines/rules/")
    assert page.locator("table tbody tr").count() == 2
    if shots:
        page.screenshot(path=str(Path(shots) / "rules.png"))
    page.get_by_role("link", name="New rule").click()
    page.fill("input[name='name']", "ACM removal order (1 h)")
    page.select_option("select[name='notice_kind']", "provider")
    page.fill("input[name='hours']", "1")
    if shots:
        page.screenshot(path=str(Path(shots) / "rule_form.png"))
    page.get_by_role("button", name="Create the rule").click()
    page.wait_for_url("**/deadlines/rules/")
    assert page.locator("table tbody tr").count() == 3
    page.context.close()
