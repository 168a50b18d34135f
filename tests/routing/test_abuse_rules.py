# mypy: disable-error-code="union-attr, index"
"""Where notices go: the order of rules that picks a network's abuse addresses (every rung tried on
a recorded registry answer, or on a small edit of one where no recording shows that rung), the
rule kept with the resolution and the provider and shown on the contact page, and the provider's
name taken from the organisation rather than a maintainer."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.urls import reverse

from devnet.cymru import add_asn_name, add_origin
from devnet.dns import FakeDNS
from devnet.rdap import FakeRDAP, edited_networks, recorded_networks
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.models import Case, Channel, Event, EventKind
from reports.services import report_create
from routing.models import AbuseRule, Notice, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.sending import notices_send_due
from routing.resolution.cases import cases_resolve
from routing.resolution.providers import provider_from_network
from routing.resolution.rdap import NetworkInfo
from routing.resolution.resolve import HostQuery, hosts_resolve
from tests.factories import awaiting_case

pytestmark = pytest.mark.django_db

COLOCLUE = "94.142.240.1"
BT = ["zzdnsr@bt.com", "steve.a.marshall@bt.com", "lee.bailey-hague@bt.com"]
Edit = Callable[[dict[str, Any]], None]


def _entities(response: dict[str, Any], handle: str) -> list[dict[str, Any]]:
    """Every copy of the entity ``handle`` in an RDAP object (registries repeat nested ones)."""
    found, stack = [], list(response.get("entities") or [])
    while stack:
        entity = stack.pop()
        if entity.get("handle") == handle:
            found.append(entity)
        stack.extend(entity.get("entities") or [])
    assert found, handle
    return found


def _emails(response: dict[str, Any], handle: str) -> list[list[Any]]:
    return [p for p in _entities(response, handle)[0]["vcardArray"][1] if p[0] == "email"]


def _set_emails(response: dict[str, Any], handle: str, emails: list[list[Any]]) -> None:
    for entity in _entities(response, handle):
        vcard = entity["vcardArray"][1]
        vcard[:] = [p for p in vcard if p[0] != "email"] + copy.deepcopy(emails)


def apnic_irt_of_the_operator(response: dict[str, Any]) -> None:
    """IRT-KRNIC-KR as an operator's IRT: APNIC writes its abuse-mailbox with ``pref: 1`` and its
    e-mail (a hostmaster@) without parameters, in that order, as in the recording."""
    assert [p[1] for p in _emails(response, "IRT-KRNIC-KR")] == [{"pref": "1"}, {}]
    _set_emails(
        response,
        "IRT-KRNIC-KR",
        [["email", {"pref": "1"}, "text", "abuse@bora.net"], ["email", {}, "text", "hostmaster@bora.net"]],
    )


def bt_role_with_an_abuse_address(response: dict[str, Any]) -> None:
    """BT's abuse role (which marks nothing) with an unmarked abuse@ among its addresses."""
    [role] = _entities(response, "BTCR3-RIPE")
    role["vcardArray"][1].insert(4, ["email", {}, "text", "abuse@bt.com"])


def boranet_without_its_abuse_address(response: dict[str, Any]) -> None:
    """Only the national registry's IRT is left to write to."""
    _set_emails(
        response,
        "DB50-AP",
        [["email", {}, "text", "ipadm@nic.bora.net"], ["email", {}, "text", "security@bora.net"]],
    )


def triara_with_a_preferred_address(response: dict[str, Any]) -> None:
    """Outside APNIC ``pref: 1`` is only a preference: it marks no abuse mailbox."""
    _set_emails(
        response,
        "RYT2",
        [["email", {"pref": "1"}, "text", "noc@triara.com"], ["email", {}, "text", "operacion.redes@TRIARA.COM"]],
    )


def jpnic_without_its_address(response: dict[str, Any]) -> None:
    _set_emails(response, "JNIC1-AP", [])


# (address, edit of its recorded answer or None, addresses chosen, rule, confidence)
RUNGS: list[tuple[str, Edit | None, list[str], str, str]] = [
    (COLOCLUE, None, ["abuse@coloclue.net"], AbuseRule.MARKED_ABUSE, "high"),
    ("210.107.73.73", apnic_irt_of_the_operator, ["abuse@bora.net"], AbuseRule.MARKED_ABUSE, "high"),
    ("62.239.237.1", bt_role_with_an_abuse_address, ["abuse@bt.com"], AbuseRule.ABUSE_LOCAL_PART, "high"),
    ("62.239.237.1", None, BT, AbuseRule.ABUSE_ROLE_ALL, "high"),
    ("74.125.225.229", None, ["arin-contact@google.com"], AbuseRule.ABUSE_ROLE_ALL, "high"),
    ("200.57.141.161", None, ["operacion.redes@triara.com"], AbuseRule.ABUSE_ROLE_ALL, "high"),
    (
        "200.57.141.161",
        triara_with_a_preferred_address,
        ["noc@triara.com", "operacion.redes@triara.com"],
        AbuseRule.ABUSE_ROLE_ALL,
        "high",
    ),
    ("210.107.73.73", None, ["abuse@bora.net"], AbuseRule.ABUSE_ELSEWHERE, "high"),
    (
        "210.107.73.73",
        boranet_without_its_abuse_address,
        ["hostmaster@nic.or.kr"],
        AbuseRule.REGISTRY_ABUSE_ROLE,
        "low",
    ),
    ("2001:240:10c:1::ca20:9d1d", None, ["hostmaster@nic.ad.jp"], AbuseRule.TECH_ADMIN, "low"),
    ("196.11.240.215", None, ["ip-maint@mtnbusiness.co.za"], AbuseRule.NO_ROLES, "low"),
    ("2001:240:10c:1::ca20:9d1d", jpnic_without_its_address, [], AbuseRule.NONE, "none"),
]


@pytest.fixture
def registry(fake_dns: FakeDNS, fake_rdap: FakeRDAP, recorded_registry: None) -> Callable[[str, Edit | None], None]:
    """The recorded answers and the edited ones on the peers; ``serve(ip, edit)`` replaces the
    answer for ``ip`` with ``edit`` applied to a copy of it."""
    for ip, edited in edited_networks().items():
        fake_rdap.add_network(edited["response"])
        data = edited["asn_data"]
        add_origin(
            fake_dns,
            ip,
            asn=data["asn"],
            cidr=data["asn_cidr"],
            country=data["asn_country_code"],
            registry=data["asn_registry"],
        )
    add_asn_name(fake_dns, "8283", country="NL", registry="ripencc", name="COLOCLUE-AS Netwerkvereniging Coloclue, NL")

    def serve(ip: str, edit: Edit | None) -> None:
        if edit is not None:
            response = copy.deepcopy(recorded_networks()[ip]["response"])
            edit(response)
            fake_rdap.add_network(response)  # the one added last wins

    return serve


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_HOTLINE_NAME = "Test Hotline"
        settings.SCART_NOTICE_WORKING_HOURS = ""
        yield server


@pytest.mark.parametrize(("ip", "edit", "emails", "rule", "confidence"), RUNGS)
def test_each_rung_of_the_order_chooses_its_addresses_and_is_recorded(registry, ip, edit, emails, rule, confidence):
    registry(ip, edit)

    resolution = hosts_resolve([HostQuery(ip, is_ip=True, registered_domain=ip)])[ip]

    stored = resolution.as_dict()
    [info] = stored["ips"]
    assert (info["abuse_emails"], info["abuse_rule"], info["confidence"]) == (emails, rule, confidence)
    assert stored["provider"]["abuse_rule"] == rule
    assert resolution.provider.abuse_rule == rule and resolution.provider.abuse_emails == emails


def test_a_ripe_abuse_role_sends_to_its_abuse_mailbox_only_and_greets_the_organisation(smtp, fake_dns, registry):
    fake_dns.add("members.example.net", "A", COLOCLUE, ttl=60)
    case = _case("https://members.example.net/page")
    cases_resolve(case_ids=[case.pk], force=True)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    case.refresh_from_db()

    assert case.provider.name == "Netwerkvereniging Coloclue"
    assert case.provider.key == "rdap:ripencc:ORG-NC22-RIPE"
    [ip] = case.resolution["ips"]
    assert ip["abuse_emails"] == ["abuse@coloclue.net"] and ip["abuse_rule"] == "marked_abuse"
    assert ip["org_name"] == "Netwerkvereniging Coloclue"
    cases_plan_notices(case_ids=[case.pk])
    assert notices_send_due(flush=True, reresolve=False).sent == 1
    [message] = smtp.wait_for(1)
    assert message.rcpt_tos == ["abuse@coloclue.net"]
    assert "Dear Netwerkvereniging Coloclue," in message.text.splitlines()
    assert "coloclue-mnt" not in message.text
    assert Notice.objects.get().recipient_name == "Netwerkvereniging Coloclue"


def test_a_provider_made_by_the_wider_rule_gets_its_addresses_replaced_once(registry):
    registry("210.107.73.73", apnic_irt_of_the_operator)
    # What the earlier rule made of this answer: every address of the IRT, and no rule recorded.
    earlier = provider_from_network(
        NetworkInfo.from_dict(
            {
                "handle": "210.107.0.0 - 210.107.127.255",
                "registry": "apnic",
                "org_handle": "IRT-KRNIC-KR",
                "org_name": "IRT-KRNIC-KR",
                "abuse_emails": ["abuse@bora.net", "hostmaster@bora.net"],
                "abuse_source": "abuse-role",
                "confidence": "high",
            }
        )
    )
    assert earlier.abuse_rule == ""

    resolution = hosts_resolve([HostQuery("210.107.73.73", is_ip=True, registered_domain="210.107.73.73")])
    provider = resolution["210.107.73.73"].provider

    assert provider.pk == earlier.pk
    assert provider.abuse_emails == ["abuse@bora.net"] and provider.abuse_rule == AbuseRule.MARKED_ABUSE
    provider.refresh_from_db()
    assert provider.abuse_emails == ["abuse@bora.net"]


def test_a_case_on_a_provider_named_after_the_maintainer_moves_to_the_organisation(fake_dns, registry):
    # The provider the earlier rule made of Coloclue's answer: keyed and named by its maintainer.
    by_maintainer = provider_from_network(
        NetworkInfo.from_dict(
            {
                "handle": "94.142.240.0 - 94.142.247.255",
                "registry": "ripencc",
                "org_handle": "coloclue-mnt",
                "org_name": "coloclue-mnt",
                "abuse_emails": ["ops@coloclue.net", "routers@coloclue.net", "abuse@coloclue.net"],
                "abuse_source": "abuse-role",
                "confidence": "high",
            }
        )
    )
    fake_dns.add("members.example.net", "A", COLOCLUE, ttl=60)
    case = _case("https://members.example.net/page")
    # A case that rule resolved (the earlier code cannot run here).
    Case.objects.filter(pk=case.pk).update(provider=by_maintainer)

    cases_resolve(case_ids=[case.pk], force=True)

    case.refresh_from_db()
    assert case.provider.name == "Netwerkvereniging Coloclue" and case.provider.abuse_emails == ["abuse@coloclue.net"]
    assert Event.objects.filter(case=case, kind=EventKind.PROVIDER_CHANGED).exists()
    by_maintainer.refresh_from_db()
    assert by_maintainer.name == "coloclue-mnt", "the old row is left as it was, without cases"


def test_the_contact_page_says_which_rule_chose_the_address(client, senior, fake_dns, registry):
    fake_dns.add("jp.example.net", "AAAA", "2001:240:10c:1::ca20:9d1d")
    case = _case("https://jp.example.net/x")
    cases_resolve(case_ids=[case.pk])

    page = client.get(reverse("contacts-queue")).content.decode()

    assert "Chosen because" in page
    assert "no abuse contact: the technical or administrative contact" in page
    assert "tech_admin" not in page  # the words, not the rule's code


def test_a_provider_confirmed_by_an_analyst_records_the_manual_rule(client, senior, fake_dns, registry):
    fake_dns.add("jp.example.net", "AAAA", "2001:240:10c:1::ca20:9d1d")
    case = _case("https://jp.example.net/x")
    cases_resolve(case_ids=[case.pk])
    case.refresh_from_db()

    provider = case.provider
    assert provider.abuse_rule == AbuseRule.TECH_ADMIN

    client.post(reverse("contacts-confirm", args=[provider.pk]), {"emails": "abuse@iij.example"})

    provider.refresh_from_db()
    assert provider.abuse_rule == AbuseRule.MANUAL and provider.verified


ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}


def _case(url: str) -> Case:
    result = report_create(channel=Channel.API, urls=[url])
    return Case.objects.get(pk=result.accepted[0].case_id)


def test_a_provider_made_by_hand_shows_its_addresses_as_set_by_hand(client, senior):
    hand_made = Provider.objects.create(
        name="Hand Hosting", abuse_emails=["noc@hand.example"], abuse_source="manual", confidence="low"
    )
    awaiting_case("https://www.hand.example.com/x", provider=hand_made, contact_check=True, contact_confidence="low")

    page = client.get(reverse("contacts-queue")).content.decode()

    assert hand_made.chosen_by == AbuseRule.MANUAL
    assert "<dt>Chosen because</dt><dd>set or confirmed by hand</dd>" in page
