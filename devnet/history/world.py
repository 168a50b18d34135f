"""The world the cases live in, made before the first case: the demo's users and API partners,
providers (a few large, a long tail), their sites, and what routing and resolution say of each."""

from __future__ import annotations

import itertools
import json
import math
from datetime import timedelta
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import make_password
from django.db import models

from devnet.history.constants import (
    HOST_SUFFIXES,
    OTHER_WEIGHTS,
    PARTNER_WEIGHTS,
    PARTNERS,
    PROVIDER_KEY_PREFIX,
    REGISTRY,
    SITE_WORDS,
    USER_PREFIX,
)
from devnet.history.names import provider_name, registrable_domain, slug
from devnet.history.records import HotlineInfo, ProviderInfo, SiteInfo
from devnet.history.state import SeedState
from reports.models import Partner
from routing.jurisdiction import Hold, Recipient, RecipientKind, Route
from routing.models import PartnerHotline, Provider
from routing.notices.render import notice_language


def make_actors(state: SeedState) -> None:
    """The analysts and seniors who assess and release, and the API partners who report."""
    first = state.start - timedelta(days=30)
    users = [
        get_user_model()(
            username=f"{USER_PREFIX}{role}-{n}",
            password=make_password(None),
            is_active=False,
            date_joined=first,
            first_name="Demo",
            last_name=f"{role.title()} {n}",
        )
        for role, count in (("analyst", 8), ("senior", 2))
        for n in range(1, count + 1)
    ]
    ids, made = _ensure(get_user_model(), "username", users)
    state.analysts = [pk for pk, u in zip(ids, users, strict=True) if "analyst" in u.username]
    state.seniors = [pk for pk, u in zip(ids, users, strict=True) if "senior" in u.username]
    state.summary.add("users", made)
    partners = [
        Partner(name=name, contact_email=f"api@{slug(name)}.example", created_at=first) for name, _, _ in PARTNERS
    ]
    ids, made = _ensure(Partner, "name", partners)
    state.partners = [(pk, share, classifies) for pk, (_, share, classifies) in zip(ids, PARTNERS, strict=True)]
    state.summary.add("partners", made)


def make_world(state: SeedState) -> None:
    """Providers (a few large, a long tail), their sites, and what routing says of each."""
    rng = state.rng
    hotlines = {
        h.country: HotlineInfo(
            h.pk, h.name, h.email or f"referrals@{h.country.lower()}-hotline.example", notice_language(h.language)
        )
        for h in PartnerHotline.objects.filter(active=True).exclude(country=state.home)
    }
    partner_countries = sorted(hotlines)
    others = sorted(c for c in OTHER_WEIGHTS if c not in hotlines and c != state.home)
    count = min(2_000, max(12, round(2 * math.sqrt(state.total))))
    names: set[str] = set()
    providers: list[ProviderInfo] = []
    for rank in range(count):
        route = ["own", "partner", "elsewhere", "own"][rank] if rank < 4 else ""
        route = route or rng.choices(["own", "partner", "elsewhere"], [0.45, 0.35, 0.20])[0]
        if route == "partner" and not partner_countries:
            route = "elsewhere"
        if route == "elsewhere" and not others:
            route = "own"
        if route == "own":
            country = state.home
        elif route == "partner":
            country = rng.choices(partner_countries, [PARTNER_WEIGHTS.get(c, 1) for c in partner_countries])[0]
        else:
            country = rng.choices(others, [OTHER_WEIGHTS[c] for c in others])[0]
        name = provider_name(rng, country, names)
        registry = REGISTRY.get(country, "ripe")
        kind = rng.random()
        speed = 240.0 if kind < 0.10 else 6.0 if kind < 0.15 else 40.0
        providers.append(
            ProviderInfo(
                rank=rank,
                name=name,
                country=country,
                route=route,
                asn=64512 + rank if rank < 1023 else 4_200_000_000 + rank,
                cidr=f"198.{18 + rank // 1024}.{(rank % 1024) // 4}.{(rank % 4) * 64}/26",
                registry=registry,
                handle=f"ORG-{slug(name)[:3].upper()}{rank + 1}-{registry.upper()}",
                language={"NL": "nl", "DE": "de", "AT": "de"}.get(country, "en"),
                speed_hours=speed * rng.lognormvariate(0, 0.5),
                never=0.25 if kind < 0.10 else 0.03,
                responds=rng.random() < 0.3,
                weight=1 / (rank + 1) ** 1.05,
                hotline=hotlines.get(country) if route == "partner" else None,
            )
        )
    created = state.start - timedelta(days=60)
    ids, made = _ensure(
        Provider,
        "key",
        [
            Provider(
                name=p.name,
                key=f"{PROVIDER_KEY_PREFIX}rdap:{p.registry}:{p.handle}",
                source="rdap",
                abuse_emails=[f"abuse@{slug(p.name)}.example"],
                abuse_source="abuse-role",
                abuse_rule="marked_abuse",
                confidence="high",
                country=p.country,
                language=p.language,
                rdap_handles=[p.handle],
                verified=p.rank < 20,
                notes="Synthetic provider made by seed_demo (reserved example data).",
                created_at=created,
            )
            for p in providers
        ],
    )
    for p, pk in zip(providers, ids, strict=True):
        p.id, p.emails = pk, [f"abuse@{slug(p.name)}.example"]
        _routes(state, p)
    state.summary.add("providers", made)
    state.providers = providers
    state.provider_weights = list(itertools.accumulate(p.weight for p in providers))
    # Sites: each provider hosts some, in proportion to its size; a few sites are large.
    total_weight = state.provider_weights[-1]
    sites = min(30_000, max(count, state.total // 30))
    number = 0
    for p in providers:
        for n in range(max(1, round(p.weight / total_weight * sites))):
            number += 1
            word = rng.choice(SITE_WORDS) + rng.choice(SITE_WORDS)
            host = f"{word}-{number}{rng.choice(HOST_SUFFIXES)}"
            first, *_ = p.cidr.split("/")
            last_octet = int(first.rsplit(".", 1)[1]) + 1 + n % 62
            site = SiteInfo(host, p, f"{first.rsplit('.', 1)[0]}.{last_octet}", dedicated=rng.random() < 0.25)
            _resolution(site)
            p.sites.append(site)
            p.site_weights.append((p.site_weights[-1] if p.site_weights else 0) + 1 / (n + 1))


def _routes(state: SeedState, p: ProviderInfo) -> None:
    """The ``routed`` event data of its cases (`routing.jurisdiction.route`)."""
    hosting = Recipient(
        kind=RecipientKind.PROVIDER, name=p.name, emails=tuple(p.emails), language=p.language, provider_id=p.id
    )
    police = Recipient(
        kind=RecipientKind.POLICE, name=state.police_name, emails=tuple(state.police_emails), language="en"
    )
    if p.route == "own":
        route = Route("own_country", (hosting,))
    elif p.route == "partner" and p.hotline is not None:
        hotline = Recipient(
            kind=RecipientKind.HOTLINE,
            name=p.hotline.name,
            emails=(p.hotline.email,),
            language=p.hotline.language,
            hotline_id=p.hotline.id,
        )
        route = Route(f"partner_hotline:{p.country}", (hotline,))
    else:
        route = Route("no_partner_hotline", (hosting, police))
    held = Recipient(**{**hosting.__dict__, "holds": (Hold.POLICE_FIRST,)})
    p.routed = json.dumps(route.as_dict())
    p.routed_police_first = json.dumps(Route("police_first", (police, held)).as_dict())
    p.routed_released = json.dumps(Route("police_first", (police, hosting)).as_dict())


def _resolution(site: SiteInfo) -> None:
    """What resolution stored (`routing.resolution.results.HostResolution.as_dict`) and its event summary."""
    p = site.provider
    domain = registrable_domain(site.host)
    provider = {
        "id": p.id,
        "name": p.name,
        "abuse_emails": p.emails,
        "abuse_source": "abuse-role",
        "abuse_rule": "marked_abuse",
        "confidence": "high",
        "country": p.country,
        "is_cdn": False,
        "verified": p.rank < 20,
        # As live resolution names an RDAP match (routing.providers): the key made from RDAP, said
        # once, without the mark that sets the seeded provider's key apart.
        "rule": f"rdap:{p.registry}:{p.handle}",
    }
    ip = {
        "ip": site.ip,
        "asn": p.asn,
        "asn_name": p.name.split(" ")[0].upper(),
        "asn_prefix": p.cidr,
        "cidr": p.cidr,
        "network_name": f"{slug(p.name).upper()}-NET",
        "network_handle": f"NET-{p.cidr.split('/')[0].replace('.', '-')}-1",
        "org_handle": p.handle,
        "org_name": p.name,
        "country": p.country,
        "registry": p.registry,
        "abuse_emails": p.emails,
        "abuse_source": "abuse-role",
        "abuse_rule": "marked_abuse",
        "confidence": "high",
        "error": "",
        "note": "",
    }
    data = {
        "host": site.host,
        "registered_domain": domain,
        "outcome": "resolved",
        "cnames": [],
        "addresses": [site.ip],
        "dns": {
            "host": site.host,
            "outcome": "resolved",
            "cname_chain": [],
            "addresses": [site.ip],
            "error": "",
            "ttl": 3600,
        },
        "ips": [ip],
        "provider": provider,
        "country": p.country,
        "asn": p.asn,
        "cdn": None,
        "origin": None,
        "registrar": None,
        "confidence": "high",
        "contact_check": False,
        "errors": [],
    }
    site.resolution = json.dumps(data)
    site.resolved = json.dumps(
        {
            "outcome": "resolved",
            "addresses": [site.ip],
            "cnames": [],
            "provider": p.name,
            "provider_id": p.id,
            "rule": provider["rule"],
            "country": p.country,
            "asn": p.asn,
            "confidence": "high",
            "cdn": "",
            "errors": [],
        }
    )


def _ensure(model: type[models.Model], field: str, objects: list[Any]) -> tuple[list[int], int]:
    """The ids of these rows, found by ``field``: rows that exist already (demo rows that real
    data still refer to, which `demo_delete` keeps) are used as they are, the others created.
    Returns the ids in the order of ``objects`` and how many were created."""
    values = [getattr(o, field) for o in objects]
    manager = model._default_manager
    found = dict(manager.filter(**{f"{field}__in": values}).values_list(field, "pk"))
    made = manager.bulk_create([o for o in objects if getattr(o, field) not in found])
    found |= {getattr(o, field): o.pk for o in made}
    return [found[v] for v in values], len(made)
