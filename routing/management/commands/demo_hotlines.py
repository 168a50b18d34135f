"""``python manage.py demo_hotlines``: demo addresses for the seeded partner hotlines, in demo mode.

The partner hotlines seeded by migration 0005 have no address (a hotline gives its own), so a case
hosted where one works waits for it and the demo never shows a referral. ``SCART_DEMO=1 make run``
runs this before ``demo_reports``: each hotline without an address gets one on the reserved
``.example`` TLD (``reports@hotline-gb.example``); an address an administrator set is kept. Outside
demo mode it refuses: a deployment's referrals must go where the hotlines said.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from routing.models import PartnerHotline


def demo_address(country: str) -> str:
    return f"reports@hotline-{country.lower()}.example"


class Command(BaseCommand):
    help = "Give the partner hotlines without an address a demo one (demo mode only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SCART_DEMO:
            raise CommandError("demo_hotlines is for SCART_DEMO=1 only: it would give hotlines made-up addresses")
        given = 0
        for hotline in PartnerHotline.objects.filter(email=""):
            # Conditional: an address set meanwhile by an administrator is not overwritten.
            given += PartnerHotline.objects.filter(pk=hotline.pk, email="").update(email=demo_address(hotline.country))
        self.stdout.write(f"demo addresses for {given} partner hotline(s)")
