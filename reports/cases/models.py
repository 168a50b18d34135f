"""Cases and their timeline: the core every stage reads and writes.

A case is one reported URL; its events are its append-only timeline. The models belong to the
``reports`` app (their tables and migrations are reports'); `reports.models` re-exports them.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from scart.times import shown


class CaseState(models.TextChoices):
    """Every state a case can be in; changes go through `reports.cases.services.case_transition`."""

    NEW = "new", _("New: awaiting resolution")
    AWAITING_ASSESSMENT = "awaiting_assessment", _("Awaiting assessment")
    ILLEGAL = "illegal", _("Illegal: awaiting notice")
    NOTIFIED = "notified", _("Notified: tracking until removed")
    REMOVED = "removed", _("Closed: removed")
    NOT_ILLEGAL = "not_illegal", _("Closed: not illegal")
    CANNOT_ASSESS = "cannot_assess", _("Closed: cannot assess")

    OPEN: ClassVar[tuple[CaseState, ...]]
    TRACKED: ClassVar[tuple[CaseState, ...]]
    ASSESSABLE: ClassVar[tuple[CaseState, ...]]


# The named sets of states, one meaning each (tuples of members: ``state in CaseState.OPEN`` and
# ``state__in=CaseState.OPEN`` both work).
# Open: resolved, and not closed; a change of provider or of a domain rule still matters to them.
CaseState.OPEN = (CaseState.AWAITING_ASSESSMENT, CaseState.ILLEGAL, CaseState.NOTIFIED)
# Tracked: judged illegal and not known to be removed; notices and availability checks follow them.
CaseState.TRACKED = (CaseState.ILLEGAL, CaseState.NOTIFIED)
# Assessable: an analyst may give (or change) a verdict.
CaseState.ASSESSABLE = (
    CaseState.AWAITING_ASSESSMENT,
    CaseState.ILLEGAL,
    CaseState.NOT_ILLEGAL,
    CaseState.CANNOT_ASSESS,
)


class RemovalKind(models.TextChoices):
    GONE = "gone", _("Removed (checks found it gone)")
    BEFORE_NOTICE = "before_notice", _("Removed before any notice")
    UNREACHABLE = "unreachable", _("Unreachable for too long")
    MANUAL = "manual", _("Marked removed by an analyst")


class ActorType(models.TextChoices):
    SYSTEM = "system", _("System")
    USER = "user", _("User")
    PARTNER = "partner", _("Partner")
    REPORTER = "reporter", _("Anonymous reporter")


class EventKind(models.TextChoices):
    REPORTED = "reported", _("Reported")
    STATE_CHANGED = "state_changed", _("State changed")
    RESOLVED = "resolved", _("Resolved")
    RESOLUTION_FAILED = "resolution_failed", _("Resolution failed")
    PROVIDER_CHANGED = "provider_changed", _("Hosting provider changed")
    CONTACT_CHECKED = "contact_checked", _("Abuse contact checked")
    ASSESSED = "assessed", _("Assessed")
    REVIEW_REQUESTED = "review_requested", _("Second opinion requested")
    REVIEW_DECIDED = "review_decided", _("Second opinion given")
    ROUTED = "routed", _("Routed")
    RELEASED = "released", _("Released by a senior analyst")
    NOTICE_SENT = "notice_sent", _("Notice sent")
    NOTICE_DROPPED = "notice_dropped", _("Taken out of a notice")
    NOTICE_FAILED = "notice_failed", _("Notice failed")
    NOTICE_REPLY = "notice_reply", _("Reply to a notice")
    NOTICE_BOUNCED = "notice_bounced", _("Notice bounced")
    PROVIDER_RESPONDED = "provider_responded", _("Provider responded")
    DISPUTE_HANDLED = "dispute_handled", _("Dispute handled")
    REMOVED = "removed", _("Content removed")
    REAPPEARED = "reappeared", _("Content back online")
    MOVED = "moved", _("Content moved")
    ASSIGNED = "assigned", _("Assigned")
    DEADLINE_SET = "deadline_set", _("Deadline set")
    DEADLINE_BREACHED = "deadline_breached", _("Deadline passed with the content online")


class Verdict(models.TextChoices):
    ILLEGAL = "illegal", _("Illegal")
    NOT_ILLEGAL = "not_illegal", _("Not illegal")
    GONE = "gone", _("Cannot assess: content gone")
    CANNOT_ASSESS = "cannot_assess", _("Cannot assess: other reason")


class Case(models.Model):
    """One reported URL, identified by the SHA-256 of its canonical form."""

    url_sha256 = models.CharField(max_length=64, unique=True)
    canonical_url = models.TextField()
    # Staff only: it is the first reporter's spelling, and other reporters see their own
    # (`ReportedUrl.original_url`). Credentials are never stored (see `had_credentials`).
    original_url = models.TextField(help_text="The URL as first reported, without credentials.")
    scheme = models.CharField(max_length=5)
    # Indexed in Meta with the id (exact lookups, newest first); URL prefixes have their own index
    # (reports 0014, PostgreSQL).
    host = models.CharField(max_length=253)
    registrable_domain = models.CharField(max_length=253)
    port = models.PositiveIntegerField(null=True, blank=True)
    is_ip = models.BooleanField(default=False)
    unresolvable = models.BooleanField(default=False, help_text="A .onion or other non-DNS host.")
    had_credentials = models.BooleanField(default=False, help_text="A report's URL carried a user name or password.")
    state = models.CharField(max_length=32, choices=CaseState.choices, default=CaseState.NEW)
    state_changed_at = models.DateTimeField(default=timezone.now)
    first_reported_at = models.DateTimeField(db_index=True)
    last_reported_at = models.DateTimeField()
    report_count = models.PositiveIntegerField(default=1)
    # When resolution is due (set on creation, cleared when done). The sweep re-enqueues cases whose
    # resolution is overdue, so a lost queue message never loses a case.
    resolve_due_at = models.DateTimeField(null=True, blank=True)
    # Who resolves the case now, while ``resolve_due_at`` is the lease it renews as it works: the
    # claiming task's id (a redelivered message keeps it and takes its own claim over at once).
    # Empty when nobody does. A claim whose lease ran out belongs to a dead worker: the sweep of
    # abandoned claims hands it on.
    resolve_claim = models.CharField(max_length=64, blank=True, default="", db_default="")
    resolve_attempts = models.PositiveIntegerField(default=0)
    resolution = models.JSONField(default=dict, blank=True)
    # The resolution's conclusions, as columns so that queues and statistics can filter on them.
    resolved_at = models.DateTimeField(null=True, blank=True)
    provider = models.ForeignKey(
        "routing.Provider", null=True, blank=True, on_delete=models.SET_NULL, related_name="cases"
    )
    cdn = models.ForeignKey(
        "routing.Provider", null=True, blank=True, on_delete=models.SET_NULL, related_name="cdn_cases"
    )
    origin_provider = models.ForeignKey(
        "routing.Provider", null=True, blank=True, on_delete=models.SET_NULL, related_name="origin_cases"
    )
    hosting_country = models.CharField(max_length=2, blank=True, default="", db_default="")
    asn = models.PositiveBigIntegerField(null=True, blank=True, db_index=True)
    contact_confidence = models.CharField(max_length=4, blank=True, default="", db_default="")
    # Set when the abuse contact is not trustworthy enough to send a notice to without a senior
    # analyst looking at it first (the contact-check queue).
    contact_check = models.BooleanField(default=False, db_default=False)
    # The analyst who has the case open, until when (others see who holds it).
    locked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    locked_until = models.DateTimeField(null=True, blank=True)
    # Whom a senior analyst gave the case to (the case list's bulk action); None: anyone's.
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="assigned_cases"
    )
    # The current verdict (the latest `Assessment`), as a column for queues and statistics.
    verdict = models.CharField(max_length=16, choices=Verdict.choices, blank=True, default="", db_default="")
    assessed_at = models.DateTimeField(null=True, blank=True)
    # A partner flagged the case urgent, or it was reported again after it was first reported.
    urgent = models.BooleanField(default=False, db_default=False)
    # Notices (routing.notices): the last time the content was known to be online (the analyst saw
    # it, or an availability check), when planning must look at the case again (a delayed recipient,
    # a hold lifted), when the next reminder or escalation step is due, and when an availability
    # check was asked for (a provider said "removed").
    last_seen_online_at = models.DateTimeField(null=True, blank=True)
    notice_plan_at = models.DateTimeField(null=True, blank=True)
    ladder_due_at = models.DateTimeField(null=True, blank=True)
    check_due_at = models.DateTimeField(null=True, blank=True)
    # Availability (routing.checks.tracking): the current run of "gone" results, since when the URL
    # has been unreachable, and, once closed, when the content went and how the case closed.
    gone_since = models.DateTimeField(null=True, blank=True)
    gone_count = models.PositiveSmallIntegerField(default=0, db_default=0)
    last_gone_at = models.DateTimeField(null=True, blank=True)
    unreachable_since = models.DateTimeField(null=True, blank=True)
    # Since when checks find the URL redirected to another host (a linked case, `moved_from`,
    # carries the notices there): the case's reminders and escalation pause until a check finds the
    # content online at this URL again.
    moved_since = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removal_kind = models.CharField(max_length=24, choices=RemovalKind.choices, blank=True, default="", db_default="")
    # Checks still to make of a closed case, to see whether the content comes back.
    reappearance_checks = models.PositiveSmallIntegerField(default=0, db_default=0)
    # When the current notice cycle began: the first verdict, or the content's reappearance.
    cycle_started_at = models.DateTimeField(null=True, blank=True)
    # The case this one was opened from, when a check found the content moved to another host.
    moved_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="moved_to")

    class Meta:
        indexes = [
            models.Index(
                fields=["notice_plan_at"], name="case_notice_plan_idx", condition=models.Q(notice_plan_at__isnull=False)
            ),
            models.Index(
                fields=["ladder_due_at"], name="case_ladder_due_idx", condition=models.Q(ladder_due_at__isnull=False)
            ),
            models.Index(
                fields=["check_due_at"], name="case_check_due_idx", condition=models.Q(check_due_at__isnull=False)
            ),
            models.Index(
                fields=["first_reported_at"], name="case_contact_check_idx", condition=models.Q(contact_check=True)
            ),
            models.Index(fields=["state", "first_reported_at"], name="case_state_first_idx"),
            # A host's or a domain's cases, newest first (the search): ordered by id within the name.
            models.Index(fields=["host", "id"], name="case_host_id_idx"),
            models.Index(fields=["registrable_domain", "id"], name="case_domain_id_idx"),
            # A provider's open cases, counted without reading its closed ones.
            models.Index(fields=["provider", "state"], name="case_provider_state_idx"),
            models.Index(fields=["hosting_country"], name="case_country_idx"),
            # The case list's sort by last change (keyset pages on (state_changed_at, id)).
            models.Index(fields=["state_changed_at", "id"], name="case_changed_idx"),
            models.Index(
                fields=["resolve_due_at"], name="case_resolve_due_idx", condition=models.Q(resolve_due_at__isnull=False)
            ),
            models.Index(
                fields=["resolve_due_at"], name="case_resolve_claim_idx", condition=~models.Q(resolve_claim="")
            ),
        ]

    def __str__(self) -> str:
        return self.canonical_url


class Event(models.Model):
    """Append-only timeline entry of a case."""

    # Indexed by event_case_at_idx (case, at), which serves lookups by case alone too.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_partner = models.ForeignKey("reports.Partner", null=True, blank=True, on_delete=models.PROTECT)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["case", "at"], name="event_case_at_idx"),
            # The senior's audit view reads the events staff wrote, newest first (workspace.audit).
            models.Index(fields=["at", "id"], name="event_staff_at_idx", condition=models.Q(actor_user__isnull=False)),
        ]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {shown(self.at)}"
