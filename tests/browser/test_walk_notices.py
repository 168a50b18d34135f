"""A senior analyst's notice actions end to end at 1366x768: a notice the SMTP peer refused is sent
again from its page and goes out with the sender's next run; a queued notice is cancelled with a
reason and never goes out. Cases come in through intake and are resolved against the local DNS and
RDAP peers; mail goes to the local SMTP peer."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from devnet.cymru import load_recorded_cymru
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case
from routing.models import Notice, NoticeKind, NoticeState
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from routing.resolution.cases import cases_resolve
from tests import factories
from tests.browser.walks import alerts, login, nav
from tests.world import ILLEGAL as WORLD_ILLEGAL
from tests.world import _report, world_settings

LANGS = ["en", "nl"]
ILLEGAL: dict[str, Any] = dict(WORLD_ILLEGAL)  # the world's verdict, typed for the keyword arguments


def notified(url: str) -> Notice:
    """Report ``url`` (hosted on BT's recorded address), judge it illegal and plan its notice."""
    case = _report(url)
    cases_resolve(case_ids=[case.pk], force=True)
    case_assess(case=Case.objects.get(pk=case.pk), user=None, classification=Classification(**ILLEGAL))
    cases_plan_notices(case_ids=[case.pk])
    return Notice.objects.get(items__case_id=case.pk, kind=NoticeKind.PROVIDER)


def confirm_contact(page: Page, provider_id: int, *, lang: str = "en") -> None:
    """A senior confirms the provider's addresses from the contacts queue (the header's link)."""
    nav(page, "/contacts/", lang=lang)
    form = page.locator(f"main form[action='/contacts/{provider_id}/confirm/']")
    with page.expect_navigation():
        form.locator("button[type='submit']").click()
    assert len(alerts(page, "success")) == 1, alerts(page, "danger")
    assert page.locator(f"main form[action='/contacts/{provider_id}/confirm/']").count() == 0


def act(page: Page, notice: Notice, action: str, *, reason: str = "", lang: str = "en") -> None:
    """From the notices list to the notice, its action button, the confirmation page, and back."""
    nav(page, "/notices/", lang=lang)
    with page.expect_navigation():
        page.locator(f"main a[href='/notices/{notice.pk}/']").first.click()
    with page.expect_navigation():
        page.locator(f"main a[href='/notices/{notice.pk}/act/{action}/']").click()
    if reason:
        page.fill("#reason", reason)
    with page.expect_navigation():
        page.locator("main form.confirm button[type='submit']").click()
    assert page.url.endswith(f"/notices/{notice.pk}/")
    assert len(alerts(page, "success")) == 1, alerts(page, "danger")
    assert page.locator(f"main a[href='/notices/{notice.pk}/act/{action}/']").count() == 0  # done


@pytest.mark.parametrize("lang", LANGS)
def test_a_senior_sends_a_refused_notice_again_and_cancels_a_queued_one(
    live_server: Any, settings: Any, fake_dns: Any, fake_rdap: Any, browser: Browser, lang: str
) -> None:
    with FakeSMTP() as smtp:
        world_settings(settings, smtp=smtp)
        fake_rdap.load_recorded()
        load_recorded_cymru(fake_dns)
        fake_dns.load({"files.example.net": {"A": ["62.239.237.1"]}})  # BT's address (recorded)

        refused = notified("http://files.example.net/a/1.jpg")
        smtp.reject_permanently.update(e.lower() for e in refused.emails)
        notices_send_due(flush=True, reresolve=False)
        refused.refresh_from_db()
        assert refused.state == NoticeState.FAILED and smtp.messages == []

        # The refusal puts the provider's addresses up for a check: the notice waits for it.
        case = Case.objects.get(notices=refused)
        assert case.contact_check and case.provider_id is not None and case.provider_id == refused.provider_id

        page = login(browser, live_server.url, factories.staff_user("sen", "senior"), lang=lang)
        confirm_contact(page, case.provider_id, lang=lang)
        act(page, refused, "resend", lang=lang)
        refused.refresh_from_db()
        assert refused.state == NoticeState.QUEUED
        smtp.reject_permanently.clear()  # the provider's mail server takes mail again
        notices_send_due(reresolve=False)  # the sender's next run: the notice is due now
        refused.refresh_from_db()
        assert refused.state == NoticeState.SENT
        assert [refused.reference in m.subject for m in smtp.messages] == [True]

        queued = notified("http://files.example.net/b/2.jpg")  # waits for its batch window
        assert queued.state == NoticeState.QUEUED and queued.pk != refused.pk
        act(page, queued, "cancel", reason="Reported to the provider by phone", lang=lang)
        queued.refresh_from_db()
        assert queued.state == NoticeState.CANCELLED
        notices_send_due(flush=True, reresolve=False)
        assert len(smtp.messages) == 1  # the cancelled notice never went out
        page.context.close()
