"""Smoke test of the browser setup: Chromium loads the public report form from the live server,
with its stylesheet, and the page reports no error and no Content Security Policy violation."""

from __future__ import annotations

from playwright.sync_api import ConsoleMessage, Page

# Chromium reports CSP violations twice: as a console error ("... violates the following
# Content Security Policy directive ...") and as a `securitypolicyviolation`
# event in the page, which this script (injected by Playwright, so not subject to the CSP) records.
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"}`);
});
"""


def test_the_public_report_form_loads_in_chromium(live_server, page: Page) -> None:
    console_errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        # Pages declare an empty icon, so Chromium does not ask for /favicon.ico either.
        if message.type == "error":
            console_errors.append(f"{message.text} ({message.location.get('url')})")

    page.on("console", on_console)
    page.on("pageerror", lambda exc: console_errors.append(f"uncaught: {exc}"))
    page.add_init_script(RECORD_CSP_VIOLATIONS)

    response = page.goto(live_server.url + "/report/")

    assert response is not None
    assert response.status == 200
    assert "default-src 'self'" in response.headers["content-security-policy"]
    form = page.locator("form", has=page.locator("textarea[name='urls']"))
    assert form.count() == 1
    assert form.get_attribute("method") == "post"
    assert form.locator("textarea[name='urls']").is_visible()
    assert form.locator("button[type='submit']").is_visible()
    # The stylesheet was loaded and applied (not blocked, not a 404): it moves the honeypot away.
    assert form.locator(".field.hp").evaluate("e => getComputedStyle(e).position") == "absolute"
    assert page.evaluate("window.__cspViolations") == []
    assert console_errors == []


def test_the_report_form_posts_under_the_no_referrer_policy(live_server, page: Page) -> None:
    """Chromium sends `Origin: null` with form posts under `Referrer-Policy: no-referrer`; the
    CSRF check must still accept our own forms (it reads Sec-Fetch-Site)."""
    from reports.models import Case

    page.goto(live_server.url + "/report/")
    page.fill("textarea[name='urls']", "https://example.com/reported-in-a-browser")
    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        page.click("button[type='submit']")
    assert posted.value.status in (200, 302), posted.value.status
    assert posted.value.request.header_value("origin") == "null"  # what makes the check necessary
    assert Case.objects.filter(canonical_url="https://example.com/reported-in-a-browser").exists()
