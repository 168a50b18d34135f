"""``SCART_DEMO=1 make run`` never sends a packet off the machine.

The demo's hosts resolve (through the demo's DNS peer) to real public addresses, so that
resolution shows real registries' answers. The flow from the demo report through verdicts,
notices and availability checks runs in a process of its own with the demo's settings
(tests/demo_child.py), where an audit hook refuses and records every connection, datagram and name
lookup (getaddrinfo) whose destination is not a loopback address.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from devnet.demo import API_HOST, NL_ABUSE, NXDOMAIN_HOST
from devnet.tls import have_openssl
from tests.test_end_to_end import database_url

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _seeded_hotlines() -> None:
    """The partner hotlines as migration 0005 seeds them for `make run` (a transactional test
    before this one may have emptied the tables)."""
    from django.apps import apps

    seed = importlib.import_module("routing.migrations.0005_seed_partner_hotlines").seed
    seed(apps, None)


ROOT = Path(__file__).resolve().parent.parent


# What a user may have set for production: demo mode must ignore all of it.
PRODUCTION_ENV = {
    "EMAIL_HOST": "smtp.example.net",
    "SCART_CHECK_PROXY": "http://proxy.example.net:3128",
    "SCART_DNS_NAMESERVERS": "192.0.2.53",
    "SCART_RDAP_BASE_URL": "https://rdap.example.net",
    "SCART_INTAKE_IMAP_URL": "imaps://intake:secret@imap.example.net/INBOX",
    "SCART_SITE_URL": "https://scart.hotline.internal",
}


def run_demo(tmp_path: Path, extra_env: dict[str, str]) -> dict:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SCART_", "DATABASE_URL", "CELERY_", "EMAIL_", "DEBUG", "SECRET_KEY"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "scart.settings",
            # As `make run` starts it: DEBUG on, not the test suite's settings.
            "DEBUG": "1",
            "SCART_TESTING": "0",
            "SCART_DEMO": "1",
            "SCART_VAR_DIR": str(tmp_path / "var"),
            "DATABASE_URL": database_url(),
            **extra_env,
        }
    )
    result = subprocess.run(
        [sys.executable, "-m", "tests.demo_child"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-4000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("extra_env", [{}, PRODUCTION_ENV], ids=["make-run", "production-variables-set"])
def test_the_demo_flow_connects_to_nothing_but_loopback(tmp_path, extra_env):
    seen = run_demo(tmp_path, extra_env)

    assert seen["refused"] == [], "the demo tried to reach addresses off the machine"
    # Not vacuous: the flow ran, and every demo host that resolves was checked, over the demo's
    # web host, and found online.
    assert seen["assessed"] >= 10 and seen["checked"] >= 10
    outcomes = {check["url"]: (check["outcome"], check["status"]) for check in seen["checks"]}
    online = {url for url, (outcome, status) in outcomes.items() if outcome == "online" and status == 200}
    assert outcomes[f"https://{NXDOMAIN_HOST}/old"] == ("gone", None)
    assert online == {url for url in outcomes if NXDOMAIN_HOST not in url}, seen["checks"]
    assert len(online) == 11
    checked_hosts = {request["host"] for request in seen["web_requests"]}
    assert checked_hosts == {url.split("/")[2] for url in online}
    if have_openssl():
        # Over TLS, with the URL's host as the server name, as the checker does it everywhere.
        assert set(seen["web_tls_names"]) == checked_hosts
    # The User-Agent never names the hotline's internal address.
    assert all(seen["site_url"] not in request["user_agent"] for request in seen["web_requests"])
    # Mail went to files under the demo's var/, not to the EMAIL_HOST in the environment.
    assert seen["notices_sent"] >= 1
    assert seen["mail_dir"] == str(tmp_path / "var" / "mail")
    assert seen["messages"] >= seen["notices_mailed"], seen["notices"]
    assert seen["loopback"] > 0
    # A demo user sees each kind of mail: a notice to the provider of the network in the hotline's
    # own country (NL), and referrals to partner hotlines at their demo addresses.
    assert NL_ABUSE in seen["mail_to"], seen["notices"]
    referrals = [to for to in seen["mail_to"] if to.startswith("reports@hotline-") and to.endswith(".example")]
    assert referrals, (seen["notices"], seen["hotlines"])
    # And a notice that became a report to a provider's abuse API, the local one, its id kept.
    assert [r["domain"] for r in seen["api_reports"]] == [API_HOST], seen["notices"]
    (state, report_id), *more = seen["api_parts"]
    assert (state, more) == ("sent", []) and report_id


def test_demo_hotline_addresses_are_for_demo_mode_only_and_keep_a_real_one(settings):
    from django.core.management import CommandError, call_command

    from routing.models import PartnerHotline

    settings.SCART_DEMO = False
    with pytest.raises(CommandError):
        call_command("demo_hotlines", verbosity=0)
    with pytest.raises(CommandError):
        call_command("demo_provider_api", verbosity=0)
    assert not PartnerHotline.objects.exclude(email="").exists()

    PartnerHotline.objects.filter(country="GB").update(email="referrals@iwf.example")
    settings.SCART_DEMO = True
    call_command("demo_hotlines", verbosity=0)
    assert PartnerHotline.objects.get(country="GB").email == "referrals@iwf.example"
    assert PartnerHotline.objects.get(country="US").email == "reports@hotline-us.example"
    assert not PartnerHotline.objects.filter(email="").exists()
