"""The invented names of the demo world: providers, their abuse addresses, hosts and URL tokens."""

from __future__ import annotations

import random

from devnet.history.constants import B36, ENDINGS, LEGAL_FORM, SYLLABLES, TRADES


def registrable_domain(host: str) -> str:
    """The registrable domain of a demo host: example.com, example.net or example.org."""
    return ".".join(host.rsplit(".", 2)[-2:])


def b36(n: int) -> str:
    digits = []
    while True:
        n, r = divmod(n, 36)
        digits.append(B36[r])
        if not n:
            return "".join(reversed(digits))


def slug(name: str) -> str:
    return "-".join("".join(ch for ch in word.lower() if ch.isalnum()) for word in name.split()[:2])


def provider_name(rng: random.Random, country: str, used: set[str]) -> str:
    """An invented name; no two share the slug their abuse address is made of."""
    while True:
        brand = "".join(rng.choices(SYLLABLES, k=rng.choice([1, 2]))) + rng.choice(ENDINGS)
        name = f"{brand.title()} {rng.choice(TRADES)} {LEGAL_FORM.get(country, 'Ltd')}"
        if slug(name) not in used:
            used.add(slug(name))
            return name
