"""One row per case with the moments and durations takedown statistics are made of.

The case timeline (reports, assessments, notices, checks, events) is the truth; `CaseTiming` is
derived from it by `stats.timings` and can be rebuilt at any time (``takedown_stats --rebuild``).
It exists so that statistics over millions of cases are one indexed scan of one narrow table, in
the database, with no joins and no JSON. Durations are stored in seconds, both in calendar time
and in the hotline's working hours (`stats.workhours`), so that percentiles of either are plain
SQL. What each moment means is in docs/statistics.md.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class Route(models.TextChoices):
    """Where the case's first notices went."""

    OWN_COUNTRY = "own_country", _("Own country: notice to the hosting provider")
    PARTNER_HOTLINE = "partner_hotline", _("Referred to a partner hotline")
    POLICE = "police", _("Police (no partner hotline, or unknown host)")
    NONE = "none", _("No notice")


_TIMED = models.Q(removal_s__isnull=False)


def week_of(moment: datetime) -> date:
    """The Monday of ``moment``'s week in local time (``TIME_ZONE``)."""
    day = timezone.localtime(moment).date()
    return day - timedelta(days=day.weekday())


class CaseTiming(models.Model):
    case = models.OneToOneField("reports.Case", primary_key=True, on_delete=models.CASCADE, related_name="timing")
    url_sha256 = models.CharField(max_length=64)
    # The moments (UTC).
    first_reported_at = models.DateTimeField()
    reported_week = models.DateField(
        help_text="The Monday of the week of the first report, in TIME_ZONE (the weekly counts group by it)."
    )
    first_verdict_at = models.DateTimeField(null=True)
    illegal = models.BooleanField(default=False, help_text="Its verdict is (or was, before it closed) illegal.")
    first_notice_at = models.DateTimeField(null=True, help_text="The first notice, referral or police report sent.")
    removed_at = models.DateTimeField(null=True, help_text="The first removal: the first of the gone checks.")
    last_online_at = models.DateTimeField(null=True, help_text="The last check that found it online before then.")
    removal_kind = models.CharField(max_length=24, blank=True)
    still_online = models.BooleanField(default=False, help_text="Illegal, open, and not removed.")
    reappeared = models.PositiveSmallIntegerField(default=0)
    # What statistics group and filter by.
    route = models.CharField(max_length=16, choices=Route.choices, default=Route.NONE)
    channel = models.CharField(max_length=16, blank=True)
    provider = models.ForeignKey(
        "routing.Provider", null=True, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    asn = models.PositiveBigIntegerField(null=True)
    hosting_country = models.CharField(max_length=2, blank=True)
    legal_basis = models.CharField(max_length=16, blank=True)
    category = models.CharField(max_length=2, blank=True)
    ai_generated = models.CharField(max_length=16, blank=True)
    # Durations in seconds: calendar time, and working time (``*_wh``).
    assess_s = models.BigIntegerField(null=True)
    notice_s = models.BigIntegerField(null=True)
    report_notice_s = models.BigIntegerField(null=True)
    removal_s = models.BigIntegerField(null=True)
    report_removal_s = models.BigIntegerField(null=True)
    assess_wh = models.BigIntegerField(null=True)
    notice_wh = models.BigIntegerField(null=True)
    report_notice_wh = models.BigIntegerField(null=True)
    removal_wh = models.BigIntegerField(null=True)
    report_removal_wh = models.BigIntegerField(null=True)
    refreshed_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["first_reported_at"], name="timing_reported_idx"),
            models.Index(fields=["hosting_country", "first_reported_at"], name="timing_country_idx"),
            models.Index(fields=["provider", "first_reported_at"], name="timing_provider_idx"),
            models.Index(fields=["first_reported_at"], name="timing_online_idx", condition=models.Q(still_online=True)),
            # The dashboard's time to removal (its default measure) at a million cases: per grouping,
            # the group, then the duration, so that PostgreSQL reads each group's values already in
            # order from a narrow index (an index-only scan, no sort) for its percentiles; the first
            # report last, so that a period filter is read from the index too. Week and month have
            # indexes on expressions in migration 0002 (PostgreSQL only). Figures: bench/README.md.
            *(
                models.Index(fields=[*group, "removal_s", "first_reported_at"], name=name, condition=_TIMED)
                for group, name in (
                    ((), "timing_removal_idx"),
                    (("provider",), "timing_removal_provider_idx"),
                    (("hosting_country",), "timing_removal_country_idx"),
                    (("route",), "timing_removal_route_idx"),
                    (("channel",), "timing_removal_channel_idx"),
                    (("ai_generated",), "timing_removal_ai_idx"),
                )
            ),
        ]

    def __str__(self) -> str:
        return f"timing of case {self.case_id}"


class RefreshMark(models.Model):
    """How far the refresh has read the event log (one row)."""

    last_event_id = models.BigIntegerField(default=0)
    updated_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return f"statistics read the events up to {self.last_event_id}"
