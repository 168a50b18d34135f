"""``python manage.py resolve URL [--json]``: resolve one URL as a case would be, without a case."""

from __future__ import annotations

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from reports.urls import UrlRejected, normalise_url
from reports.urls.hosts import registered_domain
from routing.resolution.lookups import Lookups
from routing.resolution.resolve import HostQuery, hosts_resolve


class Command(BaseCommand):
    help = "Resolve a URL's host, network, provider and abuse contact, and print the result."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url")
        parser.add_argument("--json", action="store_true", help="print JSON")
        parser.add_argument("--fresh", action="store_true", help="ignore cached lookups")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            normal = normalise_url(options["url"])
        except UrlRejected as exc:
            raise CommandError(f"{exc.code}: {exc}") from exc
        query = HostQuery(normal.host, normal.is_ip, normal.unresolvable, registered_domain(normal.host))
        resolution = hosts_resolve([query], lookups=Lookups(refresh=options["fresh"]))[normal.host]
        data = resolution.as_dict()
        out = {
            "url": options["url"],
            "canonical": normal.canonical,
            "host": normal.host,
            "registrable_domain": normal.registrable_domain,
            "cnames": data["cnames"],
            "ips": data["ips"],
            "provider": data["provider"],
            "country": data["country"],
            "cdn": data["cdn"],
            "origin": data["origin"],
            "registrar": data["registrar"],
            "confidence": data["confidence"],
            "contact_check": data["contact_check"],
            "outcome": data["outcome"],
            "errors": data["errors"],
        }
        if options["json"]:
            self.stdout.write(json.dumps(out, indent=2, ensure_ascii=False))
            return
        self.stdout.write(f"{out['canonical']}  ->  {out['outcome']}")
        if out["cnames"]:
            self.stdout.write("  via " + " -> ".join(out["cnames"]))
        for ip in out["ips"]:
            self.stdout.write(
                f"  {ip['ip']}  AS{ip['asn'] or '-'} {ip['asn_name']}  {ip['cidr']} {ip['network_name']}"
                f"  {ip['country']} ({ip['registry']})"
            )
            self.stdout.write(
                f"      abuse: {', '.join(ip['abuse_emails']) or '-'}"
                f"  [{ip['abuse_source']}, {ip['abuse_rule']}, {ip['confidence']}]"
            )
        provider = out["provider"]
        if provider:
            self.stdout.write(
                f"  provider: {provider['name']} <{', '.join(provider['abuse_emails']) or 'no address'}>"
                f"  by {provider['rule']}, confidence {provider['confidence']}"
            )
        if out["cdn"]:
            self.stdout.write(f"  behind CDN: {out['cdn']['name']}")
        if out["registrar"]:
            self.stdout.write(f"  registrar: {out['registrar'].get('name') or out['registrar'].get('error')}")
        self.stdout.write(f"  hosting country: {out['country'] or '-'}")
        for error in out["errors"]:
            self.stdout.write(self.style.WARNING(f"  {error}"))
