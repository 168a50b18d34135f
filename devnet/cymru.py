"""Team Cymru's IP-to-ASN DNS zones, served by ``FakeDNS`` as ipwhois queries them.

ipwhois (``ipwhois.net.Net.get_asn_dns`` and ``get_asn_verbose_dns``) asks two TXT questions:

- the origin of an address, at the reversed address under ``origin.asn.cymru.com`` (IPv4, by
  octet) or ``origin6.asn.cymru.com`` (IPv6, by nibble of the exploded address *after* its
  trailing all-zero groups are dropped), answered ``"ASN | CIDR | CC | registry | date"``;
  an address no AS announces answers ``"NA | NA | CC | registry | date"``;
- the name of an AS at ``AS{n}.asn.cymru.com``, answered
  ``"ASN | CC | registry | date | name"``.

Real Cymru answers for any address inside an announced prefix; ``add_origin`` adds the record
for one address only, because FakeDNS has no wildcards.
"""

from __future__ import annotations

import ipaddress

from devnet.dns import FakeDNS
from devnet.rdap import recorded_networks

# Names of the ASes of the recorded registry answers. The fixtures do not carry them: these are
# invented in Cymru's style (handle, organisation, country), with plausible allocation dates.
RECORDED_AS_NAMES: dict[str, tuple[str, str, str, str]] = {  # ASN: (country, registry, date, name)
    "2497": ("JP", "apnic", "1997-07-08", "IIJ Internet Initiative Japan Inc., JP"),
    "2856": ("GB", "ripencc", "1993-09-01", "BT-UK-AS BTnet UK Regional network, GB"),
    "3786": ("KR", "apnic", "1994-11-25", "LGDACOM LG DACOM Corporation, KR"),
    "12091": ("ZA", "afrinic", "1999-03-17", "MTNNS-AS, ZA"),
    "15169": ("US", "arin", "2000-03-30", "GOOGLE - Google LLC, US"),
    "19373": ("MX", "lacnic", "2000-12-04", "Triara.com, S.A. de C.V., MX"),
    "37578": ("KE", "afrinic", "2007-12-18", "TESPOK-AS, KE"),
}


def cymru_origin_name(ip: str) -> str:
    """The name ipwhois asks TXT records of for ``ip``, with the final dot, as ``Net.dns_zone`` has it."""
    address = ipaddress.ip_address(ip)
    if address.version == 4:
        return ".".join(reversed(str(address).split("."))) + ".origin.asn.cymru.com."
    groups = address.exploded.split(":")
    while groups and groups[-1] == "0000":
        groups.pop()  # Cymru times out on trailing zero groups, so ipwhois leaves them out
    return ".".join(reversed("".join(groups))) + ".origin6.asn.cymru.com."


def add_origin(
    dns: FakeDNS,
    ip: str,
    *,
    asn: str,
    cidr: str,
    country: str,
    registry: str,
    date: str = "",
) -> None:
    """Add the origin TXT record for ``ip``: ``"15169 | 74.125.225.0/24 | US | arin | 2007-03-13"``.

    An unannounced address has ``asn`` and ``cidr`` "NA". Adding several records for one address
    (overlapping announcements) is allowed; ipwhois picks the longest prefix.
    """
    dns.add(cymru_origin_name(ip), "TXT", f"{asn} | {cidr} | {country} | {registry} | {date}")


def add_asn_name(dns: FakeDNS, asn: str, *, country: str, registry: str, name: str, date: str = "") -> None:
    """Add ``AS{asn}.asn.cymru.com`` TXT ``"15169 | US | arin | 2000-03-30 | GOOGLE - Google LLC, US"``."""
    number = asn.removeprefix("AS").removeprefix("as")
    dns.add(f"AS{number}.asn.cymru.com", "TXT", f"{number} | {country} | {registry} | {date} | {name}")


def load_recorded_cymru(dns: FakeDNS) -> None:
    """Add the origin of each of the ten recorded IPs (``asn_data`` of ``rdap.json``) and its AS name."""
    names: set[str] = set()
    for ip, recorded in recorded_networks().items():
        data = recorded["asn_data"]
        add_origin(
            dns,
            ip,
            asn=data["asn"],
            cidr=data["asn_cidr"],
            country=data["asn_country_code"],
            registry=data["asn_registry"],
            date=data["asn_date"],
        )
        if data["asn"] != "NA":
            names.add(data["asn"])
    for asn in sorted(names):
        country, registry, date, name = RECORDED_AS_NAMES[asn]
        add_asn_name(dns, asn, country=country, registry=registry, name=name, date=date)
