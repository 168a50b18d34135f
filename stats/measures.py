"""What the statistics measure and how they slice it: the measures (`MEASURES`), the groupings
(`GROUPINGS`: periods and dimensions), the filters (`Filters`) and the words for their values
(`choice_label`). The figures themselves: `stats.takedown_times` and `stats.volumes`."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db.models import QuerySet
from django.db.models.functions import TruncMonth, TruncWeek, TruncYear
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from reports.models import AiGenerated, Category, Channel, LegalBasis
from scart.shown import ShownError
from stats.models import CaseTiming, Route

if TYPE_CHECKING:
    from django_stubs_ext import StrOrPromise

HOUR = 3600


def unreachable_hours() -> int:
    """A case unreachable this long is closed as removed (routing.checks.tracking); it counts
    apart. Read when used, so that the setting as it is now (or in a test) applies."""
    return int(settings.SCART_UNREACHABLE_CLOSE_HOURS)


THRESHOLDS = {"within_24h": 24 * HOUR, "within_72h": 72 * HOUR, "within_7d": 7 * 24 * HOUR}


@dataclass(frozen=True)
class Measure:
    key: str
    # Translated when read (gettext_lazy): the language of the request that shows them.
    label: StrOrPromise
    start: StrOrPromise
    end: StrOrPromise
    # ``{unreachable_hours}`` is filled in when the note is read.
    note_template: StrOrPromise = ""

    @property
    def note(self) -> str:
        return str(self.note_template).format(unreachable_hours=unreachable_hours())


MEASURES = {
    m.key: m
    for m in (
        Measure("assess", _("Time to assess"), _("first report received"), _("first verdict")),
        Measure("notice", _("Time to notice"), _("first verdict"), _("first notice sent")),
        Measure("report_notice", _("Report to notice"), _("first report received"), _("first notice sent")),
        Measure(
            "removal",
            _("Time to removal"),
            _("first notice sent"),
            _("removed (first of the gone checks)"),
            _("removals before any notice and after {unreachable_hours} h unreachable are counted apart"),
        ),
        Measure(
            "report_removal",
            _("Report to removal"),
            _("first report received"),
            _("removed"),
            _("includes removals before notice; not removals after {unreachable_hours} h unreachable"),
        ),
    )
}

PERIODS = {"week": TruncWeek, "month": TruncMonth, "year": TruncYear}
DIMENSIONS = {
    "provider": "provider_id",
    "asn": "asn",
    "country": "hosting_country",
    "route": "route",
    "channel": "channel",
    "legal_basis": "legal_basis",
    "category": "category",
    "ai_generated": "ai_generated",
}
GROUPINGS = ("", *PERIODS, *DIMENSIONS)


class StatsQueryError(ShownError, ValueError):
    """A filter or grouping the statistics do not know (the caller shows the message): ``str()``
    in the reader's language on the pages, `english` with ``code`` and ``field`` in the API, whose
    answers stay stable."""

    code = "invalid_filter"

    @property
    def field(self) -> str:
        return str(self.params.get("field", ""))


@dataclass(frozen=True)
class Filters:
    """Which cases count: first reported in ``[since, until)`` and the rest as given."""

    since: date | None = None
    until: date | None = None
    country: str = ""
    provider: int | None = None
    asn: int | None = None
    route: str = ""
    channel: str = ""
    legal_basis: str = ""
    category: str = ""
    ai_generated: str = ""

    def apply(self, rows: QuerySet[CaseTiming]) -> QuerySet[CaseTiming]:
        zone = timezone.get_current_timezone()
        if self.since:
            rows = rows.filter(first_reported_at__gte=datetime.combine(self.since, datetime.min.time(), zone))
        if self.until:
            rows = rows.filter(first_reported_at__lt=datetime.combine(self.until, datetime.min.time(), zone))
        exact = {
            "hosting_country": self.country.upper(),
            "provider_id": self.provider,
            "asn": self.asn,
            "route": self.route,
            "channel": self.channel,
            "legal_basis": self.legal_basis,
            "category": self.category,
            "ai_generated": self.ai_generated,
        }
        return rows.filter(**{k: v for k, v in exact.items() if v not in (None, "")})

    def as_dict(self) -> dict[str, Any]:
        return {
            k: (v.isoformat() if isinstance(v, date) else v) for k, v in asdict(self).items() if v not in (None, "")
        }


def choices() -> dict[str, Any]:
    """The groupings and filters whose values are choices, and their choices (labels)."""
    return {
        "route": Route,
        "channel": Channel,
        "legal_basis": LegalBasis,
        "category": Category,
        "ai_generated": AiGenerated,
    }


NOT_RECORDED = _("not recorded")


def choice_label(dimension: str, value: Any, *, missing: StrOrPromise = NOT_RECORDED) -> str:
    """The label of ``value`` among the choices of ``dimension`` (the value itself when it is not
    one of them, ``missing`` when there is none)."""
    known = dict(choices()[dimension].choices)
    return str(known.get(value, value or missing))
