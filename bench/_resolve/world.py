"""The resolution bench's world: ``--networks`` /24s of the benches' address plan announced by
``--asns`` ASes over the five registries, ``--hosts`` host names on ``--domains`` registrable
domains, and ``--urls`` URLs on them; and what the DNS and RDAP peers answer for it."""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field

from bench._harness import BenchError
from bench._world import Lookups, network_of
from devnet.registries import REGISTRIES, Asn, Network

# Top-level domains of the registrable domains. scart refuses the reserved .example/.test TLDs,
# and example.com/net/org are one registrable domain each; so the domains are invented names
# under ordinary TLDs. They are only ever asked of the local peers.
TLDS = ("com", "net", "org", "nl", "de", "be", "eu", "info")


@dataclass(frozen=True, slots=True)
class Host:
    name: str
    ip: str
    network: Network
    domain: str
    registrar: int


@dataclass
class World:
    asns: list[Asn]
    networks: list[Network]
    hosts: list[Host]
    domains: dict[str, int]  # registrable domain: registrar
    urls: list[str]  # in the order they are reported
    host_of_url: dict[str, Host] = field(repr=False)


def build_world(args: argparse.Namespace) -> World:
    """The same world for the same arguments, in the bench and in the peer processes."""
    asns = []
    for a in range(args.asns):
        registry = REGISTRIES[a % len(REGISTRIES)]
        country = registry.countries[(a // len(REGISTRIES)) % len(registry.countries)]
        asns.append(Asn(64600 + a, registry, country, provider=a))
    networks = []
    for n in range(args.networks):
        network = network_of(n, asns[n % len(asns)])
        if not network.block.network_address.is_global:
            raise BenchError(f"{network.block} is not global space")
        networks.append(network)
    hosts = []
    domains: dict[str, int] = {}
    for h in range(args.hosts):
        network = networks[h % len(networks)]
        ip = str(network.block.network_address + 1 + h // len(networks))
        d = h % args.domains
        domain = f"scart-bench-{d:04d}.{TLDS[d % len(TLDS)]}"
        registrar = d % args.registrars
        domains[domain] = registrar
        hosts.append(Host(f"h{h}.{domain}", ip, network, domain, registrar))
    urls = []
    host_of_url = {}
    for i in range(args.urls):
        host = hosts[i % len(hosts)]
        url = f"https://{host.name}/bench/{i // len(hosts)}/page-{i}.html"
        urls.append(url)
        host_of_url[url] = host
    random.Random(f"{args.seed}:urls").shuffle(urls)
    return World(asns, networks, hosts, domains, urls, host_of_url)


def lookups(args: argparse.Namespace) -> Lookups:
    """Every host (its A record, its network's origin and AS name), every network and every domain."""
    world = build_world(args)
    return Lookups([(host.name, host.ip, host.network) for host in world.hosts], world.networks, world.domains)
