"""Every page answers without a server error on the data the system produces: a world built through
the services and the local peers (tests/world.py), crawled as every role and anonymously."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.urls import reverse

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.models import Case, Review
from routing.models import Notice, Provider
from tests.conftest import staff_login
from tests.crawler import Crawl, crawl
from tests.world import World, build_world, world_settings

pytestmark = pytest.mark.django_db

SHAPES = (
    "cname",
    "chain",
    "cdn",
    "ipv6",
    "ip_literal",
    "ipv6_literal",
    "unresolvable",
    "onion",
    "registrar_failed",
    "no_address",
    "police_first",
    "partner_hotline",
    "removed",
    "moved",
    "moved_to",
    "reappeared",
    "marked_removed",
    "disputed",
)


@pytest.fixture
def world(settings, fake_dns, fake_rdap) -> Iterator[tuple[World, FakeSMTP]]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        yield build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp), smtp


def test_the_world_has_every_shape_of_case(world):
    built, smtp = world
    assert set(SHAPES) <= set(built.cases)
    case = built.case
    assert case("cname").resolution["cnames"] == ["example.com"]
    assert len(case("chain").resolution["cnames"]) == 2
    assert case("cdn").cdn is not None and case("cdn").resolution["origin"]["host"] == "www.example.org"
    assert case("unresolvable").resolution["outcome"] == "nxdomain"
    assert case("onion").unresolvable
    assert "error" in case("registrar_failed").resolution["registrar"]
    assert case("removed").state == "removed" and case("reappeared").state in ("illegal", "notified")
    assert case("moved_to").moved_from_id == built.cases["moved"].pk
    assert case("marked_removed").removal_kind == "manual"
    assert Review.objects.filter(state="open").exists() and Review.objects.exclude(state="open").exists()
    assert Notice.objects.filter(state="sent").count() >= 3 and smtp.messages


# The worklists and the provider list (every provider's page is a start URL too).
WORKLISTS = ("/work/waiting/", "/work/held/", "/work/mine/", "/providers/")


def _links(smtp: FakeSMTP) -> list[str]:
    """The providers' confirmation links, as the notices carried them."""
    found = set()
    for message in smtp.messages:
        found.update(re.findall(r"https?://[^\s/]+(/n/[^\s/]+/)", message.text))
    return sorted(found)


def _finding_pages(built: World) -> list[str]:
    """The case list and a search of every form, on the world's own cases and notices."""
    case = built.case("cname")
    notice = Notice.objects.order_by("pk").first()
    queries = [
        case.canonical_url,
        case.host,
        case.registrable_domain,
        "62.239.237.1",
        "2001:4860::/32",
        f"AS{case.asn}",
        case.reported_urls.get().report.reference,
        notice.reference if notice else "SCART-20200101-000001",
        "hosting",
    ]
    search = reverse("workspace-search")
    return [reverse("cases-list"), *(f"{search}?{urlencode({'q': q, 'stay': '1'})}" for q in queries)]


def test_no_page_answers_a_server_error_to_any_role(world):
    built, smtp = world
    started = time.monotonic()
    case_pages = [reverse("workspace-case", args=[c.pk]) for c in Case.objects.order_by("pk")]
    review_pages = [reverse("reviews-page", args=[r.pk]) for r in Review.objects.order_by("pk")]
    notice_pages = [reverse("notices-detail", args=[n.pk]) for n in Notice.objects.order_by("pk")]
    provider_pages = [reverse("providers-detail", args=[p.pk]) for p in Provider.objects.order_by("pk")]
    crawls: list[Crawl] = []
    for role in ("analyst", "trainee", "senior", "admin"):
        client = staff_login(Client(), built.users[role])
        seeds = ["/", *case_pages, *notice_pages, *_finding_pages(built), *WORKLISTS, *provider_pages]
        if role in ("senior", "admin"):
            seeds += review_pages
        crawls.append(crawl(client, role, seeds))
    public = ["/", "/report/", "/healthz", "/api/docs/", "/api/schema/", "/api/redoc/", *_links(smtp)]
    crawls.append(crawl(Client(), "anonymous", public))

    failures = [f for c in crawls for f in c.failures]
    summary = ", ".join(f"{c.who}: {len(c.visited)}" for c in crawls)
    print(f"pages crawled per role: {summary} in {time.monotonic() - started:.1f} s")
    assert failures == [], "\n".join(failures)
    by_role = {c.who: c for c in crawls}
    # The crawl reached what it must have: every case page as a staff role, the reviews as seniors,
    # the public pages anonymously.
    for role in ("analyst", "trainee", "senior", "admin"):
        assert by_role[role].per_name["workspace-case"] >= len(case_pages)
        assert by_role[role].per_name["cases-list"] >= 1 and by_role[role].per_name["workspace-search"] >= 1
        for name in ("worklist-waiting", "worklist-held", "worklist-mine", "providers-list"):
            assert by_role[role].per_name[name] >= 1, f"{role} did not reach {name}"
        assert by_role[role].per_name["providers-detail"] >= len(provider_pages) > 0
    assert by_role["senior"].per_name["reviews-page"] >= len(review_pages) > 0
    # The deadlines: the worklist from every case page, the rules and evidence packs for seniors.
    for role in ("analyst", "senior"):
        assert by_role[role].per_name["worklist-deadlines"] > 0
    for name in ("deadline-rules", "deadline-rules-edit", "cases-evidence", "providers-evidence"):
        assert by_role["senior"].per_name[name] > 0, name
    # The DSA export, from the notices list and the case pages: seniors only.
    assert by_role["senior"].per_name["stats-export-dsa"] > 0
    assert by_role["analyst"].per_name["stats-export-dsa"] == 0
    # The notice pages' filters, the seniors' action pages and their audit view.
    for role in ("senior", "admin"):
        assert by_role[role].per_name["notices-action"] > 0 and by_role[role].per_name["audit-list"] > 0
    assert by_role["analyst"].per_name["notices-list"] > 1  # the list and its filtered views
    assert by_role["anonymous"].per_name["notice-link"] > 0
    assert by_role["admin"].per_name["admin:index"] == 1
