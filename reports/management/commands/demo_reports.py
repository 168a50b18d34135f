"""``python manage.py demo_reports``: a few reports on the demo zone's reserved example domains.

Used by ``SCART_DEMO=1 make run`` once the local DNS and RDAP peers are up; does nothing when the
demo reports exist already. The hosts are those of ``devnet/demo.py``: they resolve, through
the peers, to the ten addresses whose registry answers are recorded, so every kind of answer shows
(an abuse role, an abuse-like address, a registry-only contact, AFRINIC's role-less entities, an
unannounced prefix, NXDOMAIN, an onion service), plus one network in the Netherlands (RIPE), so
that a case hosted in the hotline's own country gets a notice to its provider, and one host there
whose provider takes reports through its abuse API (``demo_provider_api``).

In demo mode the partner hotlines get demo addresses first (``demo_hotlines``, run just before
this command), so that the demo's cases hosted where a partner works are referred to it. The demo
report is filed urgent, so that its cases head the triage
queue above ``seed_demo``'s history (whose hosts the demo's DNS does not know: classified, such a
case goes to the police, see tests/fakenet/demo.py).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand

from reports.models import Channel, Report
from reports.services import report_create

DEMO_SOURCE = "scart demo"
DEMO_URLS = [
    "https://www.example.com/gallery/1",
    "https://example.com/gallery/2",
    "https://www.example.org/a/b.html",
    "https://example.org/",
    "https://example.net/files/",
    "https://mail.example.net/share/x",
    "https://v6only.example.org/p",
    "https://ix.example.net/q",
    "https://unrouted.example.org/r",
    "https://hosting.example.net/files/1",
    "https://files.example.net/album/3",
    "https://gone.example.com/old",
    "http://duckduckgogg42xjoc72x3sjasowoarfbgcmvfimaftt6twagswzczad.onion/demo",
]


class Command(BaseCommand):
    help = "Create a few demo reports on reserved example domains (once)."

    def handle(self, *args: Any, **options: Any) -> None:
        if Report.objects.filter(source=DEMO_SOURCE).exists():
            self.stdout.write("demo reports exist already")
            return
        result = report_create(
            channel=Channel.BULK_IMPORT,
            urls=DEMO_URLS,
            source=DEMO_SOURCE,
            description="Demo data (reserved example domains)",
            urgent=settings.SCART_DEMO,
        )
        self.stdout.write(f"demo report {result.report.reference}: {len(result.accepted)} URLs, resolving now")
