"""The contact book in the admin: providers and domain rules with search, the contact-check action,
and the caches (read-only)."""

from __future__ import annotations

import pytest

from reports.models import Case, Channel
from reports.services import report_create
from routing.models import DomainRule, Provider

pytestmark = pytest.mark.django_db


def test_the_seeded_cdns_are_listed_and_searchable(admin_client):
    page = admin_client.get("/admin/routing/provider/", {"q": "cloudflare"}).content.decode()
    assert "Cloudflare" in page and "Akamai" not in page
    cdns = admin_client.get("/admin/routing/provider/", {"is_cdn__exact": "1"}).content.decode()
    assert "Fastly" in cdns and "DDoS-Guard" in cdns


def test_a_domain_rule_is_saved_normalised_with_its_author(admin_client):
    provider = Provider.objects.create(name="Hoster", abuse_emails=["abuse@hoster.example"])
    response = admin_client.post(
        "/admin/routing/domainrule/add/",
        {"suffix": " Shop.Example.COM. ", "provider": provider.pk, "origin_host": "Origin.Example.net", "notes": ""},
    )
    assert response.status_code == 302
    rule = DomainRule.objects.get()
    assert rule.suffix == "shop.example.com" and rule.origin_host == "origin.example.net"
    assert rule.created_by is not None and rule.created_by.username == "boss"


def test_confirming_a_providers_contact_releases_its_cases(admin_client):
    provider = Provider.objects.create(
        name="Low", abuse_emails=["hostmaster@nic.ad.jp"], confidence="low", source="rdap", key="rdap:apnic:X"
    )
    result = report_create(channel=Channel.API, urls=["https://jp.example.org/"])
    Case.objects.filter(pk=result.accepted[0].case_id).update(provider=provider, contact_check=True)

    response = admin_client.post(
        "/admin/routing/provider/", {"action": "confirm_contact", "_selected_action": [provider.pk]}, follow=True
    )

    assert "1 case(s) left the contact-check queue" in response.content.decode()
    provider.refresh_from_db()
    assert provider.verified and provider.abuse_source == "manual"
    assert not Case.objects.filter(contact_check=True).exists()


def test_caches_can_be_read_but_not_edited(admin_client):
    assert admin_client.get("/admin/routing/networklookup/").status_code == 200
    assert admin_client.get("/admin/routing/hostlookup/add/").status_code == 403


def provider_form(**changes: str) -> dict[str, str]:
    data = {
        "name": "Hoster",
        "country": "NL",
        "language": "en",
        "notes": "",
        "abuse_emails": '["Abuse@Hoster.example"]',
        "abuse_source": "manual",
        "confidence": "high",
        "escalation_email": "",
        "asns": "[]",
        "cidrs": "[]",
        "rdap_handles": "[]",
        "reminder_interval": "",
        "source": "manual",
        "delivery_channel": "batched_mail",
    }
    data.update(changes)
    return data


def test_a_provider_form_checks_and_normalises_its_lists(admin_client):
    response = admin_client.post(
        "/admin/routing/provider/add/",
        provider_form(asns='["AS64500", 64501]', cidrs='["192.0.2.1/24"]', rdap_handles=""),
    )
    assert response.status_code == 302
    provider = Provider.objects.get(name="Hoster")
    assert provider.asns == [64500, 64501] and provider.cidrs == ["192.0.2.0/24"]
    assert provider.abuse_emails == ["abuse@hoster.example"] and provider.rdap_handles == []


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("asns", '["ASX"]', "not an AS number"),
        ("cidrs", '["10.0.0.0/33"]', "not a network"),
        ("abuse_emails", '["nobody"]', "one e-mail address"),
    ],
)
def test_a_provider_form_refuses_bad_entries_with_a_message(admin_client, field, value, message):
    response = admin_client.post("/admin/routing/provider/add/", provider_form(**{field: value}))
    assert response.status_code == 200 and message in response.content.decode()
    assert not Provider.objects.filter(name="Hoster").exists()


def test_a_domain_rule_in_unicode_matches_the_ascii_host(admin_client):
    admin_client.post("/admin/routing/domainrule/add/", {"suffix": "Bücher.example", "origin_host": "", "notes": ""})
    assert DomainRule.objects.get().suffix == "xn--bcher-kva.example"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"suffix": "https://x.example.com/path"}, "not a URL"),
        (
            {
                "suffix": "example.com",
                "suggest_verdict": "illegal",
                "suggest_legal_basis": "baseline",
                "auto_accept": "on",
            },
            "required for this verdict",
        ),
    ],
)
def test_the_admin_checks_domain_rules_as_the_rules_page_does(admin_client, fields, message):
    data = {"suffix": "", "origin_host": "", "notes": "", **fields}
    response = admin_client.post("/admin/routing/domainrule/add/", data)
    assert response.status_code == 200 and message in response.content.decode()
    assert not DomainRule.objects.exists()
