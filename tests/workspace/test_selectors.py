"""The case page's models of the stored resolution and the routing decision, built from what the
real resolver writes for the recorded registry answers (a change of the stored shape fails here)."""

from __future__ import annotations

import pytest

from devnet.demo import demo_domains, demo_zone
from routing.jurisdiction import Hold, Recipient, RecipientKind, Route
from routing.models import DomainRule, Provider
from routing.resolution.resolve import HostQuery, hosts_resolve
from tests.routing.test_resolution import RECORDED
from workspace.selectors import resolution_page, route_page, route_rule_text, routed_event_text

pytestmark = pytest.mark.django_db


@pytest.fixture
def zone(fake_dns, fake_rdap, recorded_registry) -> None:
    fake_dns.load(demo_zone())
    for domain in demo_domains():
        fake_rdap.add_domain(domain)


def stored(host: str, registered_domain: str = "", **query: bool) -> dict:
    """The resolution as `cases_resolve` stores it on the case."""
    return hosts_resolve([HostQuery(host, registered_domain=registered_domain, **query)])[host].as_dict()


@pytest.mark.parametrize(("ip", "asn", "country", "emails", "source", "confidence"), RECORDED)
def test_every_recorded_address_reads_into_the_page_model(zone, ip, asn, country, emails, source, confidence):
    page = resolution_page(stored(ip, ip, is_ip=True))

    assert page is not None and page.outcome == "resolved"
    [row] = page.addresses
    assert (row.ip, row.asn, row.country, row.abuse_emails, row.confidence) == (
        ip,
        asn,
        country,
        tuple(emails),
        confidence,
    )
    assert row.abuse_source and row.abuse_source != source  # in words, not the code
    assert row.registry and row.cidr and row.network
    assert page.provider is not None and page.provider.abuse_emails == tuple(emails)


def test_a_cname_chain_with_its_registrar(zone):
    page = resolution_page(stored("www.example.org", "example.org"))

    assert page is not None
    assert page.cnames == ("cdn.example.net", "edge.cdn.example.net")
    assert [a.ip for a in page.addresses] == ["62.239.237.1", "2a00:2381:ffff::1"]
    assert page.registrar is not None and page.registrar.error == ""
    assert page.registrar.name == "RESERVED-Internet Assigned Numbers Authority"
    assert page.registrar.abuse_emails == ("abuse@iana.org",)


def test_a_registrar_that_failed_shows_its_error(zone, fake_dns):
    fake_dns.add("shop.example.info", "A", "62.239.237.1")
    page = resolution_page(stored("shop.example.info", "example.info"))

    assert page is not None and page.registrar is not None
    assert page.registrar.error and page.registrar.name == ""


def test_nxdomain_and_an_onion_have_no_addresses(zone):
    gone = resolution_page(stored("gone.example.com", "example.com"))
    onion = resolution_page(stored("abcdefghijklmnop.onion", unresolvable=True))

    assert gone is not None and gone.outcome == "the name does not exist (NXDOMAIN)" and gone.addresses == ()
    assert onion is not None and onion.addresses == () and "onion" in onion.outcome


def test_a_cdn_with_its_origin(zone):
    Provider.objects.create(name="Example CDN", is_cdn=True, asns=[19373], abuse_emails=["abuse@cdn.example"])
    DomainRule.objects.create(suffix="example.org", origin_host="www.example.com")
    page = resolution_page(stored("example.org", "example.org"))

    assert page is not None and page.cdn == "Example CDN"
    assert page.origin_host == "www.example.com"
    assert page.origin is not None and page.origin.country == "US" and page.country == "US"


def test_an_abuse_rule_is_shown_when_the_resolution_records_one(zone):
    data = stored("example.com", "example.com")
    data["ips"][0]["abuse_rule"] = "marked_abuse"
    data["provider"]["abuse_rule"] = "manual"
    data["ips"][1]["abuse_rule"] = ""

    page = resolution_page(data)

    assert page is not None and page.addresses[0].abuse_rule == "the registry marks it as the abuse mailbox"
    assert page.provider is not None and page.provider.abuse_rule == "set or confirmed by hand"
    assert page.addresses[1].abuse_rule == ""


def test_older_and_odd_shapes_read_without_failing():
    page = resolution_page(
        {"outcome": "resolved", "ips": [{"ip": "192.0.2.1", "asn": {"asn": 64586, "country": "NL"}}, "junk"]}
    )
    assert page is not None and page.addresses[0].asn == 64586 and page.registrar is None
    assert resolution_page({}) is None and resolution_page(None) is None


def test_routing_in_words():
    decision = Route(
        "police_first;domain:example.org",
        (
            Recipient(kind=RecipientKind.POLICE, name="Police", emails=("p@police.example",)),
            Recipient(kind=RecipientKind.PROVIDER, name="Host", emails=(), holds=(Hold.POLICE_FIRST, Hold.NO_ADDRESS)),
        ),
    )
    page = route_page(decision)

    assert page.police_first_held
    assert page.rule.startswith("police first") and "domain rule for example.org" in page.rule
    assert page.recipients[1].kind == "hosting provider"
    assert page.recipients[1].holds == (
        "held until a senior analyst releases it (police first)",
        "held: no abuse address known",
    )
    assert routed_event_text(decision.as_dict())[2] == "Host (hosting provider): " + ", ".join(page.recipients[1].holds)
    assert route_rule_text("partner_hotline:DE") == "hosted in DE: referral to the partner hotline there"
    assert "no notices" in route_rule_text("domain:example.org:do_not_notify")
