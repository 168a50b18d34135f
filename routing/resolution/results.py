"""What resolution concluded about a host (`HostResolution`), and how a case stores it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from routing.models import Confidence, Provider
from routing.resolution.dns import DnsOutcome, DnsResult
from routing.resolution.lookups import IpInfo
from routing.resolution.providers import Match, contact_confidence


@dataclass
class HostResolution:
    """Everything resolution concluded about one host."""

    host: str
    registered_domain: str
    dns: DnsResult
    ips: list[IpInfo]
    match: Match
    cdn: Provider | None = None
    origin: HostResolution | None = None
    origin_host: str = ""
    registrar: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)

    @property
    def provider(self) -> Provider | None:
        return self.match.provider

    @property
    def transient(self) -> bool:
        return self.dns.outcome.is_transient or any(ip.transient for ip in self.ips)

    @property
    def retry_after(self) -> float | None:
        waits = [ip.retry_after for ip in self.ips if ip.retry_after]
        return max(waits) if waits else None

    @property
    def outcome(self) -> str:
        if self.dns.outcome not in (DnsOutcome.RESOLVED, DnsOutcome.IP_LITERAL):
            return self.dns.outcome.value
        if any(ip.error for ip in self.ips):
            return "partial"
        return "resolved"

    @property
    def primary(self) -> IpInfo | None:
        """The address the provider was chosen on, else the first one."""
        for ip in self.ips:
            if ip.ip == self.match.address:
                return ip
        return self.ips[0] if self.ips else None

    @property
    def country(self) -> str:
        """Where the content is hosted: the origin's country when a CDN's origin is known."""
        if self.origin is not None and self.origin.country:
            return self.origin.country
        if self.provider is not None and self.match.rule.startswith("domain:") and self.provider.country:
            return self.provider.country
        primary = self.primary
        return primary.country if primary else ""

    @property
    def asn(self) -> int | None:
        primary = self.primary
        return primary.asn.asn if primary and primary.asn else None

    @property
    def confidence(self) -> str:
        return contact_confidence(self.provider)

    @property
    def contact_check(self) -> bool:
        """Low or no confidence in the contact of a host that is online somewhere: a senior analyst
        looks before any notice goes out."""
        if not self.ips:
            return False
        provider = self.provider
        # A provider whose abuse address bounced, with no fallback left, waits for a senior too.
        if provider is not None and provider.contact_flagged_at is not None and not provider.fallback_email:
            return True
        return self.confidence != Confidence.HIGH

    def as_dict(self) -> dict[str, Any]:
        provider = self.provider
        return {
            "host": self.host,
            "registered_domain": self.registered_domain,
            "outcome": self.outcome,
            "cnames": list(self.dns.cname_chain),
            "addresses": list(self.dns.addresses),
            "dns": self.dns.as_dict(),
            "ips": [ip.as_dict() for ip in self.ips],
            "provider": _provider_dict(provider, self.match.rule) if provider else None,
            "country": self.country,
            "asn": self.asn,
            "cdn": _provider_dict(self.cdn, "") if self.cdn else None,
            "origin": self.origin.as_dict()
            if self.origin
            else ({"host": self.origin_host} if self.origin_host else None),
            "registrar": self.registrar,
            "confidence": self.confidence,
            "contact_check": self.contact_check,
            "errors": self.errors + [f"{ip.ip}: {ip.error}" for ip in self.ips if ip.error],
        }


def _provider_dict(provider: Provider, rule: str) -> dict[str, Any]:
    return {
        "id": provider.pk,
        "name": provider.name,
        "abuse_emails": list(provider.abuse_emails or []),
        "abuse_source": provider.abuse_source,
        "abuse_rule": provider.chosen_by,
        "confidence": contact_confidence(provider),
        "country": provider.country,
        "is_cdn": provider.is_cdn,
        "verified": provider.verified,
        "rule": rule,
    }


@dataclass(frozen=True)
class HostQuery:
    host: str
    is_ip: bool = False
    unresolvable: bool = False
    registered_domain: str = ""


__all__ = ["HostQuery", "HostResolution"]
