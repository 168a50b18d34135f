"""What the benches' worlds share: the local peers of `devnet` in processes of their own, the
address plan of the synthetic providers, the DNS and RDAP answers of a world of hosts, networks
and domains (built with `devnet.registries` and `devnet.cymru`), and an analyst made through
`devnet.seed`.

A peer runs outside the bench process so that its Python work (parsing and rendering every query)
does not compete with scart for the bench process's GIL. Its body is a function ``target(conn,
*args)`` that starts the peer, then calls `serve` with its address and the commands it answers.
"""

from __future__ import annotations

import ipaddress
import multiprocessing
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, suppress
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection
from typing import Any

from bench._harness import BenchError, require_loopback
from devnet.registries import Asn, Network

# --- peer processes ---------------------------------------------------------------------------


class Peer:
    """A peer process running ``target(conn, *args)``, which sends its address first, and the
    pipe to it."""

    def __init__(self, name: str, target: Callable[..., None], *args: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self.conn, child = context.Pipe()
        self.process = context.Process(target=target, args=(child, *args), name=f"bench-{name}", daemon=True)
        self.process.start()
        child.close()
        deadline = time.monotonic() + 120
        while not self.conn.poll(0.2):
            if not self.process.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise BenchError(f"the {name} peer did not start (exit code {self.process.exitcode})")
        try:
            self.address: str = self.conn.recv()
        except EOFError:
            self.stop()
            raise BenchError(f"the {name} peer failed to start (exit code {self.process.exitcode})") from None
        require_loopback(f"the {name} peer", self.address if "://" in self.address else f"x://{self.address}")

    def ask(self, command: str) -> Any:
        """Send ``command`` (one the peer answers) and return the answer."""
        self.conn.send(command)
        return self.conn.recv()

    def stop(self) -> None:
        with suppress(OSError, BrokenPipeError):
            self.conn.send("stop")
        self.process.join(timeout=10)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join(timeout=5)


class Peers(ExitStack):
    """The peers of a run: each started by `start`, all stopped when the block ends."""

    def start(self, name: str, target: Callable[..., None], *args: Any) -> Peer:
        peer = Peer(name, target, *args)
        self.callback(peer.stop)
        return peer


def serve(conn: Connection, address: str, answers: Mapping[str, Callable[[], Any]]) -> None:
    """The loop of a peer process: send ``address``, then answer each command of ``answers`` with
    what its function returns, until "stop" or until the bench goes away."""
    conn.send(address)
    while True:
        try:
            command = conn.recv()
        except EOFError:  # the bench went away
            break
        if command == "stop":
            break
        if command in answers:
            conn.send(answers[command]())


def since_last(log: list[Any]) -> Callable[[], list[Any]]:
    """An answer for `serve`: the entries of ``log`` (a peer's queries) since the last call."""
    seen = [0]

    def entries() -> list[Any]:
        end = len(log)
        new = log[seen[0] : end]
        seen[0] = end
        return new

    return entries


# --- the address plan and the lookups of a world -----------------------------------------------


def network_of(index: int, asn: Asn) -> Network:
    """The ``index``-th /24 of the benches' address plan: the first octet of its AS's registry,
    then x.20.0.0/24 onwards."""
    block = ipaddress.IPv4Network(f"{asn.registry.first_octet}.{20 + index // 256}.{index % 256}.0/24")
    return Network(index, block, asn)


@dataclass(frozen=True)
class Lookups:
    """What the DNS and RDAP peers answer for a world: its hosts (name, address, network), each
    network's origin and AS name over DNS (Team Cymru) and its RDAP object, and the registrable
    domains (domain: registrar) over RDAP."""

    hosts: Sequence[tuple[str, str, Network]]
    networks: Sequence[Network]
    domains: Mapping[str, int]
    ttl: int | None = None  # of the hosts' A records (None: the peer's default)


def serve_lookups(conn: Connection, kind: str, build: Callable[[Any], Lookups], args: Any, latency: float) -> None:
    """Body of the DNS ("dns") or RDAP ("rdap") peer process: the `Lookups` that ``build(args)``
    gives (the same in every process), until told to stop. "log" answers the DNS questions or
    RDAP paths received since the last "log"."""
    from devnet.cymru import add_asn_name, add_origin
    from devnet.dns import FakeDNS
    from devnet.rdap import FakeRDAP
    from devnet.registries import domain_object, network_object

    world = build(args)
    if kind == "dns":
        dns = FakeDNS(latency=latency)
        for name, ip, network in world.hosts:
            dns.add(name, "A", ip, **({"ttl": world.ttl} if world.ttl is not None else {}))
            asn = network.asn
            add_origin(
                dns,
                ip,
                asn=str(asn.number),
                cidr=str(network.block),
                country=asn.country,
                registry=asn.registry.name,
                date="2011-02-08",
            )
        for asn in {network.asn for network in world.networks}:
            name = f"BENCH-AS{asn.provider} Bench Provider {asn.provider}, {asn.country}"
            add_asn_name(dns, str(asn.number), country=asn.country, registry=asn.registry.name, name=name)
        with dns:
            serve(conn, dns.address, {"log": since_last(dns.queries)})
        return
    rdap = FakeRDAP(latency=latency)
    for network in world.networks:
        obj, contacts = network_object(network)
        rdap.add_network(obj)
        for contact in contacts:
            rdap.add_entity(contact)
    for domain, registrar in world.domains.items():
        rdap.add_domain(domain_object(domain, registrar))
    with rdap:
        serve(conn, rdap.base_url, {"log": since_last(rdap.requests)})


# --- people -----------------------------------------------------------------------------------


def analyst(username: str, password: str, *, role: str = "analyst") -> tuple[Any, Any]:
    """An analyst made by `devnet.seed.staff_user` with the group of ``role`` ("analyst",
    "senior"), or the one a kept database has already, and a confirmed TOTP device: the user and
    the device."""
    from django.contrib.auth import get_user_model

    from accounts.devices import StaffDevice
    from devnet.seed import staff_user

    user = get_user_model().objects.filter(username=username).first() or staff_user(username, role, password=password)
    device = StaffDevice.objects.filter(user=user, confirmed=True).first() or StaffDevice.objects.create(
        user=user, name="bench", confirmed=True
    )
    return user, device


def analyst_client(username: str, *, role: str = "analyst") -> Any:
    """A test client logged in as `analyst` ``username`` with ``role``, both factors passed."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    user, device = analyst(username, "a long enough bench password 1", role=role)
    client = Client(SERVER_NAME="127.0.0.1")
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def insert_rows(table: str, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
    """``COPY`` on PostgreSQL, ``executemany`` elsewhere (datetimes as the backend stores them)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        adapt = connection.ops.adapt_datetimefield_value
        marks = ", ".join(["%s"] * len(columns))
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})",
            [tuple(adapt(v) if isinstance(v, datetime) else v for v in row) for row in rows],
        )
