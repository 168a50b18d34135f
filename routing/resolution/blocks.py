"""The block caches of a batch: the ASN (Team Cymru) and the RDAP network of an address, cached
per CIDR block, so that an address inside a cached block costs nothing.

Uncached addresses are looked up in rounds: one address per probable network (the announced
prefix, else the /24 or /48) first, then only those the answers did not cover. A probable network
is asked once at a time by the threads of a process (`SingleFlight`), and once by all workers (a
claim in the shared cache, `routing.resolution.claims`).
"""

from __future__ import annotations

import ipaddress
import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.utils import timezone

from routing.models import CidrRow
from routing.resolution.addresses import (
    BlockKey,
    IPAddress,
    IPNetwork,
    block_key,
    candidate_keys,
    group_key,
    most_specific,
    parse_networks,
)
from routing.resolution.batch import Batch
from routing.resolution.claims import claimed
from routing.resolution.memo import BlockMemo
from routing.resolution.rdap import AsnInfo, LookupTransient, NotGlobal, lookup_asn, lookup_network
from routing.resolution.rdap_client import RdapError

log = logging.getLogger(__name__)

# Blocks wider than this are never cached as one network.
_WIDEST = {4: 8, 6: 19}


@dataclass(frozen=True)
class BlockAnswer:
    """What a registry said when asked about the address ``asked``: the blocks the answer covers
    (none when it names none), its data, or the error and whether it may pass."""

    asked: str
    blocks: tuple[IPNetwork, ...] = ()
    data: dict[str, Any] | None = None
    error: str = ""
    transient: bool = False
    retry_after: float | None = None

    def covers(self, address: IPAddress) -> bool:
        return any(address in block for block in self.blocks)


@dataclass(frozen=True)
class BlockFound:
    """The answer for one address from a block cache: the block's data (None for a failure) and
    its error; ``transient`` when the lookup failed and may succeed later."""

    data: dict[str, Any] | None
    error: str
    transient: bool = False
    retry_after: float | None = None


def narrow(block: IPNetwork, address: IPAddress) -> IPNetwork:
    """``block``, or the /24 (/48) of ``address`` inside it when ``block`` is wider."""
    neighbourhood = 24 if address.version == 4 else 48
    if block.prefixlen >= neighbourhood:
        return block
    return ipaddress.ip_network((address, neighbourhood), strict=False)


def network_group(asn: AsnInfo | None, address: IPAddress) -> str:
    """An address's probable network, to ask its registry once for: the announced prefix, else
    the /24 (or /48)."""
    return asn.prefix if asn is not None and asn.prefix else group_key(address)


class BlockLookups:
    """The ASN and network lookups of a batch (`Lookups.addresses`)."""

    def __init__(self, batch: Batch) -> None:
        self.batch = batch

    def ask(self, model: type[CidrRow], group: str, ip: str, fetch: Callable[[str], BlockAnswer]) -> BlockAnswer:
        """The answer for ``ip``'s probable network ``group``: asked once at a time by the threads
        of this process, and once by all workers (a claim in the shared cache). The answer may be
        about another address of the group (``asked``; see `answers`)."""
        if self.batch.refresh:
            return fetch(ip)
        name = f"{model.__name__}:{group}"
        return self.batch.process.block_flights.run(
            name,
            lambda: claimed(
                name,
                lambda: fetch(ip),
                shareable=lambda answer: not answer.transient,
                cache=self.batch.process.cache(),
            ),
        )

    def answers(
        self,
        model: type[CidrRow],
        addresses: dict[str, IPAddress],
        *,
        group: Callable[[str], str],
        fetch: Callable[[str], BlockAnswer],
        ttl: int,
        memo: BlockMemo,
    ) -> tuple[dict[str, BlockFound], int]:
        """Answers per address for one kind of block cache (ASN or network): from this process's
        memory, else the database, else the registry (``fetch(ip)``); and how many registry
        lookups that took."""
        found: dict[str, BlockFound] = {}
        todo = dict(addresses)
        asked = 0

        def shared(ip: str) -> BlockAnswer:
            """``fetch(ip)``, unless another thread or worker is already asking about the same
            probable network (or asked lately): then its answer, when that answer covers ``ip``
            too (or failed transiently, as ours would)."""
            answer = self.ask(model, group(ip), ip, fetch)
            if answer.asked == ip or answer.transient or answer.covers(addresses[ip]):
                return answer
            return fetch(ip)

        if not self.batch.refresh:
            now = timezone.now()
            for ip, address in list(todo.items()):
                hit = memo.get(address, now)
                if hit is not None:
                    found[ip] = BlockFound(hit[0] or None, hit[1])
                    del todo[ip]
            cached = self.cached(model, todo)
            memo.put(cached.values())
            for ip, row in cached.items():
                found[ip] = BlockFound(row.data or None, row.error)
                del todo[ip]
        fresh: dict[IPNetwork, BlockFound] = {}  # block -> its answer
        failed_groups: dict[str, BlockFound] = {}
        first_round = True
        while todo:
            representatives: dict[str, str] = {}
            for ip in todo:
                # First one address per probable network; then every address left, at once.
                key = group(ip) if first_round else ip
                if group(ip) not in failed_groups:
                    representatives.setdefault(key, ip)
            first_round = False
            if not representatives:
                break
            answers = self.batch.map(shared, list(representatives.values()))
            asked += len(answers)
            new_rows: list[Any] = []
            for ip, answer in zip(representatives.values(), answers, strict=True):
                if answer.transient:
                    found[ip] = BlockFound(None, answer.error, True, answer.retry_after)
                    failed_groups[group(ip)] = found[ip]  # its neighbours would fail the same way
                    continue
                blocks = list(answer.blocks)
                if not answer.covers(addresses[ip]):
                    # A failure that names no block, or an answer about other addresses: it holds
                    # for this address only (and so every representative leaves `todo`).
                    blocks.append(ipaddress.ip_network(ip))
                data = answer.data
                expires = timezone.now() + timedelta(seconds=ttl if data else self.batch.config.failure_ttl)
                for block in blocks:
                    fresh[block] = BlockFound(data, answer.error)
                    new_rows.append(
                        model(
                            version=block.version,
                            start=block_key(block).start,
                            prefixlen=block.prefixlen,
                            cidr=str(block),
                            data=data or {},
                            error=answer.error,
                            expires_at=expires,
                        )
                    )
            self.store(model, new_rows)
            memo.put(new_rows)
            for ip in list(todo):
                best = most_specific(fresh, todo[ip])
                if best is not None:
                    found[ip] = fresh[best]
                    del todo[ip]
                elif ip in found:  # a representative that failed transiently
                    del todo[ip]
        for ip in todo:  # neighbours of a transient failure: try again later with it
            found[ip] = failed_groups.get(group(ip), BlockFound(None, "lookup deferred", True))
        return found, asked

    def known(
        self, model: type[CidrRow], memo: BlockMemo, addresses: dict[str, IPAddress]
    ) -> dict[str, dict[str, Any] | None]:
        """The cached data (None for a cached failure) of the addresses that have a live row, in
        this process's memory or else the database (and then kept in memory)."""
        now = timezone.now()
        known: dict[str, dict[str, Any] | None] = {}
        missing: dict[str, IPAddress] = {}
        for ip, address in addresses.items():
            hit = memo.get(address, now)
            if hit is None:
                missing[ip] = address
            else:
                known[ip] = hit[0] or None
        cached = self.cached(model, missing)
        memo.put(cached.values())
        for ip, row in cached.items():
            known[ip] = row.data or None
        return known

    def cached(self, model: type[CidrRow], addresses: dict[str, IPAddress]) -> dict[str, CidrRow]:
        """The most specific live row of the database holding each address (where one does)."""
        now = timezone.now()
        wanted: dict[str, list[BlockKey]] = {ip: candidate_keys(a) for ip, a in addresses.items()}
        hits: dict[str, CidrRow] = {}
        ips = list(wanted)
        for start in range(0, len(ips), 16):
            chunk = ips[start : start + 16]
            by_version: dict[int, set[str]] = defaultdict(set)
            for ip in chunk:
                for key in wanted[ip]:
                    by_version[key.version].add(key.start)
            rows: dict[BlockKey, CidrRow] = {}
            for version, starts in by_version.items():
                for row in model._default_manager.filter(version=version, start__in=starts, expires_at__gt=now):
                    rows[BlockKey(row.version, row.start, row.prefixlen)] = row
            for ip in chunk:
                for key in wanted[ip]:  # most specific first
                    if key in rows:
                        hits[ip] = rows[key]
                        break
        return hits

    def store(self, model: type[CidrRow], rows: list[Any]) -> None:
        if not rows:
            return
        unique = {(r.version, r.start, r.prefixlen): r for r in rows}
        model._default_manager.bulk_create(
            [unique[key] for key in sorted(unique)],  # key order: concurrent upserts cannot deadlock
            update_conflicts=True,
            unique_fields=["version", "start", "prefixlen"],
            update_fields=["cidr", "data", "error", "fetched_at", "expires_at"],
        )

    def fetch_asn(self, ip: str) -> BlockAnswer:
        try:
            with self.batch.in_flight.registry:
                info = lookup_asn(ip, resolver=self.batch.resolver)
        except LookupTransient as exc:
            return BlockAnswer(ip, error=str(exc), transient=True)
        except NotGlobal as exc:
            return BlockAnswer(ip, error=str(exc))
        except Exception as exc:  # an answer ipwhois cannot read: a fact about this address
            log.warning("reading the ASN of %s failed: %s", ip, exc)
            return BlockAnswer(ip, error=f"unreadable ASN answer: {exc}")
        address = ipaddress.ip_address(ip)
        try:
            announced = [b for b in parse_networks(info.prefix) if address in b] if info.prefix else []
        except ValueError:
            announced = []
        # A more specific prefix inside a wide announcement may have another origin: one answer
        # covers at most the address's /24 (or /48). Unannounced space: this address only.
        block = narrow(announced[0], address) if announced else ipaddress.ip_network(ip)
        return BlockAnswer(ip, (block,), info.as_dict())

    def fetch_network(self, ip: str, registry: str) -> BlockAnswer:
        try:
            network = lookup_network(
                ip, registry=registry, client=self.batch.client, in_flight=self.batch.in_flight.registry
            )
        except RdapError as exc:
            return BlockAnswer(ip, error=str(exc), transient=exc.transient, retry_after=exc.retry_after)
        except NotGlobal as exc:
            return BlockAnswer(ip, error=str(exc))
        except Exception as exc:  # a malformed network object: a fact about this address
            log.warning("reading the RDAP network of %s failed: %s", ip, exc)
            return BlockAnswer(ip, error=f"unreadable RDAP answer: {exc}")
        address = ipaddress.ip_address(ip)
        blocks = [ipaddress.ip_network(c) for c in network.cidrs]
        containing = [b for b in blocks if address in b]
        if not containing:
            # A registry answering with a network that does not contain the address: trust it
            # for this address only.
            return BlockAnswer(ip, (ipaddress.ip_network(ip),), network.as_dict())
        if not network.leaf or any(b.prefixlen < _WIDEST[b.version] for b in blocks):
            # An allocation may hold reassignments to other operators, and a huge range is not a
            # network: let the answer cover only the neighbourhood of this address.
            return BlockAnswer(ip, (narrow(containing[0], address),), network.as_dict())
        return BlockAnswer(ip, tuple(blocks), network.as_dict())


__all__ = ["BlockAnswer", "BlockFound", "BlockLookups", "narrow", "network_group"]
