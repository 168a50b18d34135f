"""The demo's DNS zone, registry objects and web host: reserved example names (RFC 2606, RFC 6761)
pointing at the ten addresses whose registry answers are recorded in ``devnet/fixtures/registry``.

Those addresses are real and public, so that resolution shows real registries' answers. Nothing
may ever connect to them: in demo mode every availability check connects to the demo's web host on
127.0.0.1 instead (``SCART_CHECK_CONNECT_TO``, docs/checks.md), which answers 200 to every path of
every name, over HTTP and HTTPS on one port, with a certificate for the example domains that the
checker trusts in demo mode (and no other). `demo_peers` builds the three peers.

What the zone shows:

- ``example.com``: A and AAAA (Google's recorded networks, ARIN), ``www.example.com`` a CNAME to it;
- ``www.example.org``: a CNAME chain ``www.example.org`` -> ``cdn.example.net`` ->
  ``edge.cdn.example.net``, which has A and AAAA (BT, RIPE; the IPv6 range written with ``/128``);
- ``v6only.example.org``: only AAAA (JPNIC under APNIC: no abuse role);
- ``ix.example.net``: only AAAA (AFRINIC: entities without roles);
- ``unrouted.example.org``: only AAAA, an address no AS announces (LACNIC; Cymru says "NA");
- ``example.org``, ``example.net``, ``mail.example.net``: one A each (LACNIC, AFRINIC, KRNIC under APNIC);
- ``hosting.example.net``: one A in a network in the Netherlands (``NL_HOST``), so that the demo
  shows a notice to a hosting provider in the hotline's own country. Its RDAP answer is the RIPE
  answer of ``edited.json`` (94.142.240.1) with the organisation's names and mailboxes replaced by
  demo ones on the reserved ``.example`` TLD: a notice in the demo goes to no real mailbox, not even
  as a file;
- ``gone.example.com`` (``NXDOMAIN_HOST``) is in no zone: NXDOMAIN.

The history of ``seed_demo`` (hosts under ``.seed-demo.example.*``) is in no zone either: such a
case classified in the demo is re-resolved before its notice goes, finds no address, and goes to
the police instead (its notice to the provider is cancelled because "the host no longer resolves").
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from devnet import rdap_objects
from devnet.abuseapi import FakeAbuseAPI
from devnet.cymru import add_asn_name, add_origin, load_recorded_cymru
from devnet.dns import FakeDNS
from devnet.http import FakeHTTP
from devnet.rdap import FakeRDAP, edited_networks
from devnet.tls import have_openssl

NXDOMAIN_HOST = "gone.example.com"
NL_HOST = "hosting.example.net"
NL_ADDRESS = "94.142.240.1"
NL_ABUSE = "abuse@nl-hosting.example"
# A host in the same network whose notices go to a provider's abuse API (the demo's FakeAbuseAPI):
# `demo_provider_api` gives it, by a domain rule, to a provider on the provider API channel with
# this account and token (the same literals as that command's, which may not import devnet).
API_HOST = "files.example.net"
DEMO_API_ACCOUNT = "demo-account"
DEMO_API_TOKEN = "demo-token"  # noqa: S105 -- a local peer's made-up token
# The names the web host's certificate covers: every demo host is one of these or one label below.
DEMO_WEB_NAMES = ("example.com", "*.example.com", "example.net", "*.example.net", "example.org", "*.example.org")


def demo_peers(
    host: str = "127.0.0.1",
    *,
    dns_port: int = 0,
    rdap_port: int = 0,
    web_port: int = 0,
    cert_dir: Path | None = None,
    latency: float = 0.0,
) -> tuple[FakeDNS, FakeRDAP, FakeHTTP]:
    """The demo's DNS, RDAP and web peers, loaded and not yet started (0 picks a free port).

    The web host keeps its certificate in ``cert_dir`` (where ``SCART_CHECK_CA_FILE`` points in
    demo mode). Without the ``openssl`` command it speaks plain HTTP only: https checks then end
    unreachable (a TLS failure), still without a packet leaving the machine.
    """
    dns = FakeDNS(host, dns_port, latency=latency)
    dns.load(demo_zone())
    load_recorded_cymru(dns)
    rdap = FakeRDAP(host, rdap_port, latency=latency)
    rdap.load_recorded()
    load_demo_nl_network(dns, rdap)
    for domain in demo_domains():
        rdap.add_domain(domain)
    web = FakeHTTP(
        host,
        web_port,
        latency=latency,
        tls=have_openssl(),
        tls_names=DEMO_WEB_NAMES,
        cert_dir=cert_dir,
        also_plain=True,
        default_status=200,
    )
    return dns, rdap, web


def demo_abuse_api(host: str = "127.0.0.1", port: int = 0, *, accept_after: float | None = 120.0) -> FakeAbuseAPI:
    """The demo's abuse-reports API, not yet started: the demo account, and reports that read
    accepted ``accept_after`` seconds after they came in (so the notice page shows the status move)."""
    return FakeAbuseAPI(host, port, accounts={DEMO_API_ACCOUNT: DEMO_API_TOKEN}, accept_after=accept_after)


def demo_zone() -> dict[str, dict[str, list[str]]]:
    """``{"name": {"TYPE": [values]}}`` for ``FakeDNS.load`` (or, as JSON, ``--zone``)."""
    return {
        "example.com": {"A": ["74.125.225.229"], "AAAA": ["2001:4860:4860::8888"]},
        "www.example.com": {"CNAME": ["example.com."]},
        "www.example.org": {"CNAME": ["cdn.example.net."]},
        "cdn.example.net": {"CNAME": ["edge.cdn.example.net."]},
        "edge.cdn.example.net": {"A": ["62.239.237.1"], "AAAA": ["2a00:2381:ffff::1"]},
        "example.org": {"A": ["200.57.141.161"]},
        "example.net": {"A": ["196.11.240.215"]},
        "mail.example.net": {"A": ["210.107.73.73"]},
        "v6only.example.org": {"AAAA": ["2001:240:10c:1::ca20:9d1d"]},
        "ix.example.net": {"AAAA": ["2001:43f8:7b0::"]},
        "unrouted.example.org": {"AAAA": ["2801:10:c000::"]},
        NL_HOST: {"A": [NL_ADDRESS]},
        API_HOST: {"A": [NL_ADDRESS]},
    }


# The edited RIPE answer's names and mailboxes, and the demo's in their place.
_NL_RENAMES = {
    "Netwerkvereniging Coloclue": "Demo Hosting B.V.",
    "Coloclue Network Committee": "Demo Hosting Network Team",
    "Coloclue Abuse": "Demo Hosting Abuse",
    "coloclue-mnt": "demo-hosting-mnt",
    "COLOCLUE-NET": "DEMO-HOSTING-NET",
    "ops@coloclue.net": "ops@nl-hosting.example",
    "routers@coloclue.net": "routers@nl-hosting.example",
    "abuse@coloclue.net": NL_ABUSE,
}


def load_demo_nl_network(dns: FakeDNS, rdap: FakeRDAP) -> None:
    """The registries' answers for ``NL_ADDRESS``: its Team Cymru origin and AS name on the DNS
    peer, `demo_nl_network` on the RDAP peer."""
    nl = edited_networks()[NL_ADDRESS]["asn_data"]
    add_origin(dns, NL_ADDRESS, asn=nl["asn"], cidr=nl["asn_cidr"], country="NL", registry=nl["asn_registry"])
    add_asn_name(dns, nl["asn"], country="NL", registry=nl["asn_registry"], name="DEMO-HOSTING-AS, NL")
    rdap.add_network(demo_nl_network())


def demo_nl_network() -> dict[str, Any]:
    """The RDAP ip network object of ``NL_HOST``: RIPE's shape (a registrant maintainer, the
    organisation, an abuse-c whose vCard marks the abuse mailbox with ``type: abuse``) and country
    NL, naming only the demo's organisation and ``.example`` mailboxes."""

    def renamed(value: Any) -> Any:
        if isinstance(value, str):
            return _NL_RENAMES.get(value, value)
        if isinstance(value, list):
            return [renamed(v) for v in value]
        if isinstance(value, dict):
            return {k: renamed(v) for k, v in value.items()}
        return value

    network: dict[str, Any] = renamed(copy.deepcopy(edited_networks()[NL_ADDRESS]["response"]))
    network["remarks"] = [{"description": ["Demo Hosting B.V. (scart demo data)"]}]
    return network


def demo_domains() -> list[dict[str, Any]]:
    """RDAP domain objects for example.com, example.net and example.org, registered to IANA.

    Shaped like the registries' answers (Verisign writes names in upper case, PIR in lower case):
    the registrar is an entity with role "registrar" and an abuse entity nested inside it.
    """
    return [
        _domain("EXAMPLE.COM", "2336799_DOMAIN_COM-VRSN", "1995-08-14T04:00:00Z", "Verisign"),
        _domain("EXAMPLE.NET", "208605_DOMAIN_NET-VRSN", "1995-08-14T04:00:00Z", "Verisign"),
        _domain("example.org", "D2328855-LROR", "1995-08-31T04:00:00Z", "Public Interest Registry"),
    ]


def _domain(ldh_name: str, handle: str, registered: str, registry: str) -> dict[str, Any]:
    return rdap_objects.domain(
        ldh_name,
        handle=handle,
        conformance=["rdap_level_0", "icann_rdap_technical_implementation_guide_1"],
        status=["client delete prohibited", "client transfer prohibited", "client update prohibited"],
        entities=[
            rdap_objects.registrar(
                "RESERVED-Internet Assigned Numbers Authority",
                handle="376",
                iana_id="376",
                abuse=rdap_objects.abuse_role("abuse@iana.org", name="", tel="tel:+1.3108239358"),
            )
        ],
        events=[
            {"eventAction": "registration", "eventDate": registered},
            {"eventAction": "expiration", "eventDate": "2026-08-13T04:00:00Z"},
            {"eventAction": "last changed", "eventDate": "2025-08-14T07:01:39Z"},
        ],
        secureDNS={"delegationSigned": True},
        nameservers=rdap_objects.nameservers("A.IANA-SERVERS.NET", "B.IANA-SERVERS.NET"),
        notices=[
            {
                "title": "Terms of Use",
                "description": [f"Replayed by FakeRDAP in the shape of the {registry} RDAP service."],
            }
        ],
    )
