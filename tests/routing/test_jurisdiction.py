"""Routing by jurisdiction: who gets a notice, a referral or a police report, what holds them,
and the rule that decided, recorded once per decision."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection

import routing.jurisdiction
import scart.db
from reports.assessment import Classification, case_assess
from reports.models import Event, EventKind
from routing.jurisdiction import Hold, RecipientKind, RouteRule, cases_route
from routing.models import DomainRule, Notice, PartnerHotline, Provider
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


@pytest.fixture(autouse=True)
def _police(settings):
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_POLICE_NAME = "National Police"
    settings.SCART_POLICE_EMAIL = "reports@police.example"


def provider(name: str, *emails: str, language: str = "en") -> Provider:
    return Provider.objects.create(name=name, abuse_emails=list(emails), language=language)


def illegal_case(url: str, **fields: Any) -> Any:
    case = factories.awaiting_case(url, **fields)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    return case


def kinds(route: Any) -> list[tuple[str, str, tuple[str, ...]]]:
    return [(r.kind, r.name, r.holds) for r in route.recipients]


def test_the_seeded_partner_hotlines_wait_for_their_referral_addresses():
    iwf = PartnerHotline.objects.get(country="GB")
    assert iwf.name == "Internet Watch Foundation" and iwf.email == ""
    assert PartnerHotline.objects.count() >= 30


def test_own_country_goes_to_the_hosting_provider():
    host = provider("Dutch Hosting", "abuse@nl.example", language="nl")
    case = illegal_case("https://example.com/own", hosting_country="NL", provider=host)
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert route.rule == "own_country"
    assert kinds(route) == [(RecipientKind.PROVIDER, "Dutch Hosting", ())]
    assert route.recipients[0].language == "nl" and route.recipients[0].emails == ("abuse@nl.example",)


def test_a_partner_hotline_country_gets_a_referral_and_optionally_a_later_direct_notice():
    host = provider("German Hosting", "abuse@de.example")
    eco = PartnerHotline.objects.get(country="DE")
    eco.email = "referrals@eco.example"
    eco.save()
    case = illegal_case("https://example.com/de", hosting_country="DE", provider=host)
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert route.rule == "partner_hotline:DE"
    assert kinds(route) == [(RecipientKind.HOTLINE, eco.name, ())]
    assert route.recipients[0].language == "de"

    eco.direct_notice_after = timedelta(hours=48)
    eco.save()
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert kinds(route) == [(RecipientKind.HOTLINE, eco.name, ()), (RecipientKind.PROVIDER, "German Hosting", ())]
    assert route.recipients[1].delay == timedelta(hours=48)


def test_a_referral_without_an_address_is_held():
    case = illegal_case("https://example.com/gb", hosting_country="GB")
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert kinds(route) == [(RecipientKind.HOTLINE, "Internet Watch Foundation", (Hold.NO_ADDRESS,))]


@pytest.mark.parametrize(
    ("fields", "rule"),
    [({"hosting_country": "RU"}, "no_partner_hotline"), ({}, "unknown_host"), ({"unresolvable": True}, "unresolvable")],
)
def test_elsewhere_goes_to_the_provider_where_known_and_the_police(fields, rule):
    host = provider("Far Hosting", "abuse@far.example") if fields.get("hosting_country") else None
    case = illegal_case("https://example.com/far", provider=host, **fields)
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert route.rule == rule
    expected = [(RecipientKind.PROVIDER, "Far Hosting", ())] if host else []
    assert kinds(route) == [*expected, (RecipientKind.POLICE, "National Police", ())]


def test_police_first_reports_at_once_and_holds_every_notice(settings):
    host = provider("Dutch Hosting", "abuse@nl.example")
    case = factories.awaiting_case("https://example.com/pf", hosting_country="NL", provider=host)
    case_assess(
        case=case,
        user=None,
        classification=Classification(**ILLEGAL, police_first=True, police_reason="immediate_danger"),
    )
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert route.rule == "police_first" and route.held
    assert kinds(route) == [
        (RecipientKind.POLICE, "National Police", ()),
        (RecipientKind.PROVIDER, "Dutch Hosting", (Hold.POLICE_FIRST,)),
    ]
    settings.SCART_POLICE_EMAIL = ""
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert route.recipients[0].holds == (Hold.NO_ADDRESS,)


def test_behind_a_cdn_the_cdn_is_asked_for_the_origin_and_the_origin_told():
    cdn = provider("Big CDN", "abuse@cdn.example")
    origin = provider("Origin Hosting", "abuse@origin.example")
    case = illegal_case("https://example.com/cdn", hosting_country="NL", provider=cdn, cdn=cdn, origin_provider=origin)
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert kinds(route) == [(RecipientKind.CDN, "Big CDN", ()), (RecipientKind.ORIGIN, "Origin Hosting", ())]
    assert route.recipients[0].ask_origin is True


def test_contact_checks_and_blocking_reviews_hold_notices():
    from accounts.models import StaffProfile

    host = provider("Unsure Hosting", "hostmaster@registry.example")
    case = factories.awaiting_case("https://example.com/hold", hosting_country="NL", provider=host, contact_check=True)
    trainee = factories.staff_user("trainee")
    StaffProfile.objects.create(user=trainee, in_training=True)
    case_assess(case=case, user=trainee, classification=Classification(**ILLEGAL))
    route = cases_route(case_ids=[case.pk])[case.pk]
    assert route.recipients[0].holds == (Hold.CONTACT_CHECK, Hold.REVIEW)


def test_domain_rules_can_stop_notices_and_are_named():
    host = provider("Forced Hosting", "abuse@forced.example")
    DomainRule.objects.create(suffix="manual.example.com", do_not_notify=True)
    DomainRule.objects.create(suffix="forced.example.com", provider=host)
    manual = illegal_case("https://www.manual.example.com/a", hosting_country="NL")
    forced = illegal_case("https://forced.example.com/b", hosting_country="NL", provider=host)
    routes = cases_route(case_ids=[manual.pk, forced.pk])
    assert routes[manual.pk].rule == "domain:manual.example.com:do_not_notify"
    assert routes[manual.pk].recipients == ()
    assert routes[forced.pk].rule == "own_country;domain:forced.example.com"


def test_each_decision_is_one_event_and_a_change_writes_another():
    first = provider("First Hosting", "abuse@first.example")
    second = provider("Second Hosting", "abuse@second.example")
    case = illegal_case("https://example.com/moves", hosting_country="NL", provider=first)
    cases_route(case_ids=[case.pk])
    cases_route(case_ids=[case.pk])
    events = Event.objects.filter(case=case, kind=EventKind.ROUTED)
    assert events.count() == 1
    assert events.get().data["rule"] == "own_country"
    assert events.get().data["recipients"][0]["name"] == "First Hosting"
    case.provider = second
    case.save(update_fields=["provider"])
    cases_route(case_ids=[case.pk])
    assert [e.data["recipients"][0]["name"] for e in events.order_by("id")] == ["First Hosting", "Second Hosting"]


@pytest.mark.django_db(transaction=True)
def test_two_planners_routing_one_case_at_once_write_one_event(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks are PostgreSQL's; SQLite runs one writer at a time")
    case = illegal_case("https://example.com/raced", hosting_country="NL", provider=provider("Host", "abuse@h.example"))
    # Both planners meet inside their routing transaction, at its first statement: each has
    # decided its route and neither has written yet.
    meet = threading.Barrier(2, timeout=10)
    original = scart.db.commit_without_waiting_for_disk

    def meeting() -> None:
        original()
        meet.wait()

    monkeypatch.setattr(routing.jurisdiction, "commit_without_waiting_for_disk", meeting)
    errors: list[BaseException] = []

    def planner() -> None:
        try:
            cases_route(case_ids=[case.pk])
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=planner) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    assert Event.objects.filter(case=case, kind=EventKind.ROUTED).count() == 1


def test_the_case_page_shows_where_notices_go(client, analyst):
    host = provider("Dutch Hosting", "abuse@nl.example")
    case = illegal_case("https://example.com/page", hosting_country="NL", provider=host, contact_check=True)
    page = client.get(f"/cases/{case.pk}/").content.decode()
    assert "hosted in the hotline&#x27;s own country" in page and "abuse@nl.example" in page
    assert "held until a senior analyst checks the abuse contact" in page and "contact_check" not in page


def test_recipient_kinds_holds_and_rules_are_choices_that_keep_their_stored_values():
    assert RecipientKind.values == [
        "provider",
        "cdn",
        "origin_provider",
        "hotline",
        "police",
        "registrar",
        "provider_escalation",
    ]
    assert Hold.values == ["police_first", "contact_check", "review", "no_address"]
    assert RouteRule.values == [
        "own_country",
        "police_first",
        "partner_hotline",
        "no_partner_hotline",
        "unresolvable",
        "unknown_host",
        "domain",
    ]
    # A notice's recipient kind is one of them, the ladder's registrar and escalation contact too.
    assert dict(Notice._meta.get_field("recipient_kind").choices or []) == dict(RecipientKind.choices)
    assert str(Hold.NO_ADDRESS.label) == "held: no abuse address known"
