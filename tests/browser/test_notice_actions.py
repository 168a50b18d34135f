"""A senior analyst's notice work in a real browser at 1366x768: the notices list filtered, a
notice's page with the preview of its message, "Send now" confirmed, queued and sent to the local SMTP
peer, the case's timeline in sentences, and the action in the audit view."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Page, expect

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from routing.models import Notice, NoticeState
from routing.tasks import notify_send_notice
from tests.conftest import staff_login
from tests.workspace.test_notice_actions import queued
from tests.world import World, build_world, world_settings


@pytest.fixture
def world(settings, fake_dns, fake_rdap) -> Iterator[tuple[World, FakeSMTP]]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        settings.SCART_NOTICE_WORKING_HOURS = ""
        yield build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp), smtp


def as_user(page: Page, base: str, user: object) -> None:
    """The browser takes the session of a user who passed both factors (`staff_login`)."""
    client = staff_login(Client(), user)
    page.context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base}])


def test_a_senior_previews_sends_and_finds_it_in_the_audit_view(
    live_server, page: Page, world, fake_dns, tmp_path: Path, monkeypatch
):
    built, smtp = world
    # "Send now" queues the sending after the commit; the task runs in the server's thread here.
    monkeypatch.setattr(notify_send_notice, "delay", notify_send_notice.run)
    page.set_viewport_size({"width": 1366, "height": 768})
    notice = queued(fake_dns, "/first", "/second")
    before = len(smtp.messages)
    as_user(page, live_server.url, built.users["senior"])

    page.goto(live_server.url + "/notices/")
    page.select_option("#f-kind", "provider")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.notices")).to_contain_text(notice.reference)
    page.screenshot(path=tmp_path / "notices-list.png", full_page=False)

    page.get_by_role("link", name=notice.reference).click()
    expect(page.locator("pre.preview-body")).to_contain_text(notice.reference)
    expect(page.locator("dl.preview-headers")).to_contain_text("X-Scart-Reference")
    page.screenshot(path=tmp_path / "notice-detail.png", full_page=False)

    page.get_by_role("link", name="Send now").click()
    expect(page.locator("p.explains")).to_contain_text("goes out now")
    page.screenshot(path=tmp_path / "notice-action.png", full_page=False)
    page.get_by_role("button", name="Send now").click()
    expect(page.locator("div.messages")).to_contain_text(f"{notice.reference} is queued to go out now")
    assert len(smtp.messages) == before + 1
    notice.refresh_from_db()
    assert notice.state == NoticeState.SENT

    case_id = notice.items.order_by("pk")[0].case_id
    page.goto(f"{live_server.url}/cases/{case_id}/")
    expect(page.locator("ol.timeline")).to_contain_text(f"Notice {notice.reference} sent to")
    page.locator("ol.timeline").scroll_into_view_if_needed()
    page.screenshot(path=tmp_path / "case-timeline.png", full_page=False)

    page.goto(live_server.url + "/audit/")
    page.select_option("#a-action", "notice_sent_now")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("table.audit")).to_contain_text(f"asked for notice {notice.reference} to be sent at once")
    page.screenshot(path=tmp_path / "audit.png", full_page=False)
    assert Notice.objects.filter(state=NoticeState.SENT).count() > 1
    print(f"screenshots in {tmp_path}")
