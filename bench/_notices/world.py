"""The notice bench's world: providers in the home country, in partner hotlines' countries and
elsewhere, each one AS announcing one /24 of the benches' address plan (`bench._world.network_of`);
illegal cases spread over them by a Zipf law; the lookups the DNS and RDAP peers answer for it
(``--reresolve``); and the rows written for it."""

from __future__ import annotations

import argparse
import bisect
import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bench._world import Lookups, network_of
from devnet.registries import REGISTRIES, Asn, Network

HOME = "NL"
# Partner hotlines (country: referral address); cases hosted there are referred, not noticed. The
# migrations seed the hotlines without an address; the bench gives these four one.
PARTNERS = {
    "DE": "referrals@hotline-de.example",
    "BE": "referrals@hotline-be.example",
    "GB": "referrals@hotline-gb.example",
    "FR": "referrals@hotline-fr.example",
}
ELSEWHERE = ("RU", "UA", "PA", "VN")  # none of the partner hotlines seeded by routing 0005: provider and police
POLICE_EMAIL = "csam-reports@police.example"
LANGUAGES = (("en", 5), ("nl", 3), ("de", 2))  # language of a provider's notices, and its weight
TLDS = ("com", "net", "org")  # hosts are under example.com/net/org
CASES_PER_HOST = 5
# The registry of a country's networks (RIPE NCC unless listed).
REGISTRY_OF = {"PA": "lacnic", "VN": "apnic"}
REGISTRY = {r.name: r for r in REGISTRIES}
FIRST_ASN = 4_200_000_000  # the 4-byte private-use range (RFC 6996): one AS per provider


@dataclass(frozen=True, slots=True)
class BenchProvider:
    """A hosting provider: one AS announcing one /24, in one country, with one abuse address."""

    index: int
    country: str
    language: str
    channel: str = "batched_mail"  # its delivery channel (`--channels`)

    @property
    def email(self) -> str:
        return f"abuse@prov{self.index}.example"  # as devnet.registries.network_object names it

    @property
    def name(self) -> str:
        return f"Bench Provider {self.index}"

    @property
    def registry(self) -> str:
        return REGISTRY_OF.get(self.country, "ripencc")

    @property
    def asn(self) -> int:
        return FIRST_ASN + self.index

    @property
    def network(self) -> Network:
        return network_of(self.index, Asn(self.asn, REGISTRY[self.registry], self.country, provider=self.index))

    @property
    def key(self) -> str:
        """The key of the provider resolution makes from its RDAP record (routing.resolution.providers)."""
        return f"rdap:{self.registry}:ORG-BENCH{self.index}"

    def address(self, n: int) -> str:
        """The ``n``-th address of its /24 (of `network`'s block)."""
        first = REGISTRY[self.registry].first_octet
        return f"{first}.{20 + self.index // 256}.{self.index % 256}.{1 + n % 250}"


@dataclass(frozen=True, slots=True)
class BenchCase:
    url: str
    host: str
    ip: str
    provider: int  # index into World.providers
    urgent: bool
    category: str
    media_type: str


# Channels that send nothing by themselves: their notices wait for a person (`by_hand`).
UNSENT_CHANNELS = ("manual",)
# Channels that deliver otherwise than by mail (a report to the local abuse API: bench/_notices/api.py).
UNMAILED_CHANNELS = (*UNSENT_CHANNELS, "provider_api")


@dataclass
class World:
    providers: list[BenchProvider]
    cases: list[BenchCase]
    hosts: dict[str, tuple[str, int]] = field(default_factory=dict)  # host: (address, provider)

    def recipients(self, case: BenchCase) -> tuple[str, ...]:
        """Whom the case must reach, by the routing rules of routing.jurisdiction."""
        provider = self.providers[case.provider]
        if provider.country == HOME:
            return (provider.email,)
        if provider.country in PARTNERS:
            return (PARTNERS[provider.country],)
        return (provider.email, POLICE_EMAIL)

    def mailed(self, case: BenchCase) -> tuple[str, ...]:
        """The recipients that get the case by mail (a provider on the manual channel gets nothing
        sent: its notice waits for a person; one on the provider API channel gets a report)."""
        provider = self.providers[case.provider]
        held = provider.email if provider.channel in UNMAILED_CHANNELS else None
        return tuple(r for r in self.recipients(case) if r != held)

    def delivered(self, case: BenchCase) -> tuple[str, ...]:
        """The recipients the case reaches by itself, by mail or by an API (not by hand)."""
        provider = self.providers[case.provider]
        held = provider.email if provider.channel in UNSENT_CHANNELS else None
        return tuple(r for r in self.recipients(case) if r != held)

    def reported(self, case: BenchCase) -> bool:
        """Whether the case goes to its provider's abuse API (the provider gets a notice at all:
        not where a partner hotline works)."""
        provider = self.providers[case.provider]
        return provider.channel == "provider_api" and provider.email in self.recipients(case)


def channel_mix(text: str) -> list[tuple[str, float]]:
    """``batched_mail=60,xarf_per_message=30,manual=10`` as (channel, weight) pairs."""
    mix = []
    for item in filter(None, (part.strip() for part in text.split(","))):
        name, _, weight = item.partition("=")
        mix.append((name.strip(), float(weight or 1)))
    if not mix or any(w < 0 for _n, w in mix) or sum(w for _n, w in mix) <= 0:
        raise ValueError(f"not a channel mix: {text!r}")
    return mix


def build_world(args: argparse.Namespace) -> World:
    """The same world for the same arguments (in the bench and in the peer processes)."""
    rng = random.Random(f"{args.seed}:world")
    home = round(args.providers * args.home_share)
    partner = round(args.providers * args.partner_share)
    countries = [HOME] * home
    countries += [sorted(PARTNERS)[i % len(PARTNERS)] for i in range(partner)]
    countries += [ELSEWHERE[i % len(ELSEWHERE)] for i in range(args.providers - home - partner)]
    rng.shuffle(countries)
    names = [name for name, _ in LANGUAGES]
    weights = [weight for _, weight in LANGUAGES]
    mix = channel_mix(getattr(args, "channels", "batched_mail=100"))
    channel_rng = random.Random(f"{args.seed}:channels")
    providers = [
        BenchProvider(
            i,
            country,
            rng.choices(names, weights)[0],
            channel_rng.choices([c for c, _w in mix], [w for _c, w in mix])[0],
        )
        for i, country in enumerate(countries)
    ]
    # Every provider has a case; the others go to providers by a Zipf law over a shuffled ranking.
    ranking = list(range(args.providers))
    rng.shuffle(ranking)
    cumulative = list(itertools.accumulate(1 / (rank + 1) ** args.zipf for rank in range(args.providers)))
    owners = list(range(args.providers))
    owners += [
        ranking[bisect.bisect_left(cumulative, rng.random() * cumulative[-1])]
        for _ in range(args.cases - args.providers)
    ]
    rng.shuffle(owners)  # cases of one provider arrive spread over time, among the others'
    per_provider: Counter[int] = Counter()
    categories = ("A1", "A2", "B1", "B2")
    media = ("image", "image", "image", "video", "page")
    world = World(providers, [])
    for i, owner in enumerate(owners):
        n = per_provider[owner]
        per_provider[owner] += 1
        # A few cases per host, every host on one address in its provider's /24.
        host = f"img{n // CASES_PER_HOST}.p{owner}.example.{TLDS[owner % len(TLDS)]}"
        ip = providers[owner].address(n // CASES_PER_HOST)
        world.hosts[host] = (ip, owner)
        world.cases.append(
            BenchCase(
                url=f"https://{host}/bench/{i}/photo-{n}.jpg",
                host=host,
                ip=ip,
                provider=owner,
                urgent=rng.random() < args.urgent_share,
                category=categories[i % len(categories)],
                media_type=media[i % len(media)],
            )
        )
    return world


def lookups(args: argparse.Namespace) -> Lookups:
    """What the DNS and RDAP peers answer (``--reresolve``): every host, every provider's network,
    and example.com/net/org. An hour of TTL, as hosting providers often set: answers cached at
    the warm-up are still fresh when the sender re-resolves (SCART_HOST_CACHE_MIN_SECONDS is 5
    minutes)."""
    world = build_world(args)
    networks = [p.network for p in world.providers]
    hosts = [(host, ip, networks[owner]) for host, (ip, owner) in world.hosts.items()]
    return Lookups(hosts, networks, {f"example.{tld}": n for n, tld in enumerate(TLDS)}, ttl=3600)


def route_mix(world: World) -> dict[str, int]:
    mix: Counter[str] = Counter()
    for case in world.cases:
        country = world.providers[case.provider].country
        mix[
            "own_country" if country == HOME else "partner_hotline" if country in PARTNERS else "provider_and_police"
        ] += 1
    return {k: mix[k] for k in ("own_country", "partner_hotline", "provider_and_police")}


def seed(world: World, *, now: datetime, resolved: bool) -> list[int]:
    """Write the providers (as resolution makes them from RDAP, verified by an analyst), the
    partner hotlines' addresses and the illegal cases with their assessments; returns the case ids
    in the order the cases were made. ``resolved``: the cases are resolved (now); otherwise their
    resolution is due."""
    from django.db import transaction

    from reports.models import Assessment, AssessmentSource, Case, CaseState, LegalBasis, Verdict
    from reports.urls import normalise_url
    from routing.models import PartnerHotline, Provider, ProviderSource

    assessed_at = now - timedelta(hours=2)  # the batching window has passed
    reported_at = now - timedelta(days=1)
    with transaction.atomic():
        for country, email in PARTNERS.items():
            PartnerHotline.objects.update_or_create(
                country=country,
                defaults={"email": email, "active": True},
                create_defaults={"name": f"Hotline {country}"},
            )
        providers = Provider.objects.bulk_create(
            [
                Provider(
                    name=p.name,
                    key=p.key,
                    source=ProviderSource.RDAP,
                    rdap_handles=[f"ORG-BENCH{p.index}"],
                    abuse_emails=[p.email],
                    country=p.country,
                    language=p.language,
                    delivery_channel=p.channel,
                    verified=True,
                )
                for p in world.providers
            ],
            batch_size=2_000,
        )
    provider_ids = [p.pk for p in providers]
    ids: list[int] = []
    step = 5_000
    for start in range(0, len(world.cases), step):
        chunk = world.cases[start : start + step]
        rows = []
        for c in chunk:
            norm = normalise_url(c.url)
            provider = world.providers[c.provider]
            where: dict[str, Any] = {"resolve_due_at": now}
            if resolved:
                where = {
                    "resolution": {"addresses": [c.ip], "country": provider.country},
                    "resolved_at": now,
                    "provider_id": provider_ids[c.provider],
                    "hosting_country": provider.country,
                    "asn": provider.asn,
                    "contact_confidence": "high",
                }
            rows.append(
                Case(
                    url_sha256=norm.sha256,
                    canonical_url=norm.canonical,
                    original_url=c.url,
                    scheme=norm.scheme,
                    host=norm.host,
                    registrable_domain=norm.registrable_domain,
                    state=CaseState.ILLEGAL,
                    state_changed_at=assessed_at,
                    first_reported_at=reported_at,
                    last_reported_at=reported_at,
                    verdict=Verdict.ILLEGAL,
                    assessed_at=assessed_at,
                    urgent=c.urgent,
                    notice_plan_at=assessed_at,
                    **where,
                )
            )
        with transaction.atomic():
            made = Case.objects.bulk_create(rows, batch_size=1_000)
            Assessment.objects.bulk_create(
                [
                    Assessment(
                        case_id=case.pk,
                        at=assessed_at,
                        source=AssessmentSource.ANALYST,
                        verdict=Verdict.ILLEGAL,
                        legal_basis=LegalBasis.BASELINE,
                        category=c.category,
                        media_type=c.media_type,
                    )
                    for case, c in zip(made, chunk, strict=True)
                ],
                batch_size=1_000,
            )
        ids += [case.pk for case in made]
    return ids
