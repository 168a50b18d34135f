"""The workspace's search: what a query is (`query_parse`: one kind per form the query takes) and
what it finds (`search`: cases, notices and providers, as page models).

The forms, tried in this order: a notice reference (``SCART-20261121-000042``), a report reference
(``R-20261121-K7Q2M9XA``), a case number (``#1234``), an ASN (``AS1234``, or a bare number that
fits one), an IP address, a network in CIDR notation, a URL (anything with a scheme or a path: the
case with that canonical URL and every case whose URL starts with it), a registrable domain (every
case under it), a host name (the cases on that host), and anything else as part of a provider's
name. Host names and URLs go through the same normalisation as reported URLs (`reports.urls`), so
``WWW.Example.COM.`` finds what ``www.example.com`` finds.
"""

from __future__ import annotations

import hashlib
import ipaddress
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connection
from django.db.models import BooleanField, Count, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.db.models.functions import Substr
from django.utils.translation import gettext_lazy as _

from reports.models import Case, CaseState, Report
from reports.urls import UrlRejected, normalise_url
from reports.urls.hosts import normalise_host, registrable_domain
from routing.models import CaseAddress, Notice, Provider

# Cases shown on the search page; the case list (with the same query) shows them all.
CASES_SHOWN = 50
# Counting stops here: "more than 1000" is the answer a person needs, and it stays fast.
COUNT_CAP = 1000
PROVIDERS_SHOWN = 25
NOTICES_SHOWN = 25
# The prefix search compares this many leading characters under its index (reports 0014).
PREFIX_INDEXED = 1000
# Without PostgreSQL's inet operators, a network is matched in Python over at most this many rows.
PORTABLE_ADDRESS_SCAN = 200_000

NOTICE_REF = re.compile(r"SCART-\d{8}-\d{6}", re.IGNORECASE)
REPORT_REF = re.compile(r"R-\d{8}-[A-Z0-9]{8}", re.IGNORECASE)
CASE_NUMBER = re.compile(r"#(\d{1,18})")
ASN = re.compile(r"(?:AS)?(\d{1,10})", re.IGNORECASE)
MAX_ASN = 2**32 - 1

KIND_LABELS = {
    "notice": _("notice reference"),
    "report": _("report reference"),
    "case": _("case number"),
    "asn": _("autonomous system (ASN)"),
    "ip": _("IP address"),
    "network": _("network (CIDR)"),
    "url": _("URL, exactly and as the start of longer URLs"),
    "domain": _("registrable domain, with every host under it"),
    "host": _("host name"),
    "provider": _("provider name"),
}


@dataclass(frozen=True)
class Query:
    """A query as understood: its kind (a key of `KIND_LABELS`), the value searched for in its
    normal form, and, for a URL typed without a scheme, the canonical URLs it may stand for."""

    text: str
    kind: str
    value: str
    urls: tuple[str, ...] = ()

    @property
    def label(self) -> Any:
        return KIND_LABELS[self.kind]


def query_parse(text: str) -> Query | None:
    """What ``text`` asks for, or None for an empty or unusable query (one character)."""
    text = text.strip()
    if len(text) < 2:
        return None
    if NOTICE_REF.fullmatch(text):
        return Query(text, "notice", text.upper())
    if REPORT_REF.fullmatch(text):
        return Query(text, "report", text.upper())
    if match := CASE_NUMBER.fullmatch(text):
        return Query(text, "case", str(int(match.group(1))))
    if (match := ASN.fullmatch(text)) and int(match.group(1)) <= MAX_ASN:
        return Query(text, "asn", str(int(match.group(1))))
    address = _address(text)
    if address is not None:
        return Query(text, "ip", str(address))
    if "/" in text and (network := _network(text)) is not None:
        return Query(text, "network", str(network))
    if "://" in text or "/" in text:
        return _url_query(text)
    host = _host(text)
    if host is not None:
        kind = "domain" if registrable_domain(host) == host else "host"
        return Query(text, kind, host)
    return Query(text, "provider", text)


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip("[]"))
    except ValueError:
        return None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


def _host(text: str) -> str | None:
    """A host name in normal form, if ``text`` is one (with a dot: a bare word is a provider's name)."""
    if "." not in text.strip(".") or " " in text:
        return None
    try:
        host, is_ip, _written = normalise_host(text.rstrip("."))
    except UrlRejected:
        return None
    return None if is_ip else host


def _url_query(text: str) -> Query | None:
    # Typed without a scheme, it may stand for either.
    candidates = [text] if "://" in text else [f"http://{text}", f"https://{text}"]
    urls = []
    for candidate in candidates:
        try:
            urls.append(normalise_url(candidate).canonical)
        except UrlRejected:
            continue
    if not urls:
        return Query(text, "provider", text) if " " in text else None
    return Query(text, "url", urls[0], tuple(urls))


# What a query finds --------------------------------------------------------------------------------


def cases_matching(query: Query) -> QuerySet[Case]:
    """The cases a query stands for, all of them (the case list narrowed by a search); none for
    the kinds that find no cases by themselves (a notice reference, a provider's name)."""
    cases = Case.objects.all()
    match query.kind:
        case "case":
            return cases.filter(pk=int(query.value))
        case "asn":
            return cases.filter(asn=int(query.value))
        case "domain":
            return cases.filter(registrable_domain=query.value)
        case "host":
            return cases.filter(host=query.value)
        case "ip":
            return cases.filter(Q(pk__in=_address_case_ids(query.value)) | Q(host=query.value, is_ip=True))
        case "network":
            return cases.filter(pk__in=_address_case_ids(query.value))
        case "url":
            found = Q()
            for url in query.urls:
                found |= Q(pk__in=_url_prefix(url).values("pk"))
            return cases.filter(found | Q(url_sha256__in=_hashes(query)))
        case "report":
            return cases.filter(reported_urls__report__reference=query.value)
        case "provider":
            return cases.filter(provider__in=_providers(query.value).values("pk"))
    return cases.none()


def newest_case_ids(query: Query, limit: int) -> list[int] | None:
    """For the kinds whose cases are the union of a few indexed lookups (an address, a network, a
    URL typed without a scheme): the ids of the newest ``limit`` cases, each lookup on its own index
    and merged here, which is far faster than one query with OR-ed subqueries. None for the others."""
    if query.kind == "url":
        parts = [_url_prefix(url).values_list("pk", flat=True) for url in query.urls]
        # A closed case whose URL text the retention rules erased is still found by its hash.
        parts.append(Case.objects.filter(url_sha256__in=_hashes(query)).values_list("pk", flat=True))
    elif query.kind in ("ip", "network"):
        parts = [_address_case_ids(query.value, newest=limit)]
        if query.kind == "ip":
            parts.append(Case.objects.filter(host=query.value, is_ip=True).values_list("pk", flat=True))
    else:
        return None
    found: set[int] = set()
    for part in parts:
        ids = part if isinstance(part, list) else list(part.order_by("-pk")[:limit])
        found.update(ids)
    return sorted(found, reverse=True)[:limit]


def _hashes(query: Query) -> list[str]:
    """The ``url_sha256`` of the URLs a query names exactly (the SHA-256 of the canonical form)."""
    return [hashlib.sha256(url.encode()).hexdigest() for url in query.urls]


def _url_prefix(url: str) -> QuerySet[Case]:
    """Cases whose URL starts with ``url``: the leading characters compared under their index, the
    whole URL after (a prefix longer than the index's reach is still right, only slower)."""
    return Case.objects.annotate(url_head=Substr("canonical_url", 1, PREFIX_INDEXED)).filter(
        url_head__startswith=url[:PREFIX_INDEXED], canonical_url__startswith=url
    )


def _address_case_ids(value: str, *, newest: int | None = None) -> Any:
    """The ids of the cases resolved to an address in ``value`` (an address or a network): a
    subquery, or with ``newest`` a list of the newest so many."""
    if connection.vendor == "postgresql":
        inside = RawSQL("ip <<= %s::inet", (value,), output_field=BooleanField())
        rows = CaseAddress.objects.filter(inside).values_list("case_id", flat=True)
        if newest is None:
            return rows
        return list(dict.fromkeys(rows.order_by("-case_id")[: newest * 2]))[:newest]
    network = ipaddress.ip_network(value, strict=False)
    scanned = CaseAddress.objects.values_list("case_id", "ip")[:PORTABLE_ADDRESS_SCAN]
    ids = sorted({pk for pk, ip in scanned if ipaddress.ip_address(ip) in network}, reverse=True)
    return ids if newest is None else ids[:newest]


def _providers(text: str) -> QuerySet[Provider]:
    return Provider.objects.filter(name__icontains=text)


@dataclass(frozen=True)
class CaseHit:
    pk: int
    url: str
    state: str
    verdict: str
    provider: str
    country: str
    asn: int | None
    received: datetime
    exact: bool  # the URL searched for itself, or the case numbered


@dataclass(frozen=True)
class NoticeHit:
    pk: int
    reference: str
    recipient: str
    kind: str
    state: str
    created: datetime
    sent: datetime | None
    cases: int


@dataclass(frozen=True)
class ProviderHit:
    pk: int
    name: str
    country: str
    open_cases: int


@dataclass(frozen=True)
class ReportHit:
    reference: str
    channel: str
    reporter: str  # the partner's name for senior analysts, "a partner" for analysts
    received: datetime
    urls: int


@dataclass(frozen=True)
class SearchResults:
    query: Query
    cases: tuple[CaseHit, ...]
    case_count: int  # up to COUNT_CAP + 1 (shown as "more than COUNT_CAP")
    notices: tuple[NoticeHit, ...]
    providers: tuple[ProviderHit, ...]
    report: ReportHit | None

    @property
    def more_cases(self) -> bool:
        return self.case_count > len(self.cases)

    @property
    def capped(self) -> bool:
        return self.case_count > COUNT_CAP

    @property
    def empty(self) -> bool:
        return not (self.cases or self.notices or self.providers or self.report)

    @property
    def single_target(self) -> tuple[str, int] | None:
        """The one page an exact query names (a notice, a case): the search may go straight there."""
        if self.query.kind == "notice" and len(self.notices) == 1:
            return "notices-detail", self.notices[0].pk
        if self.query.kind in ("case", "report") and len(self.cases) == 1 and self.case_count == 1:
            return "workspace-case", self.cases[0].pk
        return None


def search(query: Query, *, see_reporters: bool) -> SearchResults:
    """What ``query`` finds. ``see_reporters``: the user may see who reported (senior analysts)."""
    cases: tuple[CaseHit, ...] = ()
    count = 0
    notices: tuple[NoticeHit, ...] = ()
    providers: tuple[ProviderHit, ...] = ()
    report = None
    if query.kind == "notice":
        notices = _notice_hits(Notice.objects.filter(reference=query.value))
    elif query.kind == "provider":
        providers = _provider_hits(query.value)
    else:
        ids = newest_case_ids(query, COUNT_CAP + 1)
        if ids is None:
            matching = cases_matching(query)
            count = matching.values("pk")[: COUNT_CAP + 1].count()
        else:
            matching, count = Case.objects.filter(pk__in=ids[:CASES_SHOWN]), len(ids)
        exact = {*query.urls, *_hashes(query)} if query.kind == "url" else set()
        # The newest first: case numbers follow the order of the first report.
        cases = tuple(
            _case_hit(case, exact=bool({case.canonical_url, case.url_sha256} & exact) or query.kind == "case")
            for case in matching.select_related("provider").order_by("-id")[:CASES_SHOWN]
        )
        if query.kind == "url":  # the URL itself first, then the longer ones
            cases = tuple(sorted(cases, key=lambda hit: not hit.exact))
        if query.kind == "report":
            report = _report_hit(query.value, see_reporters=see_reporters)
    return SearchResults(query, cases, count, notices, providers, report)


def _case_hit(case: Case, *, exact: bool) -> CaseHit:
    return CaseHit(
        pk=case.pk,
        url=case.canonical_url,
        state=case.get_state_display(),
        verdict=case.get_verdict_display() if case.verdict else "",
        provider=case.provider.name if case.provider else "",
        country=case.hosting_country,
        asn=case.asn,
        received=case.first_reported_at,
        exact=exact,
    )


def _notice_hits(notices: QuerySet[Notice]) -> tuple[NoticeHit, ...]:
    return tuple(
        NoticeHit(
            pk=n.pk,
            reference=n.reference,
            recipient=n.recipient_name,
            kind=n.get_kind_display(),
            state=n.get_state_display(),
            created=n.created_at,
            sent=n.sent_at,
            cases=n.case_count,
        )
        for n in notices.annotate(case_count=Count("items"))[:NOTICES_SHOWN]
    )


def _provider_hits(text: str) -> tuple[ProviderHit, ...]:
    """Providers whose name holds ``text``, with their open cases counted up to `COUNT_CAP` + 1
    each (one short count per provider under its (provider, state) index: a large provider's
    hundreds of thousands of cases are not counted to say "more than 1000")."""
    providers = list(_providers(text).order_by("name")[:PROVIDERS_SHOWN])
    hits = [
        ProviderHit(
            pk=p.pk,
            name=p.name,
            country=p.country,
            open_cases=Case.objects.filter(provider=p, state__in=CaseState.OPEN).values("pk")[: COUNT_CAP + 1].count(),
        )
        for p in providers
    ]
    return tuple(sorted(hits, key=lambda hit: (-hit.open_cases, hit.name)))


def _report_hit(reference: str, *, see_reporters: bool) -> ReportHit | None:
    report = Report.objects.select_related("partner").filter(reference=reference).first()
    if report is None:
        return None
    reporter = ""
    if report.partner is not None:
        reporter = report.partner.name if see_reporters else str(_("a partner"))
    return ReportHit(
        reference=report.reference,
        channel=report.get_channel_display(),
        reporter=reporter,
        received=report.received_at,
        urls=report.url_count,
    )
