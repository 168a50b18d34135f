"""Resolve a reported host to its CNAME chain and addresses.

This module knows nothing of Django: callers read the settings
(``SCART_DNS_NAMESERVERS``) and pass them in, so it can be tested against the
local DNS peer in ``devnet/dns.py`` without a project.

Contract of :func:`resolve_host`:

- IP literals skip DNS (``IP_LITERAL``); hosts that DNS cannot resolve (``.onion``
  and the like, decided by the caller, or names DNS cannot express) send no
  query (``UNRESOLVABLE``).
- The CNAME chain is followed by hand, whether the server returns the whole
  chain in one answer or one hop at a time, so the chain is recorded and
  bounded by ``max_cnames``. A response ending in a CNAME without records for
  its target makes us ask the target ourselves (one extra query when the
  server had already followed the chain to a name without that type).
- A loop, or a chain longer than ``max_cnames``, is a fact about the host's
  DNS, not a passing failure: the outcome is ``NO_DATA`` with the problem in
  ``error``, and it is not retried.
- A is asked first, then AAAA of the final name. When A answered (addresses or
  none), IPv4 addresses make the result ``RESOLVED`` even if the AAAA lookup
  then fails (servers that drop AAAA questions exist); ``error`` says IPv6
  addresses are missing. When the A lookup ends in NXDOMAIN, SERVFAIL or a
  timeout, AAAA is not asked: that is the outcome, and a dead server costs
  one lookup's worth of ``lifetime`` rather than two. A batch of hosts asks
  A and AAAA of each host at once instead (`chase_type`, `host_result`): the
  same outcome, in the time of one lookup rather than two.
- SERVFAIL, REFUSED, unreachable servers and timeouts are retried ``retries``
  times within the call; if they persist the outcome is ``SERVFAIL`` or
  ``TIMEOUT`` (``is_transient``: the caller tries again later).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import dns.exception
import dns.message
import dns.name
import dns.nameserver
import dns.rcode
import dns.rdataclass
import dns.rdatatype
import dns.resolver
import dns.rrset

# Built in `scart.resolver`, where the mailbox intake can use it too; named here for the callers.
from scart.resolver import make_resolver as make_resolver
from scart.resolver import parse_nameserver as parse_nameserver


class DnsOutcome(StrEnum):
    RESOLVED = "resolved"
    NXDOMAIN = "nxdomain"
    NO_DATA = "no_data"
    SERVFAIL = "servfail"
    TIMEOUT = "timeout"
    UNRESOLVABLE = "unresolvable"
    IP_LITERAL = "ip_literal"

    @property
    def is_transient(self) -> bool:
        """True when asking again later may give another answer."""
        return self in _TRANSIENT


_TRANSIENT = frozenset({DnsOutcome.SERVFAIL, DnsOutcome.TIMEOUT})


@dataclass(frozen=True)
class DnsResult:
    """What DNS said about one host.

    ``cname_chain`` lists the CNAME targets in the order followed (the host
    itself is not included), ``addresses`` the IPv4 then IPv6 addresses of the
    last name, each family sorted numerically. ``error`` is "" when the host
    resolved cleanly and a sentence for people otherwise.
    """

    host: str
    outcome: DnsOutcome
    cname_chain: tuple[str, ...] = ()
    addresses: tuple[str, ...] = ()
    error: str = ""
    # The smallest TTL of the records (or, for a negative answer, of the SOA's negative-caching
    # time) the result rests on; None when no response said.
    ttl: int | None = None

    @property
    def canonical_name(self) -> str:
        return self.cname_chain[-1] if self.cname_chain else self.host

    def as_dict(self) -> dict[str, Any]:
        return {
            "host": self.host,
            "outcome": self.outcome.value,
            "cname_chain": list(self.cname_chain),
            "addresses": list(self.addresses),
            "error": self.error,
            "ttl": self.ttl,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DnsResult:
        return cls(
            host=data["host"],
            outcome=DnsOutcome(data["outcome"]),
            cname_chain=tuple(data.get("cname_chain", ())),
            addresses=tuple(data.get("addresses", ())),
            error=data.get("error", ""),
            ttl=data.get("ttl"),
        )


def resolve_host(
    host: str,
    *,
    resolver: dns.resolver.Resolver,
    is_ip: bool = False,
    unresolvable: bool = False,
    max_cnames: int = 8,
    retries: int = 2,
) -> DnsResult:
    """Resolve ``host`` (see the module docstring for the contract)."""
    start = host_question(host, is_ip=is_ip, unresolvable=unresolvable)
    if isinstance(start, DnsResult):
        return start
    v4 = chase_type(host, start, dns.rdatatype.A, resolver=resolver, max_cnames=max_cnames, retries=retries)
    if not v4.complete:
        return host_result(host, start, v4, None)
    v6 = chase_type(
        host,
        v4.final(start),
        dns.rdatatype.AAAA,
        resolver=resolver,
        max_cnames=max_cnames,
        retries=retries,
        chain=v4.chain,
    )
    return host_result(host, start, v4, v6)


def host_question(host: str, *, is_ip: bool = False, unresolvable: bool = False) -> DnsResult | dns.name.Name:
    """The name to ask DNS about, or the outcome when no question is to be asked."""
    if is_ip:
        return DnsResult(host, DnsOutcome.IP_LITERAL, addresses=(_ip_literal(host),))
    if unresolvable:
        return DnsResult(host, DnsOutcome.UNRESOLVABLE, error=f"{host} is not resolvable through DNS")
    try:
        if not host.rstrip("."):
            raise ValueError("empty host")
        return dns.name.from_text(host.rstrip("."))
    except (dns.exception.DNSException, ValueError) as exc:
        return DnsResult(host, DnsOutcome.UNRESOLVABLE, error=f"invalid DNS name: {exc}")


def chase_type(
    host: str,
    start: dns.name.Name,
    rdtype: dns.rdatatype.RdataType,
    *,
    resolver: dns.resolver.Resolver,
    max_cnames: int = 8,
    retries: int = 2,
    chain: Sequence[dns.name.Name] = (),
) -> _Chase:
    """Follow one record type of ``host`` from ``start`` (``host`` itself, or where an earlier
    chase ended, with its ``chain``). A batch asks A and AAAA of a host at once, both from the
    host's name (`routing.resolution.hosts.HostLookups`), and joins them with `host_result`."""
    lookup = _Lookup(
        resolver=resolver, host=dns.name.from_text(host.rstrip(".")), max_cnames=max_cnames, retries=retries
    )
    result = lookup.chase(start, rdtype, chain=chain)
    result.ttl = lookup.ttl
    return result


def host_result(host: str, qname: dns.name.Name, v4: _Chase, v6: _Chase | None) -> DnsResult:
    """Join the A and AAAA chases of ``host`` into its outcome. An A chase that did not complete
    (NXDOMAIN, SERVFAIL, timeout) is the outcome, whatever AAAA said; ``v6`` None: not asked."""
    ttls = [c.ttl for c in (v4, v6) if c is not None and c.ttl is not None]
    ttl = min(ttls) if ttls else None
    if not v4.complete or v6 is None:
        return DnsResult(host, v4.outcome, _texts(v4.chain), error=v4.error, ttl=ttl)
    chain = _texts(v6.chain if len(v6.chain) >= len(v4.chain) else v4.chain)
    addresses = _sorted_addresses(v4.addresses + v6.addresses)
    if addresses:
        error = "" if v6.complete else f"IPv6 addresses missing: {v6.error}"
        return DnsResult(host, DnsOutcome.RESOLVED, chain, addresses, error, ttl=ttl)
    if v6.complete:
        final = _text(v6.final(qname))
        return DnsResult(host, DnsOutcome.NO_DATA, chain, error=f"{final} has no A or AAAA records", ttl=ttl)
    return DnsResult(host, v6.outcome, chain, error=v6.error, ttl=ttl)


@dataclass
class _Chase:
    """Where following one record type from a name ended."""

    chain: list[dns.name.Name]
    outcome: DnsOutcome = DnsOutcome.NO_DATA
    addresses: list[str] = field(default_factory=list)
    error: str = ""
    # True when a final name was reached and answered (with data or NODATA).
    complete: bool = False
    ttl: int | None = None  # the lowest TTL the chase saw

    def final(self, host: dns.name.Name) -> dns.name.Name:
        return self.chain[-1] if self.chain else host


class _Failed(Exception):
    def __init__(self, outcome: DnsOutcome, error: str) -> None:
        super().__init__(error)
        self.outcome = outcome
        self.error = error


@dataclass
class _Lookup:
    resolver: dns.resolver.Resolver
    host: dns.name.Name
    max_cnames: int
    retries: int
    ttl: int | None = None

    def _note_ttl(self, response: dns.message.Message) -> None:
        ttls = [rrset.ttl for rrset in response.answer]
        for rrset in response.authority:
            if rrset.rdtype == dns.rdatatype.SOA and len(rrset):
                ttls.append(min(rrset.ttl, rrset[0].minimum))
        if ttls:
            self.ttl = min(ttls) if self.ttl is None else min(self.ttl, *ttls)

    def chase(
        self,
        start: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        chain: Sequence[dns.name.Name] = (),
    ) -> _Chase:
        """Ask ``start`` for ``rdtype``, following CNAMEs until an answer."""
        result = _Chase(chain=list(chain))
        name = start
        try:
            while True:
                response = self._query(name, rdtype)
                self._note_ttl(response)
                if response.rcode() == dns.rcode.NXDOMAIN:
                    final = self._follow(response, name, rdtype, result.chain)[0]
                    missing = _text(final)
                    raise _Failed(DnsOutcome.NXDOMAIN, f"{missing} does not exist (NXDOMAIN)")
                final, rrset = self._follow(response, name, rdtype, result.chain)
                if rrset is not None:
                    result.outcome = DnsOutcome.RESOLVED
                    result.addresses = [rdata.address for rdata in rrset]
                    result.complete = True
                    return result
                if final == name:
                    result.complete = True  # NODATA
                    return result
                # The chain left this server's zone: ask for its end ourselves.
                name = final
        except _Failed as exc:
            result.outcome = exc.outcome
            result.error = exc.error
            return result

    def _follow(
        self,
        response: dns.message.Message,
        qname: dns.name.Name,
        rdtype: dns.rdatatype.RdataType,
        chain: list[dns.name.Name],
    ) -> tuple[dns.name.Name, dns.rrset.RRset | None]:
        """Walk the CNAMEs of ``response`` from ``qname``, appending to ``chain``."""
        name = qname
        while True:
            try:
                return name, response.find_rrset(response.answer, name, dns.rdataclass.IN, rdtype)
            except KeyError:
                pass
            try:
                cname = response.find_rrset(response.answer, name, dns.rdataclass.IN, dns.rdatatype.CNAME)
            except KeyError:
                return name, None
            target: dns.name.Name = cname[0].target
            looped = target == self.host or target in chain
            chain.append(target)
            if looped:
                hops = " -> ".join(_texts([self.host, *chain]))
                raise _Failed(DnsOutcome.NO_DATA, f"CNAME loop: {hops}")
            if len(chain) > self.max_cnames:
                raise _Failed(DnsOutcome.NO_DATA, f"CNAME chain longer than {self.max_cnames}")
            name = target

    def _query(self, name: dns.name.Name, rdtype: dns.rdatatype.RdataType) -> dns.message.Message:
        """The response for one question; transient failures retried."""
        attempt = 0
        while True:
            try:
                answer = self.resolver.resolve(name, rdtype, raise_on_no_answer=False, search=False)
            except dns.resolver.NXDOMAIN as exc:
                # Keep the response: its CNAMEs say which name is missing.
                response: dns.message.Message = exc.kwargs["responses"][name]
                return response
            except dns.resolver.NoNameservers as exc:
                # dnspython rejects a response whose CNAMEs loop; we report
                # the loop ourselves from that response.
                for _server, _tcp, _port, error, rejected in exc.kwargs["errors"]:
                    if isinstance(error, dns.message.ChainTooLong) and rejected:
                        response = rejected
                        return response
                failure = _Failed(DnsOutcome.SERVFAIL, str(exc))
            except dns.exception.Timeout as exc:
                failure = _Failed(
                    DnsOutcome.TIMEOUT,
                    f"no answer for {_text(name)} {dns.rdatatype.to_text(rdtype)} in time: {exc}",
                )
            except dns.resolver.YXDOMAIN as exc:
                raise _Failed(DnsOutcome.NO_DATA, str(exc)) from exc
            except dns.exception.DNSException as exc:
                failure = _Failed(DnsOutcome.SERVFAIL, str(exc) or type(exc).__name__)
            else:
                return answer.response
            attempt += 1
            if attempt > self.retries:
                raise failure


def _ip_literal(host: str) -> str:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return host


def _text(name: dns.name.Name) -> str:
    # Lower case: names compressed on the wire take the case of the question.
    return name.to_text(omit_final_dot=True).lower()


def _texts(names: Sequence[dns.name.Name]) -> tuple[str, ...]:
    return tuple(_text(name) for name in names)


def _sorted_addresses(addresses: Sequence[str]) -> tuple[str, ...]:
    ips = {ipaddress.ip_address(address) for address in addresses}
    return tuple(str(ip) for ip in sorted(ips, key=lambda ip: (ip.version, int(ip))))
