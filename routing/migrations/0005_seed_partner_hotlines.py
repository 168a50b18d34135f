"""Seed the partner hotlines: members of the INHOPE network and others that take referrals, by
country, as publicly listed. Referral addresses are not seeded: each hotline agrees on one with the
hotlines it works with, and an administrator fills it in (a referral waits until there is one)."""

from __future__ import annotations

from typing import Any

from django.db import migrations

# (country, name, website, language of referrals)
HOTLINES = [
    ("AT", "Stopline", "https://www.stopline.at", "de"),
    ("AU", "eSafety Commissioner", "https://www.esafety.gov.au", "en"),
    ("BA", "Sigurno dijete", "https://www.sigurnodijete.ba", "en"),
    ("BE", "Child Focus", "https://www.childfocus.be", "en"),
    ("BG", "Safenet", "https://www.safenet.bg", "en"),
    ("BR", "SaferNet Brasil", "https://new.safernet.org.br", "en"),
    ("CA", "Cybertip.ca", "https://www.cybertip.ca", "en"),
    ("CO", "Te Protejo", "https://www.teprotejo.org", "en"),
    ("CY", "Cyber Safety Hotline", "https://www.cybersafety.cy", "en"),
    ("CZ", "Stop Online", "https://www.stoponline.cz", "en"),
    ("DE", "eco Beschwerdestelle", "https://www.eco.de", "de"),
    ("DK", "Red Barnet", "https://redbarnet.dk", "en"),
    ("EE", "Vihjeliin", "https://vihjeliin.targaltinternetis.ee", "en"),
    ("ES", "INCIBE", "https://www.incibe.es", "en"),
    ("FI", "Nettivihje (Save the Children Finland)", "https://www.nettivihje.fi", "en"),
    ("FR", "Point de Contact", "https://www.pointdecontact.net", "en"),
    ("GB", "Internet Watch Foundation", "https://www.iwf.org.uk", "en"),
    ("GR", "SafeLine", "https://www.safeline.gr", "en"),
    ("HR", "Centar za nestalu i zlostavljanu djecu", "https://www.cnzd.org", "en"),
    ("HU", "Internet Hotline (NMHH)", "https://english.nmhh.hu/internethotline", "en"),
    ("IE", "Hotline.ie", "https://hotline.ie", "en"),
    ("IS", "Barnaheill", "https://www.barnaheill.is", "en"),
    ("IT", "Telefono Azzurro", "https://azzurro.it", "en"),
    ("JP", "Internet Hotline Center Japan", "https://www.internethotline.jp", "en"),
    ("KR", "Korea Communications Standards Commission", "https://www.kocsc.or.kr", "en"),
    ("LT", "Communications Regulatory Authority (RRT)", "https://www.rrt.lt", "en"),
    ("LU", "BEE SECURE Stopline", "https://stopline.bee-secure.lu", "en"),
    ("LV", "Drossinternets.lv", "https://www.drossinternets.lv", "en"),
    ("MT", "Childweb Alert", "https://childwebalert.gov.mt", "en"),
    ("NZ", "Department of Internal Affairs", "https://www.dia.govt.nz", "en"),
    ("PL", "Dyżurnet.pl", "https://dyzurnet.pl", "en"),
    ("PT", "Linha Internet Segura", "https://linhainternetsegura.pt", "en"),
    ("RO", "Ora de Net", "https://oradenet.salvaticopiii.ro", "en"),
    ("SE", "ECPAT Sweden", "https://www.ecpat.se", "en"),
    ("SI", "Spletno oko", "https://www.spletno-oko.si", "en"),
    ("SK", "Stopline.sk", "https://www.stopline.sk", "en"),
    ("TW", "Web547 (ECPAT Taiwan)", "https://web547.org.tw", "en"),
    ("US", "NCMEC CyberTipline", "https://report.cybertip.org", "en"),
    ("ZA", "Film and Publication Board", "https://www.fpb.org.za", "en"),
]


def seed(apps: Any, schema_editor: Any) -> None:
    PartnerHotline = apps.get_model("routing", "PartnerHotline")
    for country, name, website, language in HOTLINES:
        PartnerHotline.objects.get_or_create(
            country=country, defaults={"name": name, "website": website, "language": language}
        )


def unseed(apps: Any, schema_editor: Any) -> None:
    apps.get_model("routing", "PartnerHotline").objects.filter(
        country__in=[c for c, *_ in HOTLINES], email=""
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("routing", "0004_partner_hotlines_and_rule_actions")]
    operations = [migrations.RunPython(seed, unseed)]
