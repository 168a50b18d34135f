"""Intake and assessment data: who reported what, one case per canonical URL, and its timeline.

scart keeps URLs and metadata only. No model here (or anywhere) has a field for file or binary
content; `tests/test_no_content_fields.py` fails if one appears.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# The core's models and choices, where the rest of the app (and its migrations' history) found them.
from reports.cases.models import ActorType as ActorType
from reports.cases.models import Case as Case
from reports.cases.models import CaseState as CaseState
from reports.cases.models import Event as Event
from reports.cases.models import EventKind as EventKind
from reports.cases.models import RemovalKind as RemovalKind
from reports.cases.models import Verdict as Verdict


class Channel(models.TextChoices):
    API = "api", _("API")
    WEB_FORM = "web_form", _("Public web form")
    BULK_IMPORT = "bulk_import", _("Bulk file import")
    MAILBOX = "mailbox", _("Mailbox")
    PARTNER = "partner", _("Partner hotline")
    CHECK = "check", _("Availability check (content moved)")


class LegalBasis(models.TextChoices):
    BASELINE = "baseline", _("Baseline (illegal everywhere)")
    NATIONAL = "national", _("National law")


class Category(models.TextChoices):
    A1 = "A1", _("A1: prepubescent, sexual activity")
    A2 = "A2", _("A2: prepubescent, posing")
    B1 = "B1", _("B1: pubescent, sexual activity")
    B2 = "B2", _("B2: pubescent, posing")


class AgeGroup(models.TextChoices):
    INFANT_TODDLER = "infant_toddler", _("Infant or toddler")
    PREPUBESCENT = "prepubescent", _("Prepubescent")
    PUBESCENT = "pubescent", _("Pubescent")
    UNKNOWN = "unknown", _("Unknown")


class MediaType(models.TextChoices):
    IMAGE = "image", _("Image")
    VIDEO = "video", _("Video")
    PAGE = "page", _("Page or gallery")
    OTHER = "other", _("Other")


class AiGenerated(models.TextChoices):
    YES = "yes", _("Yes")
    SUSPECTED = "suspected", _("Suspected")
    NO = "no", _("No")
    UNKNOWN = "unknown", _("Unknown")


class PoliceReason(models.TextChoices):
    VICTIM_IDENTIFIABLE = "victim_identifiable", _("Victim may be identifiable")
    IMMEDIATE_DANGER = "immediate_danger", _("Child in immediate danger")
    OFFENDER_IDENTIFIABLE = "offender_identifiable", _("Offender may be identifiable")
    OTHER = "other", _("Other (see notes)")


class NotIllegalReason(models.TextChoices):
    ADULT = "adult", _("Adult")
    NUDITY = "nudity", _("Non-sexual nudity")
    CHILD_NON_SEXUAL = "child_non_sexual", _("Child, non-sexual")
    VIRTUAL_LEGAL = "virtual_legal", _("Virtual, legal here")
    OTHER = "other", _("Other")


class AssessmentSource(models.TextChoices):
    ANALYST = "analyst", _("Analyst")
    SUGGESTION = "suggestion", _("Analyst, accepting a suggestion")
    AUTOMATIC = "automatic", _("Automatic (a rule set to auto-accept)")
    REVIEW = "review", _("Senior analyst, deciding a second opinion")
    BULK = "bulk", _("Analyst, bulk action")


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
    SAMPLE = "sample", _("Random sample of verdicts")
    TRAINING = "training", _("Analyst in training")
    PARTNER_DISAGREES = "partner_disagrees", _("Not illegal, where a partner hotline said illegal")


class ReviewState(models.TextChoices):
    OPEN = "open", _("Awaiting a senior analyst")
    AGREED = "agreed", _("Agreed")
    OVERRULED = "overruled", _("Disagreed: the senior analyst's verdict stands")
    SUPERSEDED = "superseded", _("Superseded by a later verdict")


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
