"""Which provider a host belongs to.

Most specific match wins, and what people set beats what registries say:

1. a domain rule naming a provider (the most specific host suffix),
2. a provider's CIDR list (the longest prefix containing one of the host's addresses),
3. a provider's ASN list,
4. the provider made from the RDAP record of the host's first address (created on first sight,
   keyed by the registry's organisation handle, else the abuse address, else the network handle).
"""

from __future__ import annotations

import ipaddress
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction

from routing.models import Confidence, DomainRule, Provider, ProviderSource
from routing.resolution.addresses import IPNetwork
from routing.resolution.contacts import is_registry_address
from routing.resolution.rdap import NetworkInfo


@dataclass(frozen=True)
class Match:
    provider: Provider | None
    rule: str  # "domain:example.com", "cidr:192.0.2.0/24", "asn:64500", "rdap:<registry>:<handle>",
    # "rdap:abuse:<address>" (the provider's key, prefixed once), or "none"
    address: str = ""  # the address the match was made on


class RuleIndex:
    """The manual rules, loaded once per batch."""

    def __init__(self) -> None:
        self.domains: dict[str, DomainRule] = {
            rule.suffix.lower().rstrip("."): rule for rule in DomainRule.objects.select_related("provider")
        }
        self.cidrs: list[tuple[IPNetwork, Provider]] = []
        self.asns: dict[int, Provider] = {}
        for provider in Provider.objects.exclude(cidrs=[], asns=[]):
            for text in provider.cidrs or ():
                try:
                    self.cidrs.append((ipaddress.ip_network(str(text), strict=False), provider))
                except ValueError:
                    continue
            for asn in provider.asns or ():
                try:
                    self.asns.setdefault(int(asn), provider)
                except (TypeError, ValueError):
                    continue
        self.cidrs.sort(key=lambda item: -item[0].prefixlen)
        self._made: dict[str, Provider] = {}  # providers made from RDAP in this batch, by key
        self._known: dict[str, Provider | None] = {}  # providers read ahead by key (None: not yet made)

    def prefetch(self, networks: Iterable[NetworkInfo]) -> None:
        """Read the providers of these networks in one query, ahead of `match`."""
        keys = {provider_key(n) for n in networks} - set(self._known)
        if keys:
            found = {p.key: p for p in Provider.objects.filter(key__in=keys)}
            self._known.update({key: found.get(key) for key in keys})

    def domain_rule(self, host: str) -> DomainRule | None:
        """The most specific rule whose suffix is ``host`` or a parent domain of it."""
        labels = host.lower().rstrip(".").split(".")
        for start in range(len(labels)):
            rule = self.domains.get(".".join(labels[start:]))
            if rule is not None:
                return rule
        return None

    def match(self, host: str, addresses: Sequence[tuple[str, int | None, NetworkInfo | None]]) -> Match:
        """``addresses``: (ip, asn, network) for each of the host's addresses, in DNS order."""
        rule = self.domain_rule(host)
        if rule is not None and rule.provider is not None:
            return Match(rule.provider, f"domain:{rule.suffix}")
        for network, provider in self.cidrs:  # longest prefix first
            for ip, _asn, _net in addresses:
                address = ipaddress.ip_address(ip)
                if address.version == network.version and address in network:
                    return Match(provider, f"cidr:{network}", ip)
        for ip, asn, _net in addresses:
            if asn is not None and asn in self.asns:
                return Match(self.asns[asn], f"asn:{asn}", ip)
        candidates = [(ip, net) for ip, _asn, net in addresses if net is not None]
        if not candidates:
            return Match(None, "none")
        # The provider of most of the host's addresses; on a tie, of the first.
        keys = Counter(provider_key(net) for _ip, net in candidates)
        best = max(keys.values())
        ip, info = next((ip, net) for ip, net in candidates if keys[provider_key(net)] == best)
        key = provider_key(info)
        if key not in self._made:
            self._made[key] = provider_from_network(info, known=self._known.get(key, _UNKNOWN))
        # A key made from RDAP starts with "rdap:" already; one from an abuse address does not.
        return Match(self._made[key], key if key.startswith("rdap:") else f"rdap:{key}", ip)


_RANK: dict[str, int] = {Confidence.NONE: 0, Confidence.LOW: 1, Confidence.HIGH: 2}


def provider_key(network: NetworkInfo) -> str:
    registry = network.registry or "rdap"
    if network.org_handle:
        return f"rdap:{registry}:{network.org_handle.upper()}"
    operator = [e for e in network.abuse_emails if not is_registry_address(e)]
    if operator:
        return f"abuse:{operator[0]}"
    return f"rdap:{registry}:{(network.handle or network.cidr).upper()}"


_UNKNOWN: Any = object()  # `provider_from_network` was not told whether the provider exists


def provider_from_network(network: NetworkInfo, *, known: Provider | None = _UNKNOWN) -> Provider:
    """The provider for an RDAP network, created on first sight.

    A provider made from RDAP follows the registry until an analyst verifies it or it is made by
    hand. One organisation's networks may name different abuse addresses: the provider keeps the
    addresses of all of them (in the order first seen) rather than flipping to whichever network
    was resolved last, and its confidence is that of its best-sourced network. ``known`` is the
    provider with this network's key as read just before (None: there was none).
    """
    key = provider_key(network)
    name = (network.org_name or network.name or key)[:200]
    # An organisation is often its own abuse contact (AFRINIC): its handle once.
    handles = list(dict.fromkeys(h for h in (network.org_handle, network.abuse_handle) if h))
    fields: dict[str, Any] = {
        "abuse_emails": list(network.abuse_emails),
        "abuse_source": network.abuse_source,
        "abuse_rule": network.abuse_rule,
        "confidence": network.confidence,
        "country": network.country[:2],
    }
    provider = Provider.objects.filter(key=key).first() if known is _UNKNOWN else known
    if provider is None:
        try:
            with transaction.atomic():
                return Provider.objects.create(
                    key=key, name=name, source=ProviderSource.RDAP, rdap_handles=handles, **fields
                )
        except IntegrityError:  # another worker created it first
            provider = Provider.objects.get(key=key)
    if provider.source == ProviderSource.RDAP and not provider.verified:
        # A provider made before rules were recorded holds what the older, wider rule chose (every
        # address of an abuse role): the first answer with a rule replaces its addresses.
        fresh_start = not provider.abuse_rule and bool(network.abuse_rule)
        earlier = [] if fresh_start else list(provider.abuse_emails or [])
        emails = list(dict.fromkeys([*earlier, *network.abuse_emails]))
        if _RANK.get(str(provider.confidence), 0) > _RANK[str(network.confidence)] and earlier:
            fields.update(
                abuse_source=provider.abuse_source, abuse_rule=provider.abuse_rule, confidence=provider.confidence
            )
        fields["abuse_emails"] = emails
        if not fields["abuse_rule"]:  # a network answer cached before rules were recorded says nothing
            fields.pop("abuse_rule")
        changed = {k: v for k, v in fields.items() if getattr(provider, k) != v and (v or k != "country")}
        merged = sorted(set(provider.rdap_handles or []) | set(handles))
        if merged != sorted(provider.rdap_handles or []):
            changed["rdap_handles"] = merged
        if changed:
            Provider.objects.filter(pk=provider.pk).update(**changed)
            for k, v in changed.items():
                setattr(provider, k, v)
    return provider


def contact_confidence(provider: Provider | None) -> str:
    return str(provider.contact_confidence) if provider is not None else Confidence.NONE
