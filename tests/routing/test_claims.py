# mypy: disable-error-code="union-attr, index"
"""Registry lookups claimed across worker processes: two workers that meet the same new network or
registrable domain at the same time ask its registry once, and a worker waiting for another's
answer asks itself when that worker fails or dies.

Each simulated worker process has its own process state (block memos, lookups in flight) and its
own RDAP client; they share the database and the cache, as worker processes do (the tests'
local-memory cache stands in for Redis)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection

import routing.resolution.claims
from devnet import rdap_objects
from devnet.rdap import recorded_networks
from routing.models import DomainLookup, NetworkLookup
from routing.resolution.claims import claim_key
from routing.resolution.lookups import Lookups
from routing.resolution.rdap_client import RdapClient
from routing.resolution.state import ProcessState

pytestmark = pytest.mark.django_db(transaction=True)

ADDRESSES = ["62.239.237.1", "200.57.141.161", "74.125.225.229", "196.11.240.215"]


def test_two_workers_meeting_the_same_new_networks_ask_each_registry_once(fake_dns, fake_rdap, recorded_registry):
    fake_rdap.latency = 0.2  # both workers are still waiting for the first answers when the other starts

    first, second = _at_once(lambda lookups: lookups.addresses(ADDRESSES), workers=2)

    for ip in ADDRESSES:
        assert fake_rdap.requests.count(f"/ip/{ip}") == 1
        assert first[ip].network is not None and first[ip].network.handle == second[ip].network.handle
        assert first[ip].asn.asn == second[ip].asn.asn
    origin_questions = [q for q in fake_dns.queries if q[0].endswith(".origin.asn.cymru.com")]
    assert len(origin_questions) == len(set(origin_questions)) == len(ADDRESSES)
    assert NetworkLookup.objects.count() >= len(ADDRESSES)


def test_two_workers_meeting_the_same_new_domains_ask_each_registry_once(fake_dns, fake_rdap):
    fake_rdap.add_domain(_domain("example.co.uk", "Example Registrar"))
    fake_rdap.add_domain(_domain("example.nl", "Another Registrar"))
    fake_rdap.latency = 0.2
    domains = ["example.co.uk", "example.nl", "unregistered.example"]

    first, second = _at_once(lambda lookups: lookups.registrars(domains), workers=2)

    assert first == second
    assert first["example.co.uk"]["name"] == "Example Registrar"
    assert "not found" in first["unregistered.example"]["error"]
    for domain in domains:
        assert fake_rdap.requests.count(f"/domain/{domain}") == 1
    # The negative answer is cached as before, by whichever worker stored it.
    assert DomainLookup.objects.get(domain="unregistered.example").error


def test_a_waiter_asks_itself_when_the_worker_it_waits_for_fails(fake_dns, fake_rdap, recorded_registry):
    fake_rdap.set_behaviour("/ip/62.239.237.1", "503", times=1)  # the first to ask fails
    fake_rdap.latency = 0.3

    results = _at_once(lambda lookups: lookups.addresses(["62.239.237.1"])["62.239.237.1"], workers=2)

    # A transient failure is not handed on: the other worker asked itself, and got the answer.
    assert fake_rdap.requests.count("/ip/62.239.237.1") == 2
    failed = [info for info in results if info.transient]
    answered = [info for info in results if info.network is not None]
    assert len(failed) == 1 and "HTTP 503" in failed[0].error
    assert len(answered) == 1 and answered[0].network.handle == _recorded_handle("62.239.237.1")
    assert NetworkLookup.objects.filter(data__handle=_recorded_handle("62.239.237.1")).exists()


def test_a_claim_left_by_a_worker_that_died_runs_out_and_the_waiter_asks(fake_dns, fake_rdap):
    fake_rdap.add_domain(_domain("example.co.uk", "Example Registrar"))
    # What a worker that died while asking leaves behind: its claim, until the claim's time runs out.
    cache.add(claim_key("domain:example.co.uk"), {"owner": "a worker that died"}, timeout=1)
    started = time.monotonic()

    answer = _worker().registrars(["example.co.uk"])["example.co.uk"]

    assert answer["name"] == "Example Registrar"
    assert time.monotonic() - started >= 0.5  # it waited for the claim, then asked itself
    assert fake_rdap.requests.count("/domain/example.co.uk") == 1


def test_nobody_waits_longer_than_a_claim_lasts_even_for_one_that_never_ends(fake_dns, fake_rdap, monkeypatch):
    fake_rdap.add_domain(_domain("example.co.uk", "Example Registrar"))
    monkeypatch.setattr(routing.resolution.claims, "LOOKUP_CLAIM_SECONDS", 1)
    cache.set(claim_key("domain:example.co.uk"), {"owner": "a broken worker"}, timeout=None)

    answer = _worker().registrars(["example.co.uk"])["example.co.uk"]

    assert answer["name"] == "Example Registrar"
    assert fake_rdap.requests.count("/domain/example.co.uk") == 1


def test_a_forced_lookup_asks_even_while_another_worker_holds_the_claim(fake_dns, fake_rdap):
    fake_rdap.add_domain(_domain("example.co.uk", "Example Registrar"))
    cache.add(claim_key("domain:example.co.uk"), {"owner": "another worker"}, timeout=60)

    answer = _worker(refresh=True).registrars(["example.co.uk"])["example.co.uk"]

    assert answer["name"] == "Example Registrar"
    assert fake_rdap.requests.count("/domain/example.co.uk") == 1


# -- helpers -------------------------------------------------------------------------------------


def _worker(*, refresh: bool = False) -> Lookups:
    """The lookups of one worker process: its own process state and RDAP client."""
    from django.conf import settings

    client = RdapClient(base_url=settings.SCART_RDAP_BASE_URL, timeout=2.0, rate=0.0)
    return Lookups(client=client, process=ProcessState.new(), refresh=refresh)


def _at_once(work: Callable[[Lookups], Any], *, workers: int) -> list[Any]:
    """``work`` run by that many simulated worker processes, started together."""
    results: list[Any] = [None] * workers
    errors: list[BaseException] = []
    start = threading.Barrier(workers)

    def run(index: int) -> None:
        try:
            lookups = _worker()
            start.wait()
            results[index] = work(lookups)
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


def _recorded_handle(ip: str) -> str:
    return str(recorded_networks()[ip]["response"]["handle"])


def _domain(name: str, registrar: str) -> dict[str, Any]:
    return rdap_objects.domain(name, entities=[rdap_objects.registrar(registrar, handle=f"REG-{registrar}")])
