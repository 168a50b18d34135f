"""An analyst and a senior analyst walk the workspace end to end at 1366x768, on the world of
tests/world.py (built through the services and the local peers): each worklist from the header,
the header's search box with each kind of query, the case list with a filter, an order, the next
page and a bulk verdict through its confirmation, and a provider's page from the waiting list and
the search with its link to the statistics filtered on that provider. A senior releases a
police-first case from the held list."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Browser, Page

from reports.models import Case
from routing.models import Notice, NoticeKind
from routing.resolution.cases import cases_resolve
from routing.tasks import notify_plan_due
from tests.browser.conftest import Built
from tests.browser.walks import alerts, case_links, header_search, login, nav, row_cases
from tests.world import World, _report
from workspace import caselist

LANGS = ["en", "nl"]


def walk_mine(page: Page, world: World, *, opened: Case, senior: bool, lang: str = "en") -> None:
    """My work: the case I opened is locked by me, my verdicts of today are counted, and a senior
    sees the trainee's verdict waiting for their second opinion."""
    nav(page, "/work/mine/", lang=lang)
    assert row_cases(page, "#locked") == [opened.pk]
    assert int(page.locator("#classified-today").inner_text()) >= (0 if senior else 19)
    if senior:
        assert world.cases["trainee_illegal"].pk in row_cases(page, "#to-review")
        with page.expect_navigation():
            page.locator(f"#to-review tr[data-case='{world.cases['trainee_illegal'].pk}'] a").click()
        assert "/reviews/" in page.url
    else:
        assert page.locator("#to-review").count() == 0


def walk_waiting_to_provider(page: Page, world: World, *, lang: str = "en") -> int:
    """Waiting on the provider: the cases notified to their host, each with its provider's link;
    follow the first to the provider's page and on to the statistics filtered on it. Returns the
    provider's id. (Which hosts' notices went out depends on which low-confidence contact the
    world's senior confirmed, so the case is read from the list and checked against the notices.)"""
    nav(page, "/work/waiting/", lang=lang)
    waiting = row_cases(page, "#waiting")
    assert waiting
    assert world.cases["awaiting"].pk not in waiting and world.cases["removed"].pk not in waiting
    notified = set(
        Notice.objects.filter(kind=NoticeKind.PROVIDER, state="sent").values_list("items__case_id", flat=True)
    )
    assert set(waiting) <= notified
    case = Case.objects.get(pk=waiting[0])
    assert case.provider_id is not None
    with page.expect_navigation():
        page.locator(f"#waiting tr[data-case='{case.pk}'] a[href='/providers/{case.provider_id}/']").click()
    provider_page(page, case.provider_id, case.pk, lang=lang)
    return case.provider_id


def provider_page(page: Page, provider_id: int, case_id: int, *, lang: str = "en") -> None:
    """A provider's page lists the open case and links to the statistics on this provider only,
    whose page links back to it."""
    assert page.url.endswith(f"/providers/{provider_id}/")
    assert case_id in row_cases(page, "main")
    stats = page.locator("main a[href^='/stats/?provider=']")
    assert stats.count() == 1
    with page.expect_navigation():
        stats.click()
    assert "/stats/" in page.url and "provider=" in page.url
    assert page.locator(".alert-danger").count() == 0  # the filter was understood
    assert page.locator(f"main a[href='/providers/{provider_id}/']").count() >= 1


def walk_held(page: Page, world: World, *, senior: bool, lang: str = "en") -> None:
    """Held: the police-first case waits for a senior. An analyst sees who releases it; a senior
    releases it with one button and the provider's notice is planned."""
    police = world.cases["police_first"].pk
    nav(page, "/work/held/", lang=lang)
    row = page.locator(f"#held tr[data-case='{police}'][data-hold='police_first']")
    assert row.count() == 1
    button = row.locator("form button[type='submit']")
    if not senior:
        assert button.count() == 0
        return
    assert not Notice.objects.filter(items__case_id=police, kind=NoticeKind.PROVIDER).exists()
    with page.expect_navigation():
        button.click()
    assert page.url.endswith(f"/cases/{police}/")
    assert len(alerts(page, "success")) == 1 and not alerts(page, "danger")
    notify_plan_due()  # the worker's periodic planning, which the release asked for
    assert Notice.objects.filter(items__case_id=police, kind=NoticeKind.PROVIDER).exists()
    nav(page, "/work/held/", lang=lang)
    assert page.locator(f"#held tr[data-case='{police}'][data-hold='police_first']").count() == 0


def walk_deadlines(page: Page, *, senior: bool, lang: str = "en") -> None:
    """Deadlines: the notified cases' timers (the world's agreed 24 hours from the notice), least
    time left first; a senior also gets the rules and the evidence packs."""
    nav(page, "/work/deadlines/", lang=lang)
    timers = page.locator("main table tbody [data-deadline-state]")
    assert timers.count() >= 3
    assert set(timers.evaluate_all("ts => ts.map(t => t.dataset.deadlineState)")) <= {"open", "soon", "overdue"}
    assert (page.locator("main a[href='/deadlines/rules/']").count() == 1) is senior
    assert (page.locator("main table a[href$='/evidence.pdf']").count() >= 1) is senior


def walk_search(page: Page, world: World, *, lang: str = "en") -> None:
    """The header's search box: a host, a network in CIDR form, a notice reference (straight to
    the notice) and part of a provider's name."""
    header_search(page, "www.example.org", lang=lang)
    found = case_links(page, "#case-results")
    assert {world.cases[n].pk for n in ("chain", "police_first", "disputed")} <= set(found)
    assert world.cases["cname"].pk not in found  # www.example.com
    assert page.locator("#site-search").input_value() == "www.example.org"

    header_search(page, "62.239.237.0/24", lang=lang)  # BT's address: the literal and the hosts on it
    found = case_links(page, "#case-results")
    assert {world.cases[n].pk for n in ("ip_literal", "no_address")} <= set(found)
    assert world.cases["korea"].pk not in found

    notice = world.notices[0]
    header_search(page, notice.reference.lower(), lang=lang)
    assert page.url.endswith(f"/notices/{notice.pk}/")

    header_search(page, "quiet host", lang=lang)
    quiet = world.case("no_address").provider
    assert quiet is not None
    provider = page.locator(f"#provider-results a[href='/providers/{quiet.pk}/']")
    assert provider.inner_text() == quiet.name
    assert page.locator("#provider-results a[href^='/cases/?provider=']").count() == 1


def walk_case_list(page: Page, world: World, *, lang: str = "en") -> None:
    """The case list: a filter, an order, the next page (pages of five here), and the filter kept
    on every page."""
    nav(page, "/cases/", lang=lang)
    page.select_option("#f-verdict", "illegal")
    page.select_option("#f-sort", "id")
    with page.expect_navigation():
        page.locator("#case-filters button[type='submit']").click()
    assert "verdict=illegal" in page.url and "sort=id" in page.url
    first = case_links(page, "#cases")
    assert len(first) == caselist.PAGE_SIZE and first == sorted(first)
    with page.expect_navigation():
        page.locator("#next-page").click()
    second = case_links(page, "#cases")
    assert second and min(second) > max(first)
    assert page.locator("#f-verdict").input_value() == "illegal"
    illegal = set(Case.objects.filter(verdict="illegal").values_list("pk", flat=True))
    assert set(first + second) <= illegal
    assert world.cases["not_illegal"].pk not in first + second


def walk_bulk_verdict(page: Page, base: str, case_ids: list[int], *, lang: str = "en") -> None:
    """Tick every case awaiting assessment, give them one verdict, see the confirmation list them,
    confirm, and land back on the list with the count."""
    page.goto(base + "/cases/?state=awaiting_assessment&sort=id")
    assert case_links(page, "#cases") == case_ids
    page.locator("#tick-all").check()
    assert page.locator("#cases input.tick:checked").count() == len(case_ids)
    page.select_option("#bulk-action", "verdict")
    with page.expect_navigation():
        page.locator("#bulk button[type='submit']").click()
    assert case_links(page, "#targets") == case_ids  # the confirmation names each case
    assert Case.objects.filter(pk__in=case_ids, verdict="").count() == len(case_ids)  # nothing yet
    page.select_option("#v-verdict", "illegal")
    page.select_option("#v-basis", "baseline")
    page.select_option("#v-category", "A1")
    page.select_option("#v-media", "image")
    with page.expect_navigation():
        page.locator("#confirm").click()
    assert "/cases/" in page.url and "state=awaiting_assessment" in page.url
    assert len(alerts(page, "success")) == 1 and not alerts(page, "warning")
    assert Case.objects.filter(pk__in=case_ids, verdict="illegal").count() == len(case_ids)
    assert case_links(page, "#cases") == []


@pytest.mark.parametrize("lang", LANGS)
def test_an_analyst_walks_the_worklists_the_search_and_the_case_list(
    built: Built, live_server: Any, browser: Browser, monkeypatch: pytest.MonkeyPatch, lang: str
) -> None:
    world = built.world
    monkeypatch.setattr(caselist, "PAGE_SIZE", 5)
    fresh = [_report(f"https://www.example.com/bulk/{n}") for n in range(3)]  # intake, then the resolver
    cases_resolve(case_ids=[c.pk for c in fresh], force=True)
    page = login(browser, live_server.url, world.users["analyst"], lang=lang)
    opened = world.cases["awaiting"]
    with page.expect_navigation():
        page.locator(f"main a[href='/cases/{opened.pk}/']").first.click()  # from the queue
    walk_mine(page, world, opened=opened, senior=False, lang=lang)
    walk_waiting_to_provider(page, world, lang=lang)
    walk_held(page, world, senior=False, lang=lang)
    walk_deadlines(page, senior=False, lang=lang)
    walk_search(page, world, lang=lang)
    walk_case_list(page, world, lang=lang)
    # The opened case is locked by the analyst, who may still give it the bulk verdict.
    walk_bulk_verdict(page, live_server.url, sorted([opened.pk, *(c.pk for c in fresh)]), lang=lang)
    page.context.close()


@pytest.mark.parametrize("lang", LANGS)
def test_a_senior_releases_a_held_case_and_reaches_a_provider_from_the_search(
    built: Built, live_server: Any, browser: Browser, lang: str
) -> None:
    world = built.world
    page = login(browser, live_server.url, world.users["senior"], lang=lang)
    opened = world.cases["awaiting"]
    page.goto(f"{live_server.url}/cases/{opened.pk}/")
    walk_mine(page, world, opened=opened, senior=True, lang=lang)
    walk_held(page, world, senior=True, lang=lang)
    walk_deadlines(page, senior=True, lang=lang)
    bt = world.case("ip_literal").provider
    assert bt is not None
    header_search(page, bt.name[:6], lang=lang)
    with page.expect_navigation():
        page.locator(f"#provider-results a[href='/providers/{bt.pk}/']").click()
    provider_page(page, bt.pk, world.cases["ip_literal"].pk, lang=lang)
    page.context.close()
