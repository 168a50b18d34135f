"""Browser tests: Playwright's sync API driving Debian's Chromium (/usr/bin/chromium, installed by
tests/browser/ensure_chromium.sh; Playwright's own browser download is not used) against
pytest-django's `live_server`. One browser per session, a fresh context (cookies, storage) per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from devnet.chromium import CHROMIUM, launch_options
from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from tests.world import World, build_world, world_settings

# Playwright's sync API runs an asyncio event loop in this thread (in a greenlet) from the moment
# the session's browser starts until the session ends, so Django sees a running loop and raises
# SynchronousOnlyOperation for every ORM call made in the test thread (fixtures, factories,
# assertions), in the browser tests and in any test that runs after them in the same process. The
# ORM here is never shared with async code: only the check is wrong. Django reads the variable at
# each call; it is set when this conftest is collected, before any test runs, and it holds for the
# whole pytest process.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"

DEFAULT_TIMEOUT_MS = 10_000
HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Every test in this directory is a browser test (`-m "not browser"` leaves them out). The
    hook sees the whole session's items, hence the filter on the path."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run tests/browser/ensure_chromium.sh (as root) first.", pytrace=False)
    with sync_playwright() as playwright:
        # The flags (devnet/chromium.py) keep Chromium off the network: see there.
        browser = playwright.chromium.launch(**launch_options())
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    yield page
    context.close()


@dataclass
class Built:
    """The world of tests/world.py and the SMTP peer its notices went to."""

    world: World
    smtp: FakeSMTP


@pytest.fixture
def built(live_server: Any, settings: Any, fake_dns: Any, fake_rdap: Any) -> Iterator[Built]:
    """The world, built through the services and the local peers before the test's first page. It
    takes the live server (whose database it fills) and not the browser: the session's browser may
    be running already, and building does not mind (nothing in it uses an event loop)."""
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        yield Built(build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp), smtp)
