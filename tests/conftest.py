"""Fixtures shared by the whole suite."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.test import Client
from django.utils import translation
from rest_framework.test import APIClient

from devnet.dns import FakeDNS
from devnet.rdap import FakeRDAP
from routing.resolution.state import PROCESS
from scart.catalogue import catalogue_compile
from tests import factories


def pytest_configure(config: pytest.Config) -> None:
    """Pages are tested in Dutch too: compile the catalogue a fresh clone does not have yet."""
    catalogue_compile()


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    """Rate-limit counters live in the cache; every test starts with none."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def _english_first() -> Iterator[None]:
    """Every test starts in the default language, whatever an earlier one (a page in Dutch, a
    management command) left active in this thread."""
    translation.activate(django_settings.LANGUAGE_CODE)
    yield
    translation.activate(django_settings.LANGUAGE_CODE)


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


@pytest.fixture(scope="session")
def fake_rdap() -> Iterator[FakeRDAP]:
    with FakeRDAP() as server:
        yield server


@pytest.fixture(autouse=True)
def _no_real_rdap(settings, fake_rdap: FakeRDAP) -> Iterator[None]:
    """Every registry query goes to the local RDAP peer, which starts empty for each test; the
    process's RDAP client (its rate-limit state) and its in-memory block caches are made anew."""
    settings.SCART_RDAP_BASE_URL = fake_rdap.base_url
    settings.SCART_RDAP_DNS_BOOTSTRAP_URL = f"{fake_rdap.base_url}/dns.json"
    settings.SCART_RDAP_TIMEOUT = 2.0
    settings.SCART_RDAP_RATE = 0.0
    PROCESS.reset()
    yield
    fake_rdap.clear()
    PROCESS.reset()


@pytest.fixture
def recorded_registry(fake_dns: FakeDNS, fake_rdap: FakeRDAP) -> None:
    """The recorded answers of the five RIRs: RDAP objects on the RDAP peer, Team Cymru origin
    and AS records on the DNS peer."""
    from devnet.cymru import load_recorded_cymru

    fake_rdap.load_recorded()
    load_recorded_cymru(fake_dns)


def staff_login(client: Any, user: Any) -> Any:
    """Log ``user`` in on ``client`` as if they had passed both factors (a confirmed TOTP device
    and its id in the session, as django-otp keeps it)."""
    from django_otp import DEVICE_ID_SESSION_KEY

    from accounts.devices import StaffDevice

    device = StaffDevice.objects.filter(user=user, confirmed=True).first() or StaffDevice.objects.create(
        user=user, name="test", confirmed=True
    )
    client.force_login(user)
    session = client.session
    session[DEVICE_ID_SESSION_KEY] = device.persistent_id
    session.save()
    return client


def staff_client(username: str, role: str | None = "analyst") -> Client:
    """A new client logged in (both factors) as a new staff user with ``role``: for a test that
    needs a second role beside the fixture's."""
    return staff_login(Client(), factories.staff_user(username, role))


def _logged_in_role(client: Any, username: str, role: str) -> Any:
    """A staff user with ``role`` logged in (both factors) on ``client``. One user per client: two
    role fixtures in one test would share it, so the second role takes `staff_client`."""
    if "_auth_user_id" in client.session:
        raise RuntimeError("the client is already logged in; use staff_client() for a second role")
    user = factories.staff_user(username, role)
    staff_login(client, user)
    return user


@pytest.fixture
def analyst(client):
    """An analyst ("ana") logged in on ``client``."""
    return _logged_in_role(client, "ana", "analyst")


@pytest.fixture
def senior(client):
    """A senior analyst ("sen") logged in on ``client``."""
    return _logged_in_role(client, "sen", "senior")


@pytest.fixture
def admin_client(client):
    """A client logged in (both factors) as a superuser ("boss")."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_superuser("boss", password="correct horse battery staple")
    return staff_login(client, user)


@pytest.fixture
def partner_key(db) -> tuple[factories.Partner, str]:
    return factories.partner_with_key()


@pytest.fixture
def api(partner_key) -> APIClient:
    """An API client authenticated with a partner's key."""
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {partner_key[1]}")
    return client
