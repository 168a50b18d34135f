"""Pages as people see them on a laptop screen (1366x768): the workspace's navigation is readable
on its bar, in one row, the queue's table uses the screen's width instead of squeezing each URL into a
column a few characters wide, and a provider's answer page puts each choice next to its words."""

from __future__ import annotations

import pytest
from django_otp.oath import TOTP
from playwright.sync_api import Browser, Page

from accounts.devices import StaffDevice
from routing.models import Provider
from tests import factories
from tests.browser.walks import LAPTOP, login
from tests.routing.test_notice_link import sent_notice

PASSWORD = "a long enough password 1"
QUEUE = {"en": "Queue", "nl": "Wachtrij"}


def logged_in_page(browser: Browser, base: str, username: str, role: str) -> Page:
    user = factories.staff_user(username, role)
    device = StaffDevice.objects.create(user=user, name="phone", confirmed=True)
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.goto(base + "/login/")
    page.fill("input[name='username']", username)
    page.fill("input[name='password']", PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url("**/login/verify/**")
    page.fill("input[name='code']", f"{TOTP(device.bin_key).token():06d}")
    page.keyboard.press("Enter")
    page.wait_for_url(base + "/")
    return page


def relative_luminance(css_rgb: str) -> float:
    channels = [int(part) / 255 for part in css_rgb[css_rgb.index("(") + 1 : css_rgb.index(")")].split(",")[:3]]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    high, low = sorted((relative_luminance(a), relative_luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_shows_the_navigation_readably_on_its_bar_in_one_row(live_server, browser: Browser, lang: str) -> None:
    page = login(browser, live_server.url, factories.staff_user("sen", "senior"), lang=lang)
    header_background = page.locator("nav.staff").evaluate("e => getComputedStyle(e).backgroundColor")
    shown = page.locator("nav.staff > ul > li > a, nav.staff details.nav-more > summary")
    assert shown.count() >= 10
    for index in range(shown.count()):
        colour = shown.nth(index).evaluate("e => getComputedStyle(e).color")
        # WCAG AA for normal text: 4.5:1.
        assert contrast(colour, header_background) >= 4.5, (shown.nth(index).inner_text(), colour)
    # The current page is marked, and every section fits on one row of the laptop's screen, in
    # either language: one link's height, nothing cut off at the right.
    assert page.locator("nav.staff a[aria-current='page']").inner_text().startswith(QUEUE[lang])
    tops = {round(shown.nth(index).bounding_box()["y"]) for index in range(shown.count())}  # type: ignore[index]
    assert len(tops) == 1, tops
    nav = page.locator("nav.staff").evaluate("e => [e.getBoundingClientRect().height, e.scrollWidth, e.clientWidth]")
    assert nav[0] < 2 * shown.first.evaluate("e => e.getBoundingClientRect().height"), nav
    assert nav[1] <= nav[2] and page.evaluate("document.documentElement.scrollWidth") <= LAPTOP["width"]
    # The senior's configuration pages are under "More", which marks itself on them.
    more = page.locator("nav.staff details.nav-more > summary")
    more.click()
    with page.expect_navigation():
        page.locator("nav.staff details.nav-more a[href='/rules/']").click()
    assert "active" in (page.locator("nav.staff details.nav-more > summary").get_attribute("class") or "")
    assert page.locator("nav.staff a[aria-current='page']").get_attribute("href") == "/rules/"
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "nl"])
def test_it_shows_every_column_of_the_case_list_on_a_laptop_screen(live_server, browser: Browser, lang: str) -> None:
    long_url = (
        "https://a-very-long-host-name-of-a-gallery-12.example.com/albums/2026/some/long/path/0123456789abcdef.jpg"
    )
    hoster = Provider.objects.create(name="Universidad Catolica de Oriente Hosting Services", country="NL")
    factories.awaiting_case(long_url, hosting_country="NL", provider=hoster, asn=64512, urgent=True)
    factories.awaiting_case("https://example.org/short", hosting_country="DE")
    page = login(browser, live_server.url, factories.staff_user("sen", "senior"), lang=lang)
    page.goto(live_server.url + "/cases/")
    widths = page.evaluate(
        """() => { const t = document.getElementById("cases");
        return [document.documentElement.scrollWidth, t.scrollWidth, t.parentElement.clientWidth]; }"""
    )
    # Neither the page nor the table scrolls sideways: the whole table is on the screen.
    assert widths[0] <= LAPTOP["width"] and widths[1] <= widths[2], widths
    # URLs stay on one line, cut in the middle, the whole URL kept for hovering and copying.
    cell = page.locator(f"#cases td.url .url-mid[title='{long_url}']")
    assert cell.text_content() == long_url
    head = cell.locator(".url-head")
    assert head.evaluate("e => e.scrollWidth > e.clientWidth")  # cut in the middle: the head is cut short
    height = cell.evaluate("e => e.getBoundingClientRect().height")
    line = cell.evaluate("e => parseFloat(getComputedStyle(e).lineHeight) || 20")
    assert height < 1.5 * line
    page.context.close()


def test_it_gives_the_queue_the_screen_width_and_urls_room(live_server, browser: Browser) -> None:
    url = "https://gallery-hosting-12.example.com/albums/2026/some-long-path/003uudgqh.jpg"
    factories.awaiting_case(url)
    page = logged_in_page(browser, live_server.url, "ana", "analyst")
    table = page.locator("table.queue").bounding_box()
    cell = page.locator("table.queue td.url").first.bounding_box()
    assert table is not None and cell is not None
    assert table["width"] >= 1000  # the reading column of the public pages is 46rem (736 px)
    assert cell["width"] >= 200  # a URL breaks into lines of 20-odd characters, not 4
    page.context.close()


def test_it_puts_the_providers_choices_beside_their_words(live_server, browser: Browser, settings) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_NOTICE_WORKING_HOURS = ""
    _notice, path = sent_notice("Hoster", "https://files.example.com/a/1.jpg")
    page = browser.new_context(viewport=LAPTOP).new_page()
    page.goto(live_server.url + path)
    labels = page.locator("fieldset.answer .choice label")
    assert labels.count() == 2
    for index in range(2):
        label = labels.nth(index)
        radio = label.locator("input[type='radio']").bounding_box()
        words = label.bounding_box()
        assert radio is not None and words is not None
        assert radio["width"] < 40  # a radio button, not a field as wide as the form
        assert radio["x"] - words["x"] < 10  # at the start of its line, not centred above the words
        assert words["height"] < 2 * radio["height"] + 20  # one line: the words beside the button
    page.context.close()
