"""Reading statistics filters and groupings from a query string (the dashboard, its CSV exports and
the API share it), with a clear message for every value it cannot use; and `takedown_body`, the
figures the API and ``takedown_stats --json`` answer for them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.utils.translation import gettext_lazy as _

from routing.models import Provider
from stats.measures import GROUPINGS, MEASURES, Filters, StatsQueryError, choices
from stats.takedown_times import takedown_stats
from stats.volumes import overview

MAX_ID = 2**63 - 1  # the largest id or AS number a database column holds
CHOICES: dict[str, Any] = choices()


@dataclass(frozen=True)
class StatsParams:
    filters: Filters
    measure: str = "removal"
    group_by: str = ""
    working_hours: bool = False

    def query(self, **changes: Any) -> dict[str, str]:
        """These parameters as a query string's fields (for links and exports)."""
        fields = {
            "measure": self.measure,
            "group_by": self.group_by,
            "working_hours": "1" if self.working_hours else "",
            **{k: str(v) for k, v in self.filters.as_dict().items()},
        }
        fields.update({k: str(v) for k, v in changes.items()})
        return {k: v for k, v in fields.items() if v}


def stats_params(query: Mapping[str, Any]) -> StatsParams:
    """Parse ``query``; raises `StatsQueryError` naming the field and what it may be."""
    measure = _text(query, "measure") or "removal"
    if measure not in MEASURES:
        raise _not_one_of("measure", measure, MEASURES)
    group_by = _text(query, "group_by")
    if group_by not in GROUPINGS:
        raise _not_one_of("group_by", group_by, [g for g in GROUPINGS if g])
    since, until = _date(query, "from"), _date(query, "to")
    if since and until and since >= until:
        raise StatsQueryError(
            _("from must come before to (to is the first day not counted)"), field="from", code="range_reversed"
        )
    choices = {}
    for name, options in CHOICES.items():
        value = _text(query, name)
        if value and value not in options.values:
            raise _not_one_of(name, value, options.values)
        choices[name] = value
    country = _text(query, "country").upper()
    if country and (len(country) != 2 or not (country.isascii() and country.isalpha())):
        raise StatsQueryError(
            _("%(field)s: %(value)r is not a two-letter country code"),
            field="country",
            value=country,
            code="not_a_country",
        )
    filters = Filters(
        since=since,
        until=until,
        country=country,
        provider=_provider(query),
        asn=_int(query, "asn"),
        **choices,
    )
    working = _text(query, "working_hours").lower()
    if working not in ("", "0", "1", "true", "false", "yes", "no"):
        raise StatsQueryError(_("%(field)s: use 1 or 0"), field="working_hours", code="not_a_flag")
    return StatsParams(
        filters=filters, measure=measure, group_by=group_by, working_hours=working in ("1", "true", "yes")
    )


def _not_one_of(name: str, value: str, allowed: Iterable[str]) -> StatsQueryError:
    return StatsQueryError(
        _("%(field)s: %(value)r is not one of %(choices)s"),
        field=name,
        value=value,
        choices=", ".join(allowed),
        code="not_a_choice",
    )


def _text(query: Mapping[str, Any], name: str) -> str:
    value = query.get(name)
    return str(value).strip() if value is not None else ""


def _date(query: Mapping[str, Any], name: str) -> date | None:
    value = _text(query, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise StatsQueryError(
            _("%(field)s: %(value)r is not a date (YYYY-MM-DD)"), field=name, value=value, code="not_a_date"
        ) from None


def _int(query: Mapping[str, Any], name: str) -> int | None:
    value = _text(query, name)
    if not value:
        return None
    if name == "asn" and value.upper().startswith("AS"):
        value = value[2:]
    if not (value.isascii() and value.isdigit()) or int(value) > MAX_ID:
        raise StatsQueryError(
            _("%(field)s: %(value)r is not a number from 0 to %(max)s"),
            field=name,
            value=value,
            max=MAX_ID,
            code="not_a_number",
        )
    return int(value)


def _provider(query: Mapping[str, Any]) -> int | None:
    """The provider filter: its number, or its name (any case). A name two providers share is
    refused with their numbers, so that the figures are never of the wrong one."""
    value = _text(query, "provider")
    if not value or value.isdigit():
        return _int(query, "provider")
    found = list(Provider.objects.filter(name__iexact=value).values_list("pk", flat=True)[:6])
    if not found:
        raise StatsQueryError(
            _("%(field)s: no provider is called %(value)r"), field="provider", value=value, code="no_such_provider"
        )
    if len(found) > 1:
        numbers = ", ".join(str(pk) for pk in found[:5])
        raise StatsQueryError(
            _("%(field)s: several providers are called %(value)r; give its number (%(numbers)s)"),
            field="provider",
            value=value,
            numbers=numbers,
            code="ambiguous_provider",
        )
    return found[0]


def takedown_body(params: StatsParams) -> dict[str, Any]:
    """What the API and ``takedown_stats --json`` answer: the figures of ``params`` (one row per
    group) and the headline counts of their filters."""
    result = takedown_stats(
        measure=params.measure, group_by=params.group_by, filters=params.filters, working_hours=params.working_hours
    )
    return result.as_dict() | {"overview": overview(filters=params.filters).as_dict()}
