"""Filters for notice templates: country names and classifications in the notice's language."""

from __future__ import annotations

import gettext
from functools import lru_cache

import pycountry
from django import template

register = template.Library()

_CLASSIFICATION = {
    "en": {
        "baseline": "baseline (illegal in every country)",
        "A1": "A1: prepubescent child, sexual activity",
        "A2": "A2: prepubescent child, posing",
        "B1": "B1: pubescent child, sexual activity",
        "B2": "B2: pubescent child, posing",
    },
    "nl": {
        "baseline": "baseline (overal ter wereld strafbaar)",
        "A1": "A1: prepubertair kind, seksuele handelingen",
        "A2": "A2: prepubertair kind, poserend",
        "B1": "B1: puberend kind, seksuele handelingen",
        "B2": "B2: puberend kind, poserend",
    },
}


@lru_cache(maxsize=16)
def _translation(language: str) -> gettext.NullTranslations:
    try:
        return gettext.translation("iso3166-1", pycountry.LOCALES_DIR, languages=[language])
    except OSError:
        return gettext.NullTranslations()


@register.filter
def country_name(code: str, language: str = "en") -> str:
    """``NL`` -> ``Netherlands`` (or ``Nederland`` with ``"nl"``); the code itself when unknown."""
    country = pycountry.countries.get(alpha_2=(code or "").upper())
    if country is None:
        return code or ""
    name = getattr(country, "common_name", None) or country.name
    return _translation(language).gettext(name) if language != "en" else name


# Countries whose English name takes "the" in a sentence ("the hotline in the Netherlands").
_WITH_THE = frozenset(
    {"AE", "BS", "CF", "DO", "FK", "FO", "GB", "GM", "KM", "KY", "MH", "MV", "NL", "PH", "SB", "SC", "TC", "US"}
)


@register.filter
def country_in_sentence(code: str) -> str:
    """The English country name as it reads inside a sentence: ``NL`` -> ``the Netherlands``,
    ``DE`` -> ``Germany``."""
    name = country_name(code)
    return f"the {name}" if (code or "").upper() in _WITH_THE else name


@register.filter
def classification_text(classification: str, language: str = "en") -> str:
    texts = _CLASSIFICATION.get(language, _CLASSIFICATION["en"])
    return texts.get(classification, classification)
