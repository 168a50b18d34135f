"""A deadline breach end to end at 1366x768: a senior sets a rule on its page, a case comes in
through intake, is resolved against the local DNS and RDAP peers, judged illegal and notified to its
host through the local SMTP peer; time moves past the deadline, the sweep runs, and the case page
and the deadlines worklist show the timer overdue, to the senior and to an analyst."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Browser, Page

from devnet.cymru import load_recorded_cymru
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case
from routing.deadlines.escalation import deadlines_sweep
from routing.models import Notice, NoticeKind
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from routing.resolution.cases import cases_resolve
from tests import factories
from tests.browser.walks import login, nav
from tests.world import ILLEGAL as WORLD_ILLEGAL
from tests.world import _report, world_settings

LANGS = ["en", "nl"]
ILLEGAL: dict[str, Any] = dict(WORLD_ILLEGAL)  # the world's verdict, typed for the keyword arguments
RULE = "Agreed with UK hosts (2 h)"


def create_rule(page: Page, *, country: str, hours: int, lang: str = "en") -> None:
    """A senior adds a rule on the rules page: ``hours`` from the first notice, for one country."""
    nav(page, "/deadlines/rules/", lang=lang)
    edit_links = page.locator("main table tbody a[href^='/deadlines/rules/'][href$='/']:not([href$='/delete/'])")
    before = edit_links.count()
    with page.expect_navigation():
        page.locator("main a[href='/deadlines/rules/new/']").click()
    page.fill("#id_name", RULE)
    page.fill("#id_country", country)
    page.fill("#id_hours", str(hours))
    page.select_option("#id_starts_at", "notice")
    with page.expect_navigation():
        page.locator("main form button[type='submit']").click()
    assert page.url.endswith("/deadlines/rules/")
    assert edit_links.count() == before + 1
    assert page.locator("main table tbody td", has_text=RULE).count() == 1


def timer_state(page: Page, scope: str) -> str:
    return page.locator(f"{scope} [data-deadline-state]").first.get_attribute("data-deadline-state") or ""


def see_overdue(page: Page, base: str, case_id: int, *, lang: str = "en") -> None:
    """The case page's timer and the worklist's breached filter both show the case overdue."""
    page.goto(f"{base}/cases/{case_id}/")
    assert timer_state(page, "#deadline") == "overdue"
    assert page.locator("#deadline .text-danger").count() == 1  # the breach is recorded
    nav(page, "/work/deadlines/", lang=lang)
    with page.expect_navigation():
        page.locator("main a[href='?show=breached']").click()
    row = page.locator("main table tbody tr", has=page.locator(f"a[href='/cases/{case_id}/']"))
    assert row.count() == 1
    assert timer_state(page, f"main table tbody tr:has(a[href='/cases/{case_id}/'])") == "overdue"


@pytest.mark.parametrize("lang", LANGS)
def test_a_notified_case_past_its_deadline_shows_overdue(
    live_server: Any, settings: Any, fake_dns: Any, fake_rdap: Any, browser: Browser, lang: str
) -> None:
    with FakeSMTP() as smtp:
        world_settings(settings, smtp=smtp)  # home is GB; mail goes to the SMTP peer
        fake_rdap.load_recorded()
        load_recorded_cymru(fake_dns)
        fake_dns.load({"files.example.net": {"A": ["62.239.237.1"]}})  # BT's address (recorded)
        senior = factories.staff_user("sen", "senior")
        page = login(browser, live_server.url, senior, lang=lang)
        create_rule(page, country="GB", hours=2, lang=lang)

        case = _report("http://files.example.net/album/1.jpg")
        cases_resolve(case_ids=[case.pk], force=True)
        case_assess(case=Case.objects.get(pk=case.pk), user=senior, classification=Classification(**ILLEGAL))
        cases_plan_notices(case_ids=[case.pk])
        notices_send_due(flush=True, reresolve=False)
        notice = Notice.objects.get(items__case_id=case.pk, kind=NoticeKind.PROVIDER)
        assert notice.state == "sent"
        assert [notice.reference in m.subject for m in smtp.messages] == [True]

        page.goto(f"{live_server.url}/cases/{case.pk}/")
        assert timer_state(page, "#deadline") in ("open", "soon")
        assert RULE in page.locator("#deadline").inner_text()

        # Three hours later the sweep (every minute in production) finds the deadline passed.
        summary = deadlines_sweep(now=timezone.now() + timedelta(hours=3))
        assert summary.breached == 1
        see_overdue(page, live_server.url, case.pk, lang=lang)
        page.context.close()

        analyst = login(browser, live_server.url, factories.staff_user("ana", "analyst"), lang=lang)
        see_overdue(analyst, live_server.url, case.pk, lang=lang)
        analyst.context.close()
