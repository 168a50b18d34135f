"""Seed the contact book with the major CDN and DDoS-protection networks, by ASN.

These are facts at the time of writing, meant to be edited. Their abuse addresses start with low
confidence: until an operator verifies them (several of these companies prefer a web form), cases
behind them wait in the contact-check queue. A case whose address belongs to one of these ASNs
is marked as behind a CDN: notices go to the CDN and ask for the origin.
"""

from __future__ import annotations

from typing import Any

from django.db import migrations

CDNS: list[dict[str, Any]] = [
    {
        "key": "seed:cloudflare",
        "name": "Cloudflare",
        "country": "US",
        "asns": [13335, 209242],
        "abuse_emails": ["abuse@cloudflare.com"],
    },
    {
        "key": "seed:akamai",
        "name": "Akamai Technologies",
        "country": "US",
        "asns": [20940, 16625, 16702, 12222, 21342, 32787, 33905, 35994, 36183],
        "abuse_emails": ["abuse@akamai.com"],
    },
    {"key": "seed:fastly", "name": "Fastly", "country": "US", "asns": [54113], "abuse_emails": ["abuse@fastly.com"]},
    {
        "key": "seed:imperva",
        "name": "Imperva (Incapsula)",
        "country": "US",
        "asns": [19551],
        "abuse_emails": ["abuse@imperva.com"],
    },
    {"key": "seed:sucuri", "name": "Sucuri", "country": "US", "asns": [30148], "abuse_emails": ["abuse@sucuri.net"]},
    {
        "key": "seed:ddos-guard",
        "name": "DDoS-Guard",
        "country": "RU",
        "asns": [57724, 262254],
        "abuse_emails": ["abuse@ddos-guard.net"],
    },
    {
        "key": "seed:stackpath",
        "name": "StackPath",
        "country": "US",
        "asns": [33438, 12989],
        "abuse_emails": ["abuse@stackpath.com"],
    },
    {
        "key": "seed:cdn77",
        "name": "CDN77 (DataCamp)",
        "country": "GB",
        "asns": [60068],
        "abuse_emails": ["abuse@cdn77.com"],
    },
    {
        "key": "seed:bunny",
        "name": "BunnyWay (bunny.net)",
        "country": "SI",
        "asns": [200325],
        "abuse_emails": ["abuse@bunny.net"],
    },
    {
        "key": "seed:gcore",
        "name": "G-Core Labs",
        "country": "LU",
        "asns": [199524, 202422],
        "abuse_emails": ["abuse@gcore.com"],
    },
    {
        "key": "seed:qrator",
        "name": "Qrator Labs",
        "country": "CZ",
        "asns": [200449],
        "abuse_emails": ["abuse@qrator.net"],
    },
]


def seed(apps: Any, schema_editor: Any) -> None:
    Provider = apps.get_model("routing", "Provider")
    for cdn in CDNS:
        Provider.objects.get_or_create(
            key=cdn["key"],
            defaults={
                **cdn,
                "source": "manual",
                "abuse_source": "manual",
                "confidence": "low",
                "is_cdn": True,
                "notes": "Seeded CDN/DDoS-protection network. Verify the abuse address before relying on it.",
            },
        )


def unseed(apps: Any, schema_editor: Any) -> None:
    apps.get_model("routing", "Provider").objects.filter(key__in=[c["key"] for c in CDNS], cases=None).delete()


class Migration(migrations.Migration):
    dependencies = [("routing", "0001_initial"), ("reports", "0003_case_asn_case_cdn_case_contact_check_and_more")]

    operations = [migrations.RunPython(seed, unseed)]
