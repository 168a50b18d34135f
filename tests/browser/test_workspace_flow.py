"""The analyst's day in a real browser: log in with a password and a TOTP code (enrolling the
authenticator through an enrolment link), classify three cases with the keyboard only, then a senior
analyst opens the review queue and agrees with one key; the events are in the database."""

from __future__ import annotations

from base64 import b32decode

from django_otp.oath import TOTP
from playwright.sync_api import ConsoleMessage, Page, expect

from accounts.devices import StaffDevice
from accounts.models import StaffProfile
from accounts.otp import enrolment_link_issue
from accounts.services import AuditContext
from reports.models import Assessment, Case, CaseState, Event, EventKind, Review, ReviewState
from tests import factories
from tests.browser.walks import login

PASSWORD = "a long enough password 1"


def code_for(key: bytes) -> str:
    return f"{TOTP(key).token():06d}"


def log_in(page: Page, base: str, username: str) -> None:
    page.goto(base + "/login/")
    page.fill("input[name='username']", username)
    page.fill("input[name='password']", PASSWORD)
    page.keyboard.press("Enter")


def test_classify_three_cases_by_keyboard_then_review_them(live_server, page: Page, browser) -> None:
    errors: list[str] = []

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    analyst = factories.staff_user("ana")
    StaffProfile.objects.create(user=analyst, in_training=True)  # every verdict gets a second opinion
    urls = ["https://a.example.com/1", "https://b.example.com/2", "https://c.example.com/3"]
    cases = [factories.awaiting_case(url) for url in urls]

    # First login: the enrolment link an administrator issued, the password, then the enrolment
    # page shows the key; the "app" computes a code.
    page.goto(enrolment_link_issue(analyst, audit=AuditContext(), base_url=live_server.url))
    log_in(page, live_server.url, "ana")
    page.wait_for_url("**/login/enrol/**")
    secret = page.locator("#otp-secret").inner_text().replace(" ", "")
    key = b32decode(secret + "=" * (-len(secret) % 8))
    page.fill("input[name='code']", code_for(key))
    page.keyboard.press("Enter")
    page.wait_for_url(live_server.url + "/")
    expect(page.locator("table.queue")).to_contain_text("https://a.example.com/1")

    # Keyboard only: Enter opens the first case; 1 = illegal A1, q = not illegal (adult), g = gone.
    page.locator("body").click(position={"x": 1, "y": 1})  # focus the page, not a field
    page.keyboard.press("Enter")
    for key_pressed, url in zip(["1", "q", "g"], urls, strict=True):
        expect(page.locator("#case-url")).to_have_text(url)
        page.keyboard.press(key_pressed)
        page.wait_for_load_state()
    expect(page.locator("p.notice")).to_contain_text("No more cases")

    verdicts = {
        a.case_id: (a.verdict, a.category, a.not_illegal_reason) for a in Assessment.objects.filter(analyst=analyst)
    }
    assert verdicts == {
        cases[0].pk: ("illegal", "A1", ""),
        cases[1].pk: ("not_illegal", "", "adult"),
        cases[2].pk: ("gone", "", ""),
    }
    assert list(Case.objects.filter(pk__in=[c.pk for c in cases]).order_by("pk").values_list("state", flat=True)) == [
        CaseState.ILLEGAL,
        CaseState.NOT_ILLEGAL,
        CaseState.CANNOT_ASSESS,
    ]
    assert Review.objects.filter(state=ReviewState.OPEN).count() == 3

    # A senior analyst (authenticator already set up) reviews: Enter opens the first, a agrees.
    senior = factories.staff_user("sen", "senior")
    device = StaffDevice.objects.create(user=senior, name="phone", confirmed=True)
    context = browser.new_context()
    senior_page = context.new_page()
    senior_page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    log_in(senior_page, live_server.url, "sen")
    senior_page.wait_for_url("**/login/verify/**")
    senior_page.fill("input[name='code']", code_for(device.bin_key))
    senior_page.keyboard.press("Enter")
    senior_page.wait_for_url(live_server.url + "/")
    senior_page.goto(live_server.url + "/reviews/")
    expect(senior_page.locator("table.reviews")).to_contain_text("Analyst in training")
    senior_page.locator("h1").click()
    senior_page.keyboard.press("Enter")
    expect(senior_page.locator("#agree")).to_be_visible()
    senior_page.keyboard.press("a")
    senior_page.wait_for_load_state()
    expect(senior_page.locator(".messages")).to_contain_text("agreed")
    context.close()

    decided = Review.objects.exclude(state=ReviewState.OPEN).get()
    assert decided.state == ReviewState.AGREED and decided.reviewer == senior
    kinds = set(Event.objects.filter(case_id=decided.case_id).values_list("kind", flat=True))
    assert {EventKind.ASSESSED, EventKind.REVIEW_REQUESTED, EventKind.REVIEW_DECIDED} <= kinds
    assert errors == []


def test_a_verdict_by_key_shows_the_next_case_in_place_at_its_own_address(live_server, browser) -> None:
    analyst = factories.staff_user("kim")
    first, second, third = (factories.awaiting_case(f"https://d.example.com/{n}") for n in range(3))
    page = login(browser, live_server.url, analyst)
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))
    sent: list[tuple[str, str, str]] = []
    page.on("request", lambda r: sent.append((r.resource_type, r.method, r.url)))
    page.goto(f"{live_server.url}/cases/{first.pk}/?country=")
    page.locator("h1").click()
    page.locator("#legal_basis").select_option(index=1)  # a sticky field, kept for the next case

    # One request per verdict: the POST answers with the next case's page, which takes the old
    # one's place; its address goes into the address bar and the history.
    sent.clear()
    page.keyboard.press("1")
    expect(page.locator("#case-url")).to_have_text("https://d.example.com/1")
    assert page.url == f"{live_server.url}/cases/{second.pk}/"
    assert [r for r in sent if r[0] in ("document", "fetch")] == [
        ("fetch", "POST", f"{live_server.url}/cases/{first.pk}/assess/")
    ]
    assert page.title().startswith(f"Case {second.pk}")
    assert Assessment.objects.get(case=first).category == "A1"
    second.refresh_from_db()
    assert second.locked_by == analyst  # opened as a page load opens it: locked (and audited)
    # The new page's keys, buttons and sticky fields work as on a page load.
    assert page.locator("#legal_basis").evaluate("e => e.selectedIndex") == 1
    page.locator("button[data-verdict='gone']").click()
    expect(page.locator("#case-url")).to_have_text("https://d.example.com/2")
    assert page.url == f"{live_server.url}/cases/{third.pk}/"
    assert Assessment.objects.get(case=second).verdict == "gone"

    # Reloading asks for that case's page again; it does not post a verdict a second time.
    sent.clear()
    page.reload()
    expect(page.locator("#case-url")).to_have_text("https://d.example.com/2")
    assert [(kind, method) for kind, method, _url in sent if kind in ("document", "fetch")] == [("document", "GET")]
    # Back shows the case before, as after page loads.
    page.go_back()
    expect(page.locator("#case-url")).to_have_text("https://d.example.com/1")
    assert page.url == f"{live_server.url}/cases/{second.pk}/"

    # A verdict the server refuses (illegal without a category) shows the same case with the reason.
    page.goto(f"{live_server.url}/cases/{third.pk}/")
    page.locator("h1").click()
    page.keyboard.press("i")
    expect(page.locator("#errors")).to_contain_text("category")
    assert page.url == f"{live_server.url}/cases/{third.pk}/"
    expect(page.locator("#case-url")).to_have_text("https://d.example.com/2")
    # After the last case, the queue says so.
    page.locator("h1").click()
    page.keyboard.press("x")
    expect(page.locator("p.notice")).to_contain_text("No more cases")
    assert Assessment.objects.filter(case__in=[first, second, third]).count() == 3
    assert errors == []
    page.context.close()
