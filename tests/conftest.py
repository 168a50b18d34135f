"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests import factories
from tests.fakenet.dns import FakeDNS


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(scope="session")
def fake_dns() -> Iterator[FakeDNS]:
    with FakeDNS() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_real_dns(settings, fake_dns: FakeDNS) -> Iterator[None]:
    """Nothing in the suite may query a real nameserver: every resolver talks to the local peer,
    whose zone starts empty for each test."""
    settings.SCART_DNS_NAMESERVERS = [fake_dns.address]
    settings.SCART_DNS_TIMEOUT = 0.5
    settings.SCART_DNS_LIFETIME = 1.0
    yield
    fake_dns.clear()


@pytest.fixture
def partner_key(db) -> tuple[factories.Partner, str]:
    return factories.partner_with_key()


@pytest.fixture
def api(partner_key) -> APIClient:
    """An API client authenticated with a partner's key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {partner_key[1]}")
    return client
