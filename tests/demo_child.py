"""The demo's flow in a process of its own, as ``SCART_DEMO=1 make run`` runs it, for
tests/test_demo.py: ``python -m tests.demo_child`` (settings from the environment, ``SCART_DEMO=1``).

Before anything else it installs an audit hook that records every outbound connection, datagram
and getaddrinfo lookup of the process and refuses (raises `PermissionError`, which a connection
attempt reports as any other failure) each one whose destination is not a loopback address, so
that not even this test can send a packet off the machine. Then it starts the demo's peers
(`devnet.demo.demo_peers`, on free ports the settings are pointed at before Django starts),
files the demo report (``demo_reports``, resolved at once: Celery runs tasks eagerly here), gives
every case awaiting assessment a verdict of illegal, sends every queued notice (``send_notices
--now``) and runs the periodic check task. It prints one JSON line: what was refused, the checks
stored, what the demo's web host saw and the mail written.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Any

refused: list[str] = []
loopback: list[str] = []


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if not isinstance(host, str):
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def _audit(event: str, args: tuple[Any, ...]) -> None:
    if event in {"socket.connect", "socket.sendto", "socket.sendmsg"}:
        address = args[1]
        if address is None or isinstance(address, (str, bytes)):  # connected already, or a Unix socket
            return
        host = address[0]
    elif event == "socket.getaddrinfo":
        host = args[0]
        if host is None:
            return
    else:
        return
    seen = f"{event} {host!r}"
    if _is_loopback(host):
        loopback.append(seen)
        return
    refused.append(seen)
    raise PermissionError(f"the demo must not reach {host!r} ({event})")


def main() -> int:
    sys.addaudithook(_audit)
    from devnet.demo import demo_abuse_api, demo_peers

    var = Path(os.environ["SCART_VAR_DIR"])
    with ExitStack() as stack:
        dns, rdap, web = demo_peers(cert_dir=var / "demo-web")
        api = demo_abuse_api(accept_after=None)
        for peer in (dns, rdap, web, api):
            stack.enter_context(peer)
        os.environ["SCART_DEMO_ABUSEAPI_PORT"] = str(api.port)
        os.environ["SCART_DEMO_DNS_PORT"] = dns.address.rpartition(":")[2]
        os.environ["SCART_DEMO_RDAP_PORT"] = rdap.base_url.rpartition(":")[2]
        os.environ["SCART_DEMO_WEB_PORT"] = str(web.port)
        return run(web, api)


def run(web: Any, api: Any) -> int:
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from reports.assessment import Classification, case_assess
    from reports.models import Case, CaseState
    from routing.models import AvailabilityCheck, Notice, NoticeDelivery, NoticeState, PartnerHotline
    from routing.tasks import check_due
    from scart.celery import app

    app.conf.task_always_eager = True
    call_command("demo_hotlines", verbosity=0)  # as Procfile.demo runs them
    call_command("demo_provider_api", verbosity=0)
    call_command("demo_reports", verbosity=0)
    awaiting = list(Case.objects.filter(state=CaseState.AWAITING_ASSESSMENT))
    illegal = Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image")
    for case in awaiting:
        case_assess(case=case, user=None, classification=illegal)
    call_command("send_notices", "--now", verbosity=0)
    checked = check_due()
    mail_dir = Path(settings.EMAIL_FILE_PATH)
    print(
        json.dumps(
            {
                "refused": refused,
                "loopback": len(loopback),
                "assessed": len(awaiting),
                "checked": checked,
                "checks": [
                    {"url": c.case.canonical_url, "outcome": c.outcome, "status": c.status_code, "reason": c.reason}
                    for c in AvailabilityCheck.objects.select_related("case").order_by("pk")
                ],
                "web_requests": [
                    {"method": r.method, "host": r.host, "user_agent": r.user_agent, "status": r.status}
                    for r in web.requests
                ],
                "web_tls_names": sorted(set(web.tls_names_seen)),
                "notices": [
                    f"{n.kind} {n.recipient_kind} {n.state} {','.join(n.emails)}" for n in Notice.objects.order_by("pk")
                ],
                "notices_sent": Notice.objects.filter(state=NoticeState.SENT).count(),
                "notices_mailed": Notice.objects.filter(state=NoticeState.SENT).exclude(channel="provider_api").count(),
                "messages": sum(p.read_text().count("\nMessage-ID: ") for p in mail_dir.glob("*")),
                "mail_dir": str(mail_dir),
                "mail_files": sorted(p.name for p in mail_dir.glob("*")) if mail_dir.is_dir() else [],
                "mail_to": sorted(_recipients(mail_dir)),
                "hotlines": list(PartnerHotline.objects.values_list("country", "email", "active")),
                "api_reports": [{"domain": r.domain, "urls": r.urls} for r in api.reports.values()],
                "api_parts": list(
                    NoticeDelivery.objects.filter(channel="provider_api").values_list("state", "external_id")
                ),
                "site_url": settings.SITE_URL,
            }
        ),
        flush=True,
    )
    return 0


def _recipients(mail_dir: Path) -> set[str]:
    """The To addresses of every message in the file backend's files (several per file)."""
    found: set[str] = set()
    for path in mail_dir.glob("*") if mail_dir.is_dir() else ():
        for line in path.read_text(errors="replace").splitlines():
            if line.startswith("To: "):
                found.update(address.strip() for address in line[4:].split(","))
    return found


if __name__ == "__main__":
    sys.exit(main())
