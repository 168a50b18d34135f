"""The case and review pages on cases the real pipeline resolved, routed, notified and checked
(tests/world.py): readable text for the resolution, the routing and the timeline, and no lock left
behind by a page that failed."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.test import Client
from django.urls import reverse

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.models import Case, Review
from tests.conftest import staff_login
from tests.world import World, build_world, world_settings
from workspace.views import case as case_views

pytestmark = pytest.mark.django_db

# What raw JSON or a raw code looks like on a page: a Python dict or list, or a snake_case code.
RAW = re.compile(r"\{'|\['|': |\b(no_address|police_first|contact_check|own_country|no_partner_hotline)\b")


@pytest.fixture
def world(settings, fake_dns, fake_rdap) -> Iterator[World]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        yield build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp)


def _text(html: str) -> str:
    body = html.split("<h2>Routing</h2>", 1)[-1] if "<h2>Routing</h2>" in html else html
    return re.sub(r"<[^>]+>", " ", body)


def test_case_pages_show_resolution_routing_and_timeline_in_words(world, client):
    staff_login(client, world.users["senior"])
    pages = {}
    for name in ("cname", "cdn", "police_first", "registrar_failed", "no_address", "unresolvable", "removed"):
        response = client.get(reverse("workspace-case", args=[world.cases[name].pk]))
        assert response.status_code == 200, name
        pages[name] = response.content.decode()
    for name, html in pages.items():
        section = html.split('<section class="case"', 1)[1]
        found = RAW.findall(_text(section.split("<h2>Reports that named this URL</h2>")[0]))
        assert not found, f"{name}: raw data on the page: {found}"
    assert "held until a senior analyst releases it (police first)" in pages["police_first"]
    assert "police first: the police report at once" in pages["police_first"]
    assert "Release the held notices" in pages["police_first"]
    assert "Behind the CDN <strong>Example CDN</strong>" in pages["cdn"]
    assert "origin <code>www.example.org</code>" in pages["cdn"]
    assert "held: no abuse address known" in pages["no_address"]
    assert "lookup failed:" in pages["registrar_failed"]
    assert "AS15169" in pages["cname"] and "example.com" in pages["cname"]
    assert "the name does not exist (NXDOMAIN)" in pages["unresolvable"]
    assert "State: Illegal: awaiting notice (was Awaiting assessment)" in pages["removed"]
    assert 'placeholder="now' not in pages["cname"]
    # The timeline's event data in words: labels of the codes, no ids only the database needs.
    assert "Verdict: illegal (A1: prepubescent, sexual activity" in pages["cname"]
    assert "provider id:" not in pages["cname"] and "assessment: " not in pages["cname"]


def test_the_review_page_of_a_resolved_case_renders(world, client):
    staff_login(client, world.users["senior"])
    review = Review.objects.get(state="open")
    response = client.get(reverse("reviews-page", args=[review.pk]))
    assert response.status_code == 200
    assert "AS3786" in response.content.decode()


def test_a_page_that_fails_to_render_leaves_no_lock(world, monkeypatch):
    client = staff_login(Client(raise_request_exception=False), world.users["analyst"])
    case = world.case("awaiting")

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("the template failed")

    monkeypatch.setattr(case_views, "render", broken)
    assert client.get(reverse("workspace-case", args=[case.pk])).status_code == 500
    case = Case.objects.get(pk=case.pk)
    assert case.locked_by_id is None and case.locked_until is None
    monkeypatch.undo()
    assert client.get(reverse("workspace-case", args=[case.pk])).status_code == 200
    assert Case.objects.get(pk=case.pk).locked_by_id == world.users["analyst"].pk


def test_marking_removed_with_now_closes_the_case(world, client):
    staff_login(client, world.users["analyst"])
    case = world.case("cname")
    response = client.post(reverse("cases-mark-removed", args=[case.pk]), {"removed_at": "now"}, follow=True)
    assert response.status_code == 200
    assert Case.objects.get(pk=case.pk).state == "removed"
