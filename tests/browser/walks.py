"""Walking the workspace as a person does, at 1366x768: log in with both factors, follow the header's
links, type into the search box, tick and confirm. The helpers find things by id, role, URL and
data attribute rather than by English sentences, and each takes the language the browser asks for,
so the same walks can run in Dutch once the catalogue is in."""

from __future__ import annotations

import re
from typing import Any

from django_otp.oath import TOTP
from playwright.sync_api import Browser, Page, ViewportSize

from accounts.devices import StaffDevice

PASSWORD = "a long enough password 1"  # devnet.seed.staff_user's
LAPTOP: ViewportSize = {"width": 1366, "height": 768}
LOCALES = {"en": "en-GB", "nl": "nl-NL"}
TIMEOUT_MS = 10_000


def login(browser: Browser, base: str, user: Any, *, lang: str = "en") -> Page:
    """A new browser context (its own cookies) asking for ``lang``, logged in as ``user`` with the
    password and a code from a confirmed authenticator; it lands on the queue."""
    device = StaffDevice.objects.create(user=user, name="phone", confirmed=True)
    context = browser.new_context(viewport=LAPTOP, locale=LOCALES[lang])
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    page.goto(base + "/login/")
    page.fill("input[name='username']", user.get_username())
    page.fill("input[name='password']", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/verify/**")
    page.fill("input[name='code']", f"{TOTP(device.bin_key).token():06d}")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")
    return page


def nav(page: Page, path: str, *, lang: str = "en") -> None:
    """Follow the header's link to ``path`` (as a person clicks it), and see it marked current."""
    link = page.locator(f"nav.staff a[href='{path}']")
    if not link.is_visible():  # a page under the header's "More" menu
        link.locator("xpath=ancestor::details[1]/summary").click()
    with page.expect_navigation():
        link.click()
    assert page.url.split("?")[0].endswith(path), (lang, page.url)
    assert page.locator(f"nav.staff a[href='{path}']").get_attribute("aria-current") == "page"
    assert page.locator("html").get_attribute("lang") == lang  # the page speaks the browser's language


def header_search(page: Page, text: str, *, lang: str = "en") -> None:
    """Type ``text`` into the header's search box and press Enter."""
    box = page.locator("#site-search")
    box.fill(text)
    with page.expect_navigation():
        box.press("Enter")
    assert page.locator("html").get_attribute("lang") == lang


def case_links(page: Page, scope: str) -> list[int]:
    """The case numbers linked from ``scope`` (a selector), in page order."""
    hrefs = page.locator(f"{scope} a[href^='/cases/']").evaluate_all("links => links.map(a => a.getAttribute('href'))")
    return [int(m.group(1)) for href in hrefs if (m := re.fullmatch(r"/cases/(\d+)/", href))]


def row_cases(page: Page, table: str) -> list[int]:
    """The ``data-case`` of each row of ``table`` (a selector)."""
    values = page.locator(f"{table} tbody tr[data-case]").evaluate_all("rows => rows.map(r => r.dataset.case)")
    return [int(v) for v in values]


def alerts(page: Page, kind: str) -> list[str]:
    """The texts of the flash messages of one kind ("success", "warning", "danger")."""
    return page.locator(f"main .messages .alert-{kind}").all_inner_texts()
