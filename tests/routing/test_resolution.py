# mypy: disable-error-code="union-attr, arg-type, index, operator, no-untyped-call"
"""Resolution of hosts and cases against the local DNS and RDAP peers replaying recorded registry
answers: networks, abuse contacts, providers, CDNs, registrars, caching and failures."""

from __future__ import annotations

import copy
import io
import json
import threading
import time
from datetime import timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.utils import timezone

from devnet import rdap_objects
from devnet.cymru import add_asn_name, add_origin, cymru_origin_name
from devnet.rdap import recorded_networks
from reports.cases.services import Actor
from reports.models import Case, CaseState, Channel, EventKind
from reports.services import report_create
from routing.models import DomainRule, HostLookup, NetworkLookup, Provider, ProviderSource
from routing.resolution.cases import case_resolve, cases_resolve, open_cases_due_for_reresolution
from routing.resolution.confirmation import contact_confirm
from routing.resolution.lookups import Lookups
from routing.resolution.resolve import HostQuery, hosts_resolve
from routing.resolution.signals import provider_changed

pytestmark = pytest.mark.django_db

BT = ["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"]

# The table of the issue: every recorded address, what it must resolve to.
RECORDED = [
    ("74.125.225.229", 15169, "US", ["arin-contact@google.com"], "abuse-role", "high"),
    ("2001:4860:4860::8888", 15169, "US", ["arin-contact@google.com"], "abuse-role", "high"),
    ("62.239.237.1", 2856, "GB", BT, "abuse-role", "high"),
    ("2a00:2381:ffff::1", 2856, "GB", BT, "abuse-role", "high"),
    ("200.57.141.161", 19373, "MX", ["operacion.redes@triara.com"], "abuse-role", "high"),
    ("2801:10:c000::", None, "CO", ["sistemas.red@uco.edu.co"], "abuse-role", "high"),
    ("210.107.73.73", 3786, "KR", ["abuse@bora.net"], "abuse-like-address", "high"),
    ("2001:240:10c:1::ca20:9d1d", 2497, "JP", ["hostmaster@nic.ad.jp"], "technical-or-administrative", "low"),
    # AFRINIC: no roles. Documented rule: role mailboxes (vCard kind "group") first, then the
    # organisation's addresses, then individuals'.
    ("196.11.240.215", 12091, "ZA", ["ip-maint@mtnbusiness.co.za"], "no-roles", "low"),
    (
        "2001:43f8:7b0::",
        37578,
        "KE",
        ["mwangi@isoc.org", "barry@tespok.co.ke", "support@kixp.or.ke"],
        "no-roles",
        "low",
    ),
]


def resolve_ip(ip: str):
    return hosts_resolve([HostQuery(ip, is_ip=True, registered_domain=ip)])[ip]


@pytest.mark.parametrize(("ip", "asn", "country", "emails", "source", "confidence"), RECORDED)
def test_it_resolves_every_recorded_address_as_specified(
    recorded_registry, ip, asn, country, emails, source, confidence
):
    resolution = resolve_ip(ip)

    [info] = resolution.as_dict()["ips"]
    assert info["asn"] == asn
    assert info["country"] == country
    assert info["abuse_emails"] == emails
    assert info["abuse_source"] == source
    assert info["confidence"] == confidence
    assert resolution.outcome == "resolved"
    assert resolution.country == country
    assert resolution.provider is not None and resolution.provider.abuse_emails == emails
    assert resolution.contact_check is (confidence != "high")


def test_it_falls_back_to_the_asn_country_when_the_network_has_none(recorded_registry):
    # ARIN's network objects for Google carry no country; Team Cymru says US.
    assert recorded_networks()["74.125.225.229"]["response"].get("country") is None
    info = resolve_ip("74.125.225.229").as_dict()["ips"][0]
    assert info["country"] == "US" and info["registry"] == "arin"
    assert info["asn_name"].startswith("GOOGLE")
    assert info["cidr"] == "74.125.0.0/16" and info["network_name"] == "GOOGLE"


def test_it_fetches_a_nested_abuse_entity_that_came_without_its_addresses(fake_dns, fake_rdap, recorded_registry):
    fake_rdap.clear()
    network = copy.deepcopy(recorded_networks()["74.125.225.229"]["response"])
    del network["entities"][0]["entities"][0]["vcardArray"]  # GOGL -> ZG39-ARIN, abuse role
    fake_rdap.add_network(network)
    fake_rdap.add_entity(json.loads((_fixtures() / "entity.json").read_text()))

    info = resolve_ip("74.125.225.229").as_dict()["ips"][0]

    assert info["abuse_emails"] == ["arin-contact@google.com"] and info["abuse_source"] == "abuse-role"
    assert "/entity/ZG39-ARIN" in fake_rdap.requests


def test_one_rdap_query_serves_every_address_of_a_network_and_later_batches_cost_nothing(
    fake_dns, fake_rdap, recorded_registry
):
    for n in (1, 2, 3):  # three more hosts in Google's 74.125.0.0/16 (and its /24 at Team Cymru)
        add_origin(fake_dns, f"74.125.225.{n}", asn="15169", cidr="74.125.225.0/24", country="US", registry="arin")
        fake_dns.add(f"h{n}.example.com", "A", f"74.125.225.{n}")
    queries = [HostQuery(f"h{n}.example.com", registered_domain="example.com") for n in (1, 2, 3)]

    first = hosts_resolve(queries)

    assert {r.provider.name for r in first.values()} == {"Google Inc."}
    assert len([p for p in fake_rdap.requests if p.startswith("/ip/")]) == 1
    cymru = [q for q in fake_dns.queries if q[0].endswith("origin.asn.cymru.com")]
    assert len(cymru) == 1  # the announced /24 answered for its neighbours
    fake_rdap.requests.clear()
    fake_dns.queries.clear()

    hosts_resolve(queries)

    assert fake_rdap.requests == [] and fake_dns.queries == []


def test_cached_answers_expire(fake_dns, fake_rdap, recorded_registry, settings):
    fake_dns.add("h.example.com", "A", "62.239.237.1", ttl=60)
    query = [HostQuery("h.example.com", registered_domain="example.com")]
    hosts_resolve(query)
    fake_rdap.requests.clear()
    fake_dns.queries.clear()

    # A 60 s TTL is clamped up to the minimum host lifetime; the network lives 12 hours.
    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SCART_HOST_CACHE_MIN_SECONDS + 1)):
        hosts_resolve(query)
    assert ("h.example.com", "A") in fake_dns.queries
    assert not [p for p in fake_rdap.requests if p.startswith("/ip/")]

    with time_machine.travel(timezone.now() + timedelta(seconds=settings.SCART_NETWORK_CACHE_SECONDS + 1)):
        hosts_resolve(query)
    assert "/ip/62.239.237.1" in fake_rdap.requests


def test_many_cases_on_one_host_cost_one_lookup(fake_dns, recorded_registry):
    fake_dns.add("big.example.net", "A", "196.11.240.215")
    result = report_create(channel=Channel.API, urls=[f"https://big.example.net/{i}" for i in range(50)])

    attempts = cases_resolve(case_ids=[a.case_id for a in result.accepted])

    assert len(attempts) == 50
    assert fake_dns.queries.count(("big.example.net", "A")) == 1
    assert set(Case.objects.values_list("hosting_country", flat=True)) == {"ZA"}


@pytest.mark.django_db(transaction=True)
def test_a_worker_waits_for_the_host_lookup_another_worker_is_doing(fake_dns, recorded_registry):
    fake_dns.add("busy.example.com", "A", "62.239.237.1")
    HostLookup.objects.create(host="busy.example.com", claimed_until=timezone.now() + timedelta(seconds=20))
    other_worker_answer = {
        "host": "busy.example.com",
        "outcome": "resolved",
        "cname_chain": [],
        "addresses": ["62.239.237.1"],
        "error": "",
        "ttl": 300,
    }

    def finish() -> None:
        time.sleep(0.3)
        HostLookup.objects.filter(host="busy.example.com").update(
            result=other_worker_answer, expires_at=timezone.now() + timedelta(minutes=5), claimed_until=None
        )
        from django.db import connection

        connection.close()

    thread = threading.Thread(target=finish)
    thread.start()
    resolution = hosts_resolve([HostQuery("busy.example.com", registered_domain="example.com")])["busy.example.com"]
    thread.join()

    assert resolution.dns.addresses == ("62.239.237.1",)
    assert ("busy.example.com", "A") not in fake_dns.queries


@pytest.mark.django_db(transaction=True)
def test_concurrent_batches_on_one_new_host_ask_dns_once(fake_dns, recorded_registry):
    fake_dns.add("rush.example.com", "A", "62.239.237.1")
    fake_dns.latency = 0.2
    try:
        errors: list[BaseException] = []

        def worker() -> None:
            try:
                hosts_resolve([HostQuery("rush.example.com", registered_domain="example.com")])
            except BaseException as exc:  # pragma: no cover - reported below
                errors.append(exc)
            finally:
                from django.db import connection

                connection.close()

        threads = [threading.Thread(target=worker) for _ in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        fake_dns.latency = 0.0
    assert not errors
    assert fake_dns.queries.count(("rush.example.com", "A")) == 1


def test_cases_on_hosts_with_cached_answers_are_written_while_new_hosts_are_asked(fake_dns, recorded_registry):
    fake_dns.add("known.example.com", "A", "62.239.237.1")
    fake_dns.add("new.example.com", "A", "62.239.237.1")
    case_resolve(case_id=_case("https://known.example.com/first").pk)  # its answers are cached now
    later = report_create(channel=Channel.API, urls=["https://known.example.com/second", "https://new.example.com/"])
    fake_dns.latency = 0.3
    try:
        attempts = cases_resolve(case_ids=[a.case_id for a in later.accepted])
    finally:
        fake_dns.latency = 0.0

    assert len(attempts) == 2
    known, new = (Case.objects.get(pk=a.case_id) for a in later.accepted)
    assert known.state == new.state == CaseState.AWAITING_ASSESSMENT
    assert known.provider is not None and known.provider == new.provider
    assert known.resolution["registrar"] == new.resolution["registrar"]
    # The case on the known host was written before DNS had answered about the new one.
    assert known.resolved_at < HostLookup.objects.get(host="new.example.com").fetched_at


def test_a_batch_that_fails_midway_leaves_no_host_claimed(fake_dns, recorded_registry):
    fake_dns.add("quick.example.com", "A", "62.239.237.1")
    fake_dns.add("stuck.example.com", "A", "62.239.237.1")
    fake_dns.set_behaviour("stuck.example.com", "timeout")

    def fail(results: object) -> None:
        raise RuntimeError("a bug in what comes after DNS")

    with pytest.raises(RuntimeError):
        Lookups().hosts([("quick.example.com", False, False), ("stuck.example.com", False, False)], on_answers=fail)

    # The answer that came in is kept; the one still outstanding is nobody's: the next batch asks.
    assert HostLookup.objects.get(host="quick.example.com").expires_at is not None
    assert HostLookup.objects.get(host="stuck.example.com").claimed_until is None


def test_a_registry_error_is_retried_later_and_recorded(fake_dns, fake_rdap, recorded_registry):
    fake_dns.add("down.example.com", "A", "62.239.237.1")
    fake_rdap.set_behaviour("/ip/", "503")
    case = _case("https://down.example.com/x")

    attempt = case_resolve(case_id=case.pk)

    assert attempt is not None and attempt.retry_at is not None
    case.refresh_from_db()
    assert case.state == CaseState.NEW and case.resolve_due_at == attempt.retry_at
    failure = case.events.get(kind=EventKind.RESOLUTION_FAILED)
    assert "HTTP 503" in " ".join(failure.data["errors"])
    assert not NetworkLookup.objects.exists()  # a transient failure is not cached

    fake_rdap.set_behaviour("/ip/", "normal")
    with time_machine.travel(attempt.retry_at + timedelta(seconds=1)):
        assert case_resolve(case_id=case.pk).retry_at is None
    case.refresh_from_db()
    assert case.state == CaseState.AWAITING_ASSESSMENT and case.resolution["outcome"] == "resolved"


def test_it_respects_429_and_retry_after_across_lookups(fake_dns, fake_rdap, recorded_registry):
    fake_dns.add("slow.example.com", "A", "62.239.237.1")
    fake_dns.add("slow2.example.com", "A", "200.57.141.161")
    fake_rdap.set_behaviour("/ip/", "429", retry_after=600, times=1)
    case = _case("https://slow.example.com/x")

    attempt = case_resolve(case_id=case.pk)

    assert attempt.retry_at >= timezone.now() + timedelta(seconds=590)
    # The registry said wait: a lookup within those ten minutes sends nothing to it.
    before = len(fake_rdap.requests)
    other = hosts_resolve([HostQuery("slow.example.com", registered_domain="example.com")])["slow.example.com"]
    assert other.transient and len(fake_rdap.requests) == before
    # Another registry (LACNIC) is not held up.
    lacnic = hosts_resolve([HostQuery("slow2.example.com", registered_domain="example.com")])["slow2.example.com"]
    assert not lacnic.transient and lacnic.provider is not None


def test_a_permanent_registry_failure_leaves_the_case_for_a_contact_check(fake_dns, recorded_registry):
    add_origin(fake_dns, "81.0.0.1", asn="64512", cidr="81.0.0.0/24", country="NL", registry="ripencc")
    fake_dns.add("orphan.example.com", "A", "81.0.0.1")
    case = _case("https://orphan.example.com/")

    case_resolve(case_id=case.pk)

    case.refresh_from_db()
    assert case.resolution["outcome"] == "partial"
    assert case.provider is None and case.contact_check and case.contact_confidence == "none"
    assert case.hosting_country == "NL" and case.asn == 64512


def test_manual_rules_beat_rdap_most_specific_first(fake_dns, recorded_registry):
    fake_dns.add("www.example.com", "A", "74.125.225.229")
    by_asn = Provider.objects.create(name="By ASN", asns=[15169], abuse_emails=["asn@example.net"])
    wide = Provider.objects.create(name="Wide", cidrs=["74.0.0.0/8"], abuse_emails=["wide@example.net"])
    narrow = Provider.objects.create(name="Narrow", cidrs=["74.125.225.0/24"], abuse_emails=["narrow@example.net"])
    query = [HostQuery("www.example.com", registered_domain="example.com")]

    assert hosts_resolve(query)["www.example.com"].match.rule == "cidr:74.125.225.0/24"
    narrow.delete()
    assert hosts_resolve(query)["www.example.com"].provider == wide
    wide.delete()
    resolution = hosts_resolve(query)["www.example.com"]
    assert resolution.provider == by_asn and resolution.match.rule == "asn:15169"
    forced = Provider.objects.create(name="Forced", abuse_emails=["forced@example.net"], country="NL")
    DomainRule.objects.create(suffix="example.com", provider=forced)
    resolution = hosts_resolve(query)["www.example.com"]
    assert resolution.provider == forced and resolution.match.rule == "domain:example.com"
    assert resolution.confidence == "high"


def test_a_provider_found_in_rdap_is_matched_by_its_key_said_once(fake_dns, recorded_registry):
    fake_dns.add("www.example.com", "A", "74.125.225.229")
    query = [HostQuery("www.example.com", registered_domain="example.com")]
    resolution = hosts_resolve(query)["www.example.com"]
    # Analysts read this on the case page ("matched by ..."): not "rdap:rdap:arin:GOGL".
    assert resolution.match.rule == "rdap:arin:GOGL" == resolution.provider.key


def test_providers_made_from_rdap_are_one_per_organisation(recorded_registry):
    v4 = resolve_ip("74.125.225.229").provider
    v6 = resolve_ip("2001:4860:4860::8888").provider
    assert v4 == v6
    assert v4.key == "rdap:arin:GOGL" and v4.source == ProviderSource.RDAP and v4.name == "Google Inc."
    bt = resolve_ip("62.239.237.1").provider
    assert bt == resolve_ip("2a00:2381:ffff::1").provider and bt.name == "BT Corporate Registry"
    # The operator's entity, not the national registry's, stands for the KRNIC network.
    assert resolve_ip("210.107.73.73").provider.name == "DACOM BORANET"


def test_a_case_behind_a_cdn_records_it_and_resolves_the_origin_an_analyst_set(fake_dns, fake_rdap, recorded_registry):
    add_origin(fake_dns, "104.16.0.1", asn="13335", cidr="104.16.0.0/13", country="US", registry="arin")
    add_asn_name(fake_dns, "13335", country="US", registry="arin", name="CLOUDFLARENET - Cloudflare, Inc., US")
    fake_rdap.add_network(_network("104.16.0.0", "104.23.255.255", "CLOUDFLARENET", "US", "abuse@cloudflare.com"))
    fake_dns.add("shop.example.org", "A", "104.16.0.1")
    fake_dns.add("origin.example.net", "A", "62.239.237.1")
    case = _case("https://shop.example.org/item")

    case_resolve(case_id=case.pk)
    case.refresh_from_db()
    cloudflare = Provider.objects.get(key="seed:cloudflare")
    assert case.cdn == cloudflare and case.provider == cloudflare
    assert case.resolution["cdn"]["name"] == "Cloudflare" and case.resolution["origin"] is None

    DomainRule.objects.create(suffix="shop.example.org", origin_host="origin.example.net")
    case_resolve(case_id=case.pk, force=True)
    case.refresh_from_db()
    assert case.cdn == cloudflare
    assert case.origin_provider is not None and case.origin_provider.abuse_emails == BT
    assert case.hosting_country == "GB"
    assert case.resolution["origin"]["host"] == "origin.example.net"


def test_it_finds_the_registrar_of_the_registrable_domain(fake_dns, fake_rdap, recorded_registry):
    fake_rdap.add_domain(
        rdap_objects.domain(
            "example.co.uk",
            entities=[
                rdap_objects.registrar(
                    "Example Registrar",
                    handle="REG-1",
                    iana_id="1234",
                    abuse=rdap_objects.abuse_role("abuse@registrar.example"),
                )
            ],
        )
    )
    fake_dns.add("www.shop.example.co.uk", "A", "62.239.237.1")
    case = _case("https://www.shop.example.co.uk/")

    case_resolve(case_id=case.pk)

    case.refresh_from_db()
    assert case.registrable_domain == "example.co.uk"
    assert case.resolution["registrar"] == {
        "domain": "example.co.uk",
        "name": "Example Registrar",
        "abuse_emails": ["abuse@registrar.example"],
        "iana_id": "1234",
    }
    assert "/domain/example.co.uk" in fake_rdap.requests


def test_low_confidence_contacts_wait_for_a_senior_and_a_confirmation_releases_them(fake_dns, recorded_registry):
    fake_dns.add("jp.example.org", "AAAA", "2001:240:10c:1::ca20:9d1d")
    case = _case("https://jp.example.org/")
    case_resolve(case_id=case.pk)
    case.refresh_from_db()
    assert case.contact_check and case.contact_confidence == "low"

    released = contact_confirm(provider=case.provider, emails=["abuse@iij.example"], actor=Actor.system())

    assert released == 1
    case.refresh_from_db()
    assert not case.contact_check and case.contact_confidence == "high"
    assert case.provider.verified and case.provider.abuse_emails == ["abuse@iij.example"]
    assert case.events.filter(kind=EventKind.CONTACT_CHECKED).exists()
    # A confirmed provider keeps its address when the registry is asked again.
    case_resolve(case_id=case.pk, force=True)
    case.refresh_from_db()
    assert case.provider.abuse_emails == ["abuse@iij.example"] and not case.contact_check


def test_a_move_to_another_provider_writes_an_event_and_signals_rerouting(
    fake_dns, recorded_registry, django_capture_on_commit_callbacks
):
    fake_dns.add("moving.example.com", "A", "62.239.237.1")
    case = _case("https://moving.example.com/")
    case_resolve(case_id=case.pk)
    case.refresh_from_db()
    bt = case.provider
    received: list[dict] = []

    def listener(sender, **kwargs):
        received.append(kwargs)

    provider_changed.connect(listener)
    try:
        fake_dns.clear()
        from devnet.cymru import load_recorded_cymru

        load_recorded_cymru(fake_dns)
        fake_dns.add("moving.example.com", "A", "200.57.141.161")
        with time_machine.travel(timezone.now() + timedelta(hours=13)):
            assert open_cases_due_for_reresolution() == [case.pk]
            with django_capture_on_commit_callbacks(execute=True):
                cases_resolve(case_ids=[case.pk])
    finally:
        provider_changed.disconnect(listener)

    case.refresh_from_db()
    assert case.provider != bt and case.hosting_country == "MX"
    change = case.events.get(kind=EventKind.PROVIDER_CHANGED)
    assert change.data["from"] == bt.pk and change.data["to"] == case.provider_id
    assert received == [
        {"signal": provider_changed, "case_id": case.pk, "old_provider_id": bt.pk, "new_provider_id": case.provider_id}
    ]


def test_the_resolve_command_prints_the_resolution_as_json(fake_dns, recorded_registry):
    fake_dns.add("www.example.org", "CNAME", "cdn.example.net.")
    fake_dns.add("cdn.example.net", "A", "62.239.237.1")
    fake_dns.add("cdn.example.net", "AAAA", "2a00:2381:ffff::1")
    out = io.StringIO()

    call_command("resolve", "HTTPS://WWW.Example.org/a?b=1", "--json", stdout=out)

    data = json.loads(out.getvalue())
    assert data["url"] == "HTTPS://WWW.Example.org/a?b=1"
    assert data["canonical"] == "https://www.example.org/a?b=1"
    assert data["host"] == "www.example.org" and data["registrable_domain"] == "example.org"
    assert data["cnames"] == ["cdn.example.net"]
    assert [ip["ip"] for ip in data["ips"]] == ["62.239.237.1", "2a00:2381:ffff::1"]
    first = data["ips"][0]
    assert {k: first[k] for k in ("asn", "cidr", "network_name", "country", "registry", "abuse_source")} == {
        "asn": 2856,
        "cidr": "62.239.237.0/24",
        "network_name": "BT-CORPORATE",
        "country": "GB",
        "registry": "ripencc",
        "abuse_source": "abuse-role",
    }
    assert first["abuse_emails"] == BT and first["confidence"] == "high" and first["asn_name"]
    assert data["provider"]["name"] == "BT Corporate Registry"
    assert data["country"] == "GB" and data["cdn"] is None and data["outcome"] == "resolved"
    assert "registrar" in data
    assert not Case.objects.exists()  # nothing stored as a case


def test_the_resolve_command_says_why_a_url_is_refused():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="scheme"):
        call_command("resolve", "ftp://example.com/", "--json")


def test_private_addresses_are_not_sent_to_registries(fake_dns, fake_rdap):
    fake_dns.add("intranet.example.com", "A", "10.1.2.3")
    resolution = hosts_resolve([HostQuery("intranet.example.com", registered_domain="example.com")])[
        "intranet.example.com"
    ]
    assert resolution.outcome == "resolved" and resolution.provider is None
    assert "globally routable" in resolution.ips[0].note
    assert not [p for p in fake_rdap.requests if p.startswith("/ip/")]
    assert not [q for q in fake_dns.queries if "cymru" in q[0]]


def test_a_lookups_object_counts_what_it_asked(fake_dns, recorded_registry):
    fake_dns.add("a.example.com", "A", "62.239.237.1")
    lookups = Lookups()
    hosts_resolve([HostQuery("a.example.com", registered_domain="example.com")], lookups=lookups)
    assert lookups.counters.dns_lookups == 1
    assert lookups.counters.asn_lookups == 1 and lookups.counters.rdap_network_lookups == 1


# -- helpers -------------------------------------------------------------------------------------


def _case(url: str) -> Case:
    result = report_create(channel=Channel.API, urls=[url])
    return Case.objects.get(pk=result.accepted[0].case_id)


def _fixtures():
    from devnet.rdap import REGISTRY_FIXTURES

    return REGISTRY_FIXTURES


def _network(start: str, end: str, name: str, country: str, abuse: str) -> dict:
    return rdap_objects.ip_network(
        handle=f"NET-{name}",
        start=start,
        end=end,
        name=name,
        country=country,
        ipVersion="v4",
        entities=[rdap_objects.abuse_role(abuse, handle=f"ABUSE-{name}")],
    )


def test_the_demo_reports_resolve_through_the_demo_zone(fake_dns, fake_rdap, recorded_registry):
    from devnet.demo import NL_ABUSE, demo_domains, demo_zone, load_demo_nl_network

    fake_dns.load(demo_zone())
    load_demo_nl_network(fake_dns, fake_rdap)
    for domain in demo_domains():
        fake_rdap.add_domain(domain)
    call_command("demo_reports", stdout=io.StringIO())
    call_command("demo_reports", stdout=io.StringIO())  # once only

    cases = Case.objects.all()
    assert cases.count() == 13
    cases_resolve(case_ids=list(cases.values_list("id", flat=True)))
    by_host = {c.host: c for c in Case.objects.select_related("provider")}
    assert by_host["www.example.org"].provider.name == "BT Corporate Registry"
    assert by_host["www.example.org"].resolution["cnames"] == ["cdn.example.net", "edge.cdn.example.net"]
    assert by_host["mail.example.net"].resolution["provider"]["abuse_source"] == "abuse-like-address"
    assert by_host["ix.example.net"].contact_check and by_host["v6only.example.org"].contact_check
    assert by_host["gone.example.com"].resolution["outcome"] == "nxdomain"
    assert by_host["example.com"].resolution["registrar"]["abuse_emails"] == ["abuse@iana.org"]
    nl = by_host["hosting.example.net"]
    assert nl.hosting_country == "NL" and nl.provider.abuse_emails == [NL_ABUSE] and not nl.contact_check
    assert nl.provider.name == "Demo Hosting B.V."
    # The host the demo gives, by a domain rule, to a provider on the API channel (demo_provider_api).
    assert by_host["files.example.net"].hosting_country == "NL"
    assert {c.state for c in by_host.values()} == {CaseState.AWAITING_ASSESSMENT}


def test_the_twice_daily_task_enqueues_open_cases_resolved_long_ago(fake_dns, recorded_registry, monkeypatch):
    from routing.tasks import resolve_open_cases

    fake_dns.add("old.example.com", "A", "62.239.237.1")
    case = _case("https://old.example.com/")
    case_resolve(case_id=case.pk)
    sent: list[list[int]] = []
    monkeypatch.setattr("routing.tasks.resolve_cases.delay", lambda ids: sent.append(ids))

    assert resolve_open_cases() == 0
    with time_machine.travel(timezone.now() + timedelta(hours=13)):
        assert resolve_open_cases() == 1
    assert sent == [[case.pk]]


def test_one_unreadable_answer_does_not_hold_up_the_other_hosts_of_a_batch(fake_dns, recorded_registry):
    fake_dns.add("odd.example.com", "A", "81.0.0.9")
    fake_dns.add(cymru_origin_name("81.0.0.9"), "TXT", "garbage")
    fake_dns.add("noasn.example.com", "A", "62.239.237.77")  # no Team Cymru record at all
    fake_dns.add("fine.example.com", "A", "200.57.141.161")
    cases = [_case(f"https://{h}.example.com/") for h in ("odd", "noasn", "fine")]

    attempts = cases_resolve(case_ids=[c.pk for c in cases])

    assert all(a.retry_at is None for a in attempts.values())
    by_host = {c.host: c for c in Case.objects.all()}
    assert by_host["fine.example.com"].provider is not None
    assert by_host["odd.example.com"].resolution["outcome"] == "partial"
    assert "unreadable ASN answer" in " ".join(by_host["odd.example.com"].resolution["errors"])
    # Without an ASN the registry is unknown; the address still gets its RDAP network.
    assert by_host["noasn.example.com"].resolution["provider"]["name"] == "BT Corporate Registry"


def test_an_announced_prefix_that_does_not_contain_the_address_ends_the_lookup(fake_dns, recorded_registry):
    add_origin(fake_dns, "81.0.0.1", asn="64512", cidr="82.0.0.0/24", country="NL", registry="ripencc")
    infos = Lookups().addresses(["81.0.0.1"])
    assert infos["81.0.0.1"].asn.asn == 64512


def test_a_failing_re_resolution_keeps_the_last_good_answer(fake_dns, recorded_registry):
    fake_dns.add("steady.example.com", "A", "62.239.237.1")
    case = _case("https://steady.example.com/")
    case_resolve(case_id=case.pk)
    for _ in range(4):
        case_resolve(case_id=case.pk, force=True)
    case.refresh_from_db()
    assert case.resolve_attempts == 0  # success starts the count again
    good = case.provider

    fake_dns.set_behaviour("steady.example.com", "servfail")
    Case.objects.filter(pk=case.pk).update(resolve_attempts=5)
    case_resolve(case_id=case.pk, force=True)

    case.refresh_from_db()
    assert case.provider == good and case.hosting_country == "GB" and case.resolution["outcome"] == "resolved"
    assert not case.events.filter(kind=EventKind.PROVIDER_CHANGED).exists()
    assert case.events.filter(kind=EventKind.RESOLUTION_FAILED).last().data["kept"] == "the previous resolution"


def test_the_registrar_is_asked_for_the_registered_name_not_a_private_suffix(fake_dns, fake_rdap, recorded_registry):
    fake_dns.add("someone.github.io", "A", "62.239.237.1")
    resolution = hosts_resolve([HostQuery("someone.github.io", registered_domain="github.io")])["someone.github.io"]
    case = _case("https://someone.github.io/page")
    case_resolve(case_id=case.pk)
    assert "/domain/github.io" in fake_rdap.requests and "/domain/someone.github.io" not in fake_rdap.requests
    assert resolution.registrar is not None


def test_expired_cache_rows_are_purged_after_a_day(fake_dns, recorded_registry):
    from routing.tasks import resolve_purge_caches

    fake_dns.add("p.example.com", "A", "62.239.237.1")
    hosts_resolve([HostQuery("p.example.com", registered_domain="example.com")])
    assert NetworkLookup.objects.exists() and HostLookup.objects.exists()
    assert resolve_purge_caches() == 0
    with time_machine.travel(timezone.now() + timedelta(days=3)):
        assert resolve_purge_caches() > 0
    assert not NetworkLookup.objects.exists() and not HostLookup.objects.exists()


def test_the_contact_check_queue_lists_cases_and_their_providers(fake_dns, recorded_registry):
    from workspace.selectors import contact_check_queue, providers_to_check

    fake_dns.add("ke.example.net", "AAAA", "2001:43f8:7b0::")
    fake_dns.add("za.example.net", "A", "196.11.240.215")
    fake_dns.add("gb.example.net", "A", "62.239.237.1")
    cases = [_case(f"https://{c}.example.net/{i}") for c in ("ke", "za", "gb") for i in range(2)]
    cases_resolve(case_ids=[c.pk for c in cases])

    assert {c.host for c in contact_check_queue()} == {"ke.example.net", "za.example.net"}
    assert [(p.name, p.waiting) for p in providers_to_check()] == [  # type: ignore[attr-defined]
        ("ORG-TA38-AFRINIC", 2),
        ("ORG-VSA1-AFRINIC", 2),
    ]
