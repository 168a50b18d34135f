"""``python manage.py demo_provider_api``: in demo mode, a provider on the provider API channel.

``SCART_DEMO=1 make run`` runs this before ``demo_reports``: a provider "Demo Files CDN" whose
notices go to the demo's abuse-reports API (``python -m devnet --abuseapi-port``, at
``SCART_DEMO_ABUSEAPI_URL``) as the demo account, and a domain rule giving it the demo host
``files.example.net``, so the demo shows a notice that becomes an API report, its id and its
status. Does nothing when the provider exists already; refuses outside demo mode (the token is a
made-up one and the API a local peer).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from routing.models import DeliveryChannel, DomainRule, Provider
from routing.notices.api_settings import provider_api_configure

PROVIDER_NAME = "Demo Files CDN"
# As devnet/demo.py names them (API_HOST, DEMO_API_ACCOUNT, DEMO_API_TOKEN): product code does not
# import devnet.
API_HOST = "files.example.net"
ACCOUNT = "demo-account"
TOKEN = "demo-token"  # noqa: S105 -- the demo peer's made-up token


class Command(BaseCommand):
    help = "Give the demo a provider whose notices go to the local abuse-reports API (demo mode only)."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.SCART_DEMO:
            raise CommandError("demo_provider_api is for SCART_DEMO=1 only: it points a provider at a local peer")
        provider, created = Provider.objects.get_or_create(
            name=PROVIDER_NAME,
            defaults={
                "abuse_emails": ["abuse@files-cdn.example"],
                "country": "NL",
                "verified": True,
                "delivery_channel": DeliveryChannel.PROVIDER_API,
                "notes": "scart demo: notices go to the local abuse-reports API",
            },
        )
        if not created:
            self.stdout.write("the demo API provider exists already")
            return
        provider_api_configure(
            provider=provider,
            base_url=settings.SCART_DEMO_ABUSEAPI_URL,
            account=ACCOUNT,
            token=TOKEN,
            host_notification="send",
            owner_notification="none",
        )
        DomainRule.objects.get_or_create(suffix=API_HOST, defaults={"provider": provider, "notes": "scart demo"})
        self.stdout.write(f"{PROVIDER_NAME}: notices for {API_HOST} go to {settings.SCART_DEMO_ABUSEAPI_URL}")
