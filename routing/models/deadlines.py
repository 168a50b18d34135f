"""Legal and agreed deadlines: the rules a senior analyst sets, and the deadline each case gets.

A rule applies to the cases hosted in one country, to one provider's cases, or to the cases a
kind of notice went out about, or to every case (no scope: the default). It gives a duration,
measured from the verdict or from the first notice sent about the case, and a name people read
("ACM removal order, 1 h"). `routing.deadlines.rules` picks the most specific rule for a case.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from routing.models.notices import NoticeKind


class DeadlineStart(models.TextChoices):
    VERDICT = "verdict", _("the verdict")
    NOTICE = "notice", _("the first notice sent")


class DeadlineScope(models.TextChoices):
    """What a rule applies to, most specific first (the order in which rules win)."""

    PROVIDER = "provider", _("provider")
    NOTICE_KIND = "notice_kind", _("kind of notice")
    COUNTRY = "country", _("hosting country")
    DEFAULT = "default", _("every case")


class DeadlineRule(models.Model):
    name = models.CharField(max_length=120, help_text=_("The name people read, e.g. 'ACM removal order (1 h)'."))
    # Exactly one of provider, notice kind and country is set, or none (the default rule); the
    # form and `scope` keep it so.
    provider = models.ForeignKey(
        "routing.Provider", null=True, blank=True, on_delete=models.CASCADE, related_name="deadline_rules"
    )
    notice_kind = models.CharField(max_length=16, choices=NoticeKind.choices, blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO code of the hosting country."))
    hours = models.PositiveIntegerField(default=0)
    minutes = models.PositiveSmallIntegerField(default=0)
    starts_at = models.CharField(max_length=8, choices=DeadlineStart.choices, default=DeadlineStart.NOTICE)
    active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(hours__gt=0) | models.Q(minutes__gt=0), name="deadlinerule_positive"
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def scope(self) -> DeadlineScope:
        if self.provider_id is not None:
            return DeadlineScope.PROVIDER
        if self.notice_kind:
            return DeadlineScope.NOTICE_KIND
        if self.country:
            return DeadlineScope.COUNTRY
        return DeadlineScope.DEFAULT

    @property
    def duration(self) -> timedelta:
        return timedelta(hours=self.hours, minutes=self.minutes)


class Deadline(models.Model):
    """A case's deadline in one notice cycle (a case whose content came back gets a new one), with
    the rule that set it. Met when the case is removed by then; breached once its time passed
    with the content still online (marked once, by `routing.deadlines.escalation`)."""

    case = models.ForeignKey("reports.Case", on_delete=models.CASCADE, related_name="deadlines")
    rule = models.ForeignKey(DeadlineRule, null=True, on_delete=models.SET_NULL, related_name="deadlines")
    # The rule's name and terms when it was set: the rule may change or go later.
    name = models.CharField(max_length=120)
    starts_at = models.CharField(max_length=8, choices=DeadlineStart.choices)
    cycle_started_at = models.DateTimeField(help_text=_("The notice cycle this deadline belongs to."))
    started_at = models.DateTimeField(help_text=_("The starting event: the verdict or the first notice."))
    due_at = models.DateTimeField()
    notice_reference = models.CharField(max_length=32, blank=True)
    met_at = models.DateTimeField(null=True, blank=True, help_text=_("When the content was removed in time."))
    closed_at = models.DateTimeField(null=True, blank=True, help_text=_("When the case closed (removed or not)."))
    breached_at = models.DateTimeField(null=True, blank=True)
    # The seniors were told of the breach (after the mail went out; retried until then).
    alerted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_at", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "cycle_started_at"], name="deadline_one_per_cycle")]
        indexes = [
            models.Index(
                fields=["due_at"],
                name="deadline_open_due_idx",
                condition=models.Q(closed_at__isnull=True, breached_at__isnull=True),
            ),
            models.Index(
                fields=["breached_at"],
                name="deadline_alert_due_idx",
                condition=models.Q(breached_at__isnull=False, alerted_at__isnull=True),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} for case {self.case_id}"
