"""Intake and assessment data: who reported what, one case per canonical URL, and its timeline.

scart keeps URLs and metadata only. No model here (or anywhere) has a field for file or binary
content; `tests/test_no_content_fields.py` fails if one appears.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from scart.times import shown


class Channel(models.TextChoices):
    API = "api", "API"
    WEB_FORM = "web_form", "Public web form"
    BULK_IMPORT = "bulk_import", "Bulk file import"
    MAILBOX = "mailbox", "Mailbox"
    PARTNER = "partner", "Partner hotline"
    CHECK = "check", "Availability check (content moved)"


class CaseState(models.TextChoices):
    """Every state a case can be in; changes go through `reports.services.case_transition`."""

    NEW = "new", "New: awaiting resolution"
    AWAITING_ASSESSMENT = "awaiting_assessment", "Awaiting assessment"
    ILLEGAL = "illegal", "Illegal: awaiting notice"
    NOTIFIED = "notified", "Notified: tracking until removed"
    REMOVED = "removed", "Closed: removed"
    NOT_ILLEGAL = "not_illegal", "Closed: not illegal"
    CANNOT_ASSESS = "cannot_assess", "Closed: cannot assess"


class RemovalKind(models.TextChoices):
    GONE = "gone", "Removed (checks found it gone)"
    BEFORE_NOTICE = "before_notice", "Removed before any notice"
    UNREACHABLE = "unreachable", "Unreachable for too long"
    MANUAL = "manual", "Marked removed by an analyst"


class ActorType(models.TextChoices):
    SYSTEM = "system", "System"
    USER = "user", "User"
    PARTNER = "partner", "Partner"
    REPORTER = "reporter", "Anonymous reporter"


class EventKind(models.TextChoices):
    REPORTED = "reported", "Reported"
    STATE_CHANGED = "state_changed", "State changed"
    RESOLVED = "resolved", "Resolved"
    RESOLUTION_FAILED = "resolution_failed", "Resolution failed"
    PROVIDER_CHANGED = "provider_changed", "Hosting provider changed"
    CONTACT_CHECKED = "contact_checked", "Abuse contact checked"
    ASSESSED = "assessed", "Assessed"
    REVIEW_REQUESTED = "review_requested", "Second opinion requested"
    REVIEW_DECIDED = "review_decided", "Second opinion given"
    ROUTED = "routed", "Routed"
    RELEASED = "released", "Released by a senior analyst"
    NOTICE_SENT = "notice_sent", "Notice sent"
    NOTICE_DROPPED = "notice_dropped", "Taken out of a notice"
    NOTICE_FAILED = "notice_failed", "Notice failed"
    NOTICE_REPLY = "notice_reply", "Reply to a notice"
    NOTICE_BOUNCED = "notice_bounced", "Notice bounced"
    PROVIDER_RESPONDED = "provider_responded", "Provider responded"
    DISPUTE_HANDLED = "dispute_handled", "Dispute handled"
    REMOVED = "removed", "Content removed"
    REAPPEARED = "reappeared", "Content back online"
    MOVED = "moved", "Content moved"


class Verdict(models.TextChoices):
    ILLEGAL = "illegal", "Illegal"
    NOT_ILLEGAL = "not_illegal", "Not illegal"
    GONE = "gone", "Cannot assess: content gone"
    CANNOT_ASSESS = "cannot_assess", "Cannot assess: other reason"


class LegalBasis(models.TextChoices):
    BASELINE = "baseline", "Baseline (illegal everywhere)"
    NATIONAL = "national", "National law"


class Category(models.TextChoices):
    A1 = "A1", "A1: prepubescent, sexual activity"
    A2 = "A2", "A2: prepubescent, posing"
    B1 = "B1", "B1: pubescent, sexual activity"
    B2 = "B2", "B2: pubescent, posing"


class AgeGroup(models.TextChoices):
    INFANT_TODDLER = "infant_toddler", "Infant or toddler"
    PREPUBESCENT = "prepubescent", "Prepubescent"
    PUBESCENT = "pubescent", "Pubescent"
    UNKNOWN = "unknown", "Unknown"


class MediaType(models.TextChoices):
    IMAGE = "image", "Image"
    VIDEO = "video", "Video"
    PAGE = "page", "Page or gallery"
    OTHER = "other", "Other"


class AiGenerated(models.TextChoices):
    YES = "yes", "Yes"
    SUSPECTED = "suspected", "Suspected"
    NO = "no", "No"
    UNKNOWN = "unknown", "Unknown"


class PoliceReason(models.TextChoices):
    VICTIM_IDENTIFIABLE = "victim_identifiable", "Victim may be identifiable"
    IMMEDIATE_DANGER = "immediate_danger", "Child in immediate danger"
    OFFENDER_IDENTIFIABLE = "offender_identifiable", "Offender may be identifiable"
    OTHER = "other", "Other (see notes)"


class NotIllegalReason(models.TextChoices):
    ADULT = "adult", "Adult"
    NUDITY = "nudity", "Non-sexual nudity"
    CHILD_NON_SEXUAL = "child_non_sexual", "Child, non-sexual"
    VIRTUAL_LEGAL = "virtual_legal", "Virtual, legal here"
    OTHER = "other", "Other"


class AssessmentSource(models.TextChoices):
    ANALYST = "analyst", "Analyst"
    SUGGESTION = "suggestion", "Analyst, accepting a suggestion"
    AUTOMATIC = "automatic", "Automatic (a rule set to auto-accept)"
    REVIEW = "review", "Senior analyst, deciding a second opinion"
    BULK = "bulk", "Analyst, bulk action"


class Partner(models.Model):
    """An organisation that submits reports through the API (a partner hotline, a crawler...)."""

    name = models.CharField(max_length=200, unique=True)
    contact_email = models.EmailField(blank=True)
    # A DRF rate such as "600/min"; blank means SCART_API_THROTTLE.
    rate_limit = models.CharField(max_length=32, blank=True)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.name


class ApiKey(models.Model):
    """A partner's key. Only its SHA-256 is stored; the key itself is shown once, at creation.

    Keys are 256-bit random strings, so a fast hash is enough: there is nothing to brute-force
    that a slow hash would protect.
    """

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=12, help_text="First characters of the key, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "API key"

    def __str__(self) -> str:
        return f"{self.partner.name}: {self.prefix}…"


class Case(models.Model):
    """One reported URL, identified by the SHA-256 of its canonical form."""

    url_sha256 = models.CharField(max_length=64, unique=True)
    canonical_url = models.TextField()
    # Staff only: it is the first reporter's spelling, and other reporters see their own
    # (`ReportedUrl.original_url`). Credentials are never stored (see `had_credentials`).
    original_url = models.TextField(help_text="The URL as first reported, without credentials.")
    scheme = models.CharField(max_length=5)
    # Indexed in Meta: a plain b-tree (no LIKE-prefix copy: lookups are exact, or by suffix).
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
            models.Index(fields=["host"], name="case_host_idx"),
            models.Index(fields=["registrable_domain"], name="case_domain_idx"),
            models.Index(fields=["hosting_country"], name="case_country_idx"),
            models.Index(
                fields=["resolve_due_at"], name="case_resolve_due_idx", condition=models.Q(resolve_due_at__isnull=False)
            ),
            models.Index(
                fields=["resolve_due_at"], name="case_resolve_claim_idx", condition=~models.Q(resolve_claim="")
            ),
        ]

    def __str__(self) -> str:
        return self.canonical_url


class Report(models.Model):
    """One submission through one channel; it names one or more URLs."""

    reference = models.CharField(max_length=32, unique=True)
    channel = models.CharField(max_length=16, choices=Channel.choices)
    partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.PROTECT, related_name="reports")
    source = models.CharField(max_length=200, blank=True, help_text="Bulk file source name or mailbox sender.")
    reporter_email = models.EmailField(blank=True)
    description = models.TextField(blank=True)
    external_ref = models.CharField(max_length=200, blank=True)
    # [{"type": "sha256" | "photodna" | "md5" | "sha1", "value": "..."}]: metadata, never content.
    hashes = models.JSONField(default=list, blank=True)
    # A partner hotline's own classification of the URLs ({"verdict": "illegal", "category": "A1",
    # ...}): shown to analysts as a suggestion, never final on its own.
    classification = models.JSONField(default=dict, blank=True)
    # The partner asks for priority (e.g. a child may be in danger): the cases go up the queue.
    urgent = models.BooleanField(default=False, db_default=False)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)
    url_count = models.PositiveIntegerField(default=0)
    rejected_count = models.PositiveIntegerField(default=0)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    # The mail server's permanent refusal of the acknowledgement (a 5xx): it is not tried again.
    acknowledgement_error = models.CharField(max_length=500, blank=True, default="", db_default="")
    cases = models.ManyToManyField(Case, through="ReportedUrl", related_name="reports")

    class Meta:
        indexes = [models.Index(fields=["partner", "external_ref"], name="report_partner_ref_idx")]
        constraints = [
            # A mail message is filed once, even if two polls of the mailbox overlap.
            models.UniqueConstraint(
                fields=["external_ref"], condition=models.Q(channel="mailbox"), name="report_mailbox_message_once"
            )
        ]

    def __str__(self) -> str:
        return self.reference


class ReportedUrl(models.Model):
    """A URL as a report named it, linked to the case of its canonical form.

    ``original_url`` is the URL as that reporter typed it, less any user name and password
    (`reports.urls.url_without_credentials`): it is shown to that reporter (a partner's own
    reports in the API) and to staff, never to another reporter of the same case.
    """

    report = models.ForeignKey(Report, on_delete=models.CASCADE, related_name="urls")
    case = models.ForeignKey(Case, on_delete=models.PROTECT, related_name="reported_urls")
    original_url = models.TextField(help_text="The URL as reported, without credentials.")
    had_credentials = models.BooleanField(
        default=False, db_default=False, help_text="The URL as reported carried a user name or password (dropped)."
    )
    duplicate = models.BooleanField(help_text="The case existed before this report named it.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["report", "case"], name="reportedurl_once_per_report")]

    def __str__(self) -> str:
        return self.original_url


class Event(models.Model):
    """Append-only timeline entry of a case."""

    # Indexed by event_case_at_idx (case, at), which serves lookups by case alone too.
    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="events", db_index=False)
    kind = models.CharField(max_length=32, choices=EventKind.choices)
    at = models.DateTimeField(default=timezone.now)
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    actor_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_partner = models.ForeignKey(Partner, null=True, blank=True, on_delete=models.PROTECT)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["case", "at"], name="event_case_at_idx")]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.kind} at {shown(self.at)}"


class IdempotencyKey(models.Model):
    """The first response to an API request sent with an Idempotency-Key, replayed on retries."""

    partner = models.ForeignKey(Partner, on_delete=models.CASCADE)
    key = models.CharField(max_length=200)
    request_sha256 = models.CharField(max_length=64)
    response_status = models.PositiveSmallIntegerField()
    response_json = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["partner", "key"], name="idempotency_key_once")]

    def __str__(self) -> str:
        return self.key


class Assessment(models.Model):
    """One verdict on a case with everything that came with it. Append-only: a later change is a
    new row (and a new event), never an edit; the case's current verdict is its latest row."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="assessments")
    at = models.DateTimeField(default=timezone.now)
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    source = models.CharField(max_length=16, choices=AssessmentSource.choices, default=AssessmentSource.ANALYST)
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    legal_basis = models.CharField(max_length=16, choices=LegalBasis.choices, blank=True)
    category = models.CharField(max_length=2, choices=Category.choices, blank=True)
    age_group = models.CharField(max_length=16, choices=AgeGroup.choices, blank=True)
    media_type = models.CharField(max_length=8, choices=MediaType.choices, blank=True)
    ai_generated = models.CharField(max_length=16, choices=AiGenerated.choices, blank=True)
    drawn = models.BooleanField(null=True, blank=True, help_text="Drawn or otherwise not photorealistic.")
    police_first = models.BooleanField(default=False)
    police_reason = models.CharField(max_length=32, choices=PoliceReason.choices, blank=True)
    not_illegal_reason = models.CharField(max_length=32, choices=NotIllegalReason.choices, blank=True)
    notes = models.TextField(blank=True)
    # Where a suggestion the analyst accepted came from: {"kind": ..., "detail": ...}.
    suggestion = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["case", "at"], name="assessment_case_at_idx")]
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.verdict} on case {self.case_id}"


class ReviewReason(models.TextChoices):
    SAMPLE = "sample", "Random sample of verdicts"
    TRAINING = "training", "Analyst in training"
    PARTNER_DISAGREES = "partner_disagrees", "Not illegal, where a partner hotline said illegal"


class ReviewState(models.TextChoices):
    OPEN = "open", "Awaiting a senior analyst"
    AGREED = "agreed", "Agreed"
    OVERRULED = "overruled", "Disagreed: the senior analyst's verdict stands"
    SUPERSEDED = "superseded", "Superseded by a later verdict"


class Review(models.Model):
    """A second opinion on one assessment. While a blocking review is open, no notice goes out
    for the case; a sampled one only measures agreement. Both opinions stay as assessments."""

    case = models.ForeignKey(Case, on_delete=models.CASCADE, related_name="reviews")
    assessment = models.OneToOneField(Assessment, on_delete=models.CASCADE, related_name="review")
    analyst = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reason = models.CharField(max_length=24, choices=ReviewReason.choices)
    blocking = models.BooleanField(help_text="Notices for the case wait until the review is decided.")
    requested_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=16, choices=ReviewState.choices, default=ReviewState.OPEN)
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    # The senior analyst's own assessment, when it differs in any field from the first one.
    decision = models.ForeignKey(Assessment, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        indexes = [
            models.Index(fields=["requested_at"], name="review_open_idx", condition=models.Q(state="open")),
            models.Index(fields=["analyst", "state"], name="review_analyst_idx"),
        ]

    def __str__(self) -> str:
        return f"review of case {self.case_id} ({self.state})"
