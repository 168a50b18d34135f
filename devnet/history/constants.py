"""The shape of the demo history: the marks that make demo data recognisable, and the shares,
weights and word lists its random draws follow."""

from __future__ import annotations

import itertools

from reports.models import Channel

MARK = "seed-demo"
HOST_SUFFIXES = tuple(f".{MARK}.example.{tld}" for tld in ("com", "net", "org"))
PROVIDER_KEY_PREFIX = f"{MARK}:"
REPORT_REF_PREFIX = f"{MARK}-"
USER_PREFIX = f"{MARK}-"
MESSAGE_ID_SUFFIX = f".notice@{MARK}.example>"
# API partners: (name, share of the API reports, sends its own classification).
PARTNERS = [
    ("Partner hotline exchange (demo)", 0.45, True),
    ("Crawler alliance (demo)", 0.30, False),
    ("Platform trust and safety feed (demo)", 0.15, False),
    ("Research crawler (demo)", 0.10, False),
]
POLICE_PLACEHOLDER = "reports@police.example"
MAX_CASES = 10_000_000

# URL shares of the intake channels, the mean number of URLs a report names, and how likely a
# report's URLs all come from one site.
CHANNELS: dict[str, tuple[float, float, float]] = {
    Channel.API: (0.50, 4.0, 0.6),
    Channel.BULK_IMPORT: (0.20, 30.0, 0.5),
    Channel.WEB_FORM: (0.15, 1.2, 0.9),
    Channel.MAILBOX: (0.15, 2.5, 0.7),
}
# Share of illegal verdicts by channel (a site that exists for such material raises it).
ILLEGAL_SHARE: dict[str, float] = {
    Channel.API: 0.72,
    Channel.BULK_IMPORT: 0.62,
    Channel.MAILBOX: 0.45,
    Channel.WEB_FORM: 0.28,
}
# Partner-hotline countries the big hosting countries are, by weight; the rest weigh 1.
PARTNER_WEIGHTS = {"US": 30, "DE": 20, "FR": 8, "GB": 8, "CA": 6, "SE": 3, "PL": 3, "CZ": 3, "RO": 3, "BG": 3}
OTHER_WEIGHTS = {"RU": 20, "HK": 15, "UA": 10, "SG": 10, "MD": 8, "TR": 8, "VN": 6, "PA": 5, "SC": 5, "BZ": 3}
OTHER_WEIGHTS |= {"KZ": 3, "MY": 3, "IN": 3, "ID": 3, "AR": 2, "CL": 2, "MX": 2, "RS": 2, "AE": 2, "TH": 2}
REGISTRY = {cc: "arin" for cc in ("US", "CA")}
REGISTRY |= {cc: "lacnic" for cc in ("BR", "CO", "AR", "CL", "MX", "PA", "BZ")}
REGISTRY |= {cc: "afrinic" for cc in ("ZA", "SC")}
REGISTRY |= {cc: "apnic" for cc in ("JP", "KR", "TW", "AU", "NZ", "HK", "SG", "VN", "MY", "IN", "ID", "TH")}
LEGAL_FORM = {"NL": "B.V.", "DE": "GmbH", "AT": "GmbH", "FR": "SAS", "GB": "Ltd", "US": "LLC", "CA": "Inc."}
SYLLABLES = ["kor", "val", "mer", "dan", "tel", "sor", "bri", "quel", "nor", "zan", "fen", "lum", "tor", "vex"]
SYLLABLES += ["ral", "pin", "gal", "dor", "sel", "mar", "ost", "kri", "bel", "tam", "ves", "orm", "lin", "dra"]
ENDINGS = ["ix", "a", "on", "eo", "ara", "ium", "ent", "ora", "ex", "is", "et", "ano"]
TRADES = ["Hosting", "Cloud", "Networks", "Data", "Servers", "Internet", "Datacenter", "Web Services", "Telecom"]
SITE_WORDS = ["img", "pic", "share", "file", "gallery", "media", "upload", "box", "vault", "drop", "board", "snap"]
SITE_WORDS += ["store", "host", "cloud", "stash", "post", "hub", "zone", "space", "deck", "nest", "port", "base"]
ANALYST_HOURS = (8, 18)
NOT_ILLEGAL_REASONS = [("adult", 50), ("nudity", 15), ("child_non_sexual", 15), ("virtual_legal", 5), ("other", 15)]
MEDIA = ["image", "video", "page", "other"]
MEDIA_WEIGHTS = list(itertools.accumulate([0.55, 0.15, 0.25, 0.05]))
CATEGORIES = ["A1", "A2", "B1", "B2"]
CATEGORY_WEIGHTS = list(itertools.accumulate([22, 18, 27, 33]))
B36 = "0123456789abcdefghijklmnopqrstuvwxyz"
REPORT_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
