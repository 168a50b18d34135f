"""The search: each form a query takes finds what it names, on cases reported through intake and
resolved by the resolver against the local DNS and RDAP peers (recorded registry answers)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.models import Case
from routing.models import CaseAddress, Notice, Provider
from tests import factories
from tests.conftest import staff_login
from tests.workspace.conftest import BT, GOOGLE, reported
from tests.world import build_world, world_settings
from workspace.search import query_parse

pytestmark = pytest.mark.django_db


@pytest.fixture
def analyst(client):
    return staff_login(client, factories.staff_user("ana"))


def found(client, q: str) -> list[int]:
    page = client.get(reverse("workspace-search"), {"q": q, "stay": "1"})
    assert page.status_code == 200
    return [hit.pk for hit in page.context["results"].cases]


@pytest.mark.parametrize(
    ("text", "kind", "value"),
    [
        ("SCART-20261121-000042", "notice", "SCART-20261121-000042"),
        ("scart-20261121-000042", "notice", "SCART-20261121-000042"),
        ("R-20261121-K7Q2M9XA", "report", "R-20261121-K7Q2M9XA"),
        ("#17", "case", "17"),
        ("AS2856", "asn", "2856"),
        ("as 2856".replace(" ", ""), "asn", "2856"),
        ("2856", "asn", "2856"),
        ("62.239.237.1", "ip", "62.239.237.1"),
        ("[2001:4860:4860::8888]", "ip", "2001:4860:4860::8888"),
        ("62.239.237.0/24", "network", "62.239.237.0/24"),
        ("62.239.237.9/24", "network", "62.239.237.0/24"),
        ("2001:4860::/32", "network", "2001:4860::/32"),
        ("https://WWW.Example.COM/a/../b", "url", "https://www.example.com/b"),
        ("www.example.com/gallery", "url", "http://www.example.com/gallery"),
        ("WWW.Example.COM.", "host", "www.example.com"),
        ("example.co.uk", "domain", "example.co.uk"),
        ("user.github.io", "domain", "user.github.io"),
        ("img.user.github.io", "host", "img.user.github.io"),
        ("British Telecom", "provider", "British Telecom"),
        ("hetzner", "provider", "hetzner"),
    ],
)
def test_each_form_of_query_is_understood_as_one_kind(text, kind, value):
    query = query_parse(text)
    assert query is not None and (query.kind, query.value) == (kind, value)


def test_a_query_without_a_scheme_looks_for_both():
    query = query_parse("www.example.com/gallery")
    assert query is not None and query.urls == ("http://www.example.com/gallery", "https://www.example.com/gallery")
    assert query_parse("x") is None and query_parse("  ") is None


def test_a_url_finds_itself_first_then_the_longer_urls_it_starts(client, analyst, zone):
    exact, longer, other = reported(
        ["https://www.example.com/gallery/1", "https://www.example.com/gallery/1/big.jpg", "https://www.example.com/x"]
    )
    page = client.get(reverse("workspace-search"), {"q": "https://www.example.com/gallery/1"})
    hits = page.context["results"].cases
    assert [(h.pk, h.exact) for h in hits] == [(exact.pk, True), (longer.pk, False)]
    assert b"as a URL" in page.content and b'id="searched-for"' in page.content
    # Typed without a scheme, and with the host in capitals: the same normalisation as intake.
    assert set(found(client, "WWW.EXAMPLE.COM/gallery/")) == {exact.pk, longer.pk}
    assert set(found(client, "https://www.example.com/")) == {exact.pk, longer.pk, other.pk}
    assert found(client, "https://www.example.com/gallery/2") == []


def test_a_host_finds_its_cases_and_a_domain_every_host_under_it(client, analyst, zone):
    www, img, net = reported(["https://www.example.com/1", "https://img.example.com/2", "https://example.net/3"])
    assert found(client, "img.example.com") == [img.pk]
    assert set(found(client, "example.com")) == {www.pk, img.pk}
    assert found(client, "example.net") == [net.pk]


def test_an_address_or_a_network_finds_the_cases_resolved_into_it(client, analyst, zone):
    www, img, v6, literal = reported(
        ["https://www.example.com/1", "https://img.example.com/2", "https://v6.example.org/3", f"http://{BT}/raw"]
    )
    assert set(CaseAddress.objects.filter(case=img).values_list("ip", flat=True)) == {BT}
    assert set(found(client, BT)) == {img.pk, literal.pk}
    assert set(found(client, "62.239.0.0/16")) == {img.pk, literal.pk}
    assert found(client, "62.240.0.0/16") == []
    assert found(client, "2001:4860::/32") == [v6.pk]
    assert found(client, GOOGLE) == [www.pk]


def test_an_asn_finds_the_cases_it_announces(client, analyst, zone):
    www, img = reported(["https://www.example.com/1", "https://img.example.com/2"])
    assert img.asn and www.asn and img.asn != www.asn
    assert found(client, f"AS{img.asn}") == [img.pk]
    assert found(client, str(www.asn)) == [www.pk]


def test_a_report_reference_finds_its_cases_and_names_the_partner_to_seniors_only(client, zone):
    partner, _key = factories.partner_with_key("Hotline Abroad")
    one, two = reported(["https://www.example.com/p1", "https://www.example.com/p2"], partner=partner)
    reference = one.reported_urls.get().report.reference
    staff_login(client, factories.staff_user("ana"))
    page = client.get(reverse("workspace-search"), {"q": reference.lower()})
    assert page.status_code == 200
    results = page.context["results"]
    assert {h.pk for h in results.cases} == {one.pk, two.pk}
    assert results.report.reporter == "a partner" and b"Hotline Abroad" not in page.content
    staff_login(client, factories.staff_user("sen", "senior"))
    page = client.get(reverse("workspace-search"), {"q": reference})
    assert page.context["results"].report.reporter == "Hotline Abroad"


def test_an_exact_reference_or_case_number_goes_straight_to_its_page(client, analyst, zone):
    [case] = reported(["https://img.example.com/alone"])
    reference = case.reported_urls.get().report.reference
    assert client.get(reverse("workspace-search"), {"q": reference})["Location"] == f"/cases/{case.pk}/"
    assert client.get(reverse("workspace-search"), {"q": f"#{case.pk}"})["Location"] == f"/cases/{case.pk}/"
    page = client.get(reverse("workspace-search"), {"q": "SCART-20200101-000001"})
    assert page.status_code == 200 and page.context["results"].empty and b"Nothing found" in page.content


def test_a_provider_is_found_by_part_of_its_name(client, analyst, zone):
    reported(["https://img.example.com/1"])
    Provider.objects.create(name="Quiet Hosting Ltd", country="GB")
    page = client.get(reverse("workspace-search"), {"q": "quiet host"})
    assert [p.name for p in page.context["results"].providers] == ["Quiet Hosting Ltd"]
    bt = Case.objects.get().provider
    assert bt is not None
    page = client.get(reverse("workspace-search"), {"q": bt.name[2:8]})
    hits = page.context["results"].providers
    assert [(p.pk, p.open_cases) for p in hits if p.pk == bt.pk] == [(bt.pk, 1)]
    assert b"/cases/?provider=" in page.content


def test_only_staff_may_search(client, zone):
    assert client.get(reverse("workspace-search"), {"q": "example.com"}).status_code == 302  # to the login
    staff_login(client, factories.staff_user("nobody", None))
    assert client.get(reverse("workspace-search"), {"q": "example.com"}).status_code == 403


def test_in_the_world_a_notice_reference_opens_the_notice_for_every_staff_role(client, settings, fake_dns, fake_rdap):
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        built = build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp)
    notice = Notice.objects.filter(state="sent").order_by("pk").first()
    assert notice is not None
    for role in ("trainee", "analyst", "senior"):
        staff_login(client, built.users[role])
        response = client.get(reverse("workspace-search"), {"q": notice.reference.lower()})
        assert response["Location"] == reverse("notices-detail", args=[notice.pk])
        page = client.get(reverse("workspace-search"), {"q": notice.reference, "stay": "1"})
        assert [n.reference for n in page.context["results"].notices] == [notice.reference]
    # Closed cases are found like any other: not illegal, removed.
    not_illegal = built.case("not_illegal")
    assert not_illegal.state == "not_illegal"
    assert not_illegal.pk in found(client, not_illegal.canonical_url)
    assert built.case("removed").pk in found(client, built.case("removed").host)
