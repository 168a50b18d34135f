"""CDNs and reverse proxies: a host whose provider is marked as a CDN is behind one, and a domain
rule may name the origin host behind it, which is then resolved too (the notice goes to the CDN,
asking for the origin, and to the origin's provider)."""

from __future__ import annotations

from collections.abc import Iterable

from routing.models import Provider
from routing.resolution.providers import Match, RuleIndex
from routing.resolution.results import HostQuery, HostResolution


def cdn_of(match: Match) -> Provider | None:
    """The CDN a host is behind: its provider, when that is marked as a CDN."""
    return match.provider if match.provider is not None and match.provider.is_cdn else None


def origin_hosts(queries: Iterable[HostQuery], rules: RuleIndex) -> dict[str, str]:
    """host -> the origin host its domain rule names (other than itself)."""
    origins: dict[str, str] = {}
    for query in queries:
        rule = rules.domain_rule(query.host)
        if rule is not None and rule.origin_host and rule.origin_host.lower() != query.host:
            origins[query.host] = rule.origin_host.lower().rstrip(".")
    return origins


def origin_attach(resolution: HostResolution, origin_host: str, origin: HostResolution) -> None:
    """Note the origin host on a resolution, and the origin's resolution when it tells something."""
    resolution.origin_host = origin_host
    # An origin that is itself a CDN address tells us nothing new.
    if origin.provider is not None and not origin.provider.is_cdn:
        resolution.origin = origin


__all__ = ["cdn_of", "origin_attach", "origin_hosts"]
