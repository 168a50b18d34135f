"""Request and response shapes of the API: intake, cases, assessment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from django.conf import settings
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.roles import Role, has_role
from reports.assessment import VERDICT_FIELDS
from reports.models import (
    AgeGroup,
    AiGenerated,
    Assessment,
    Case,
    CaseState,
    Category,
    Event,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    PoliceReason,
    Report,
    ReportedUrl,
    Verdict,
)
from reports.selectors import PARTNER_STATUS, PartnerStatus
from reports.suggestions import clean_partner_classification

HASH_PATTERNS = {
    "sha256": re.compile(r"^[0-9a-f]{64}$"),
    "sha1": re.compile(r"^[0-9a-f]{40}$"),
    "md5": re.compile(r"^[0-9a-f]{32}$"),
    # PhotoDNA hashes travel as base64 (144 bytes) or as comma-separated numbers.
    "photodna": re.compile(r"^(?:[A-Za-z0-9+/]{100,400}={0,2}|[0-9]{1,3}(?:,[0-9]{1,3}){100,200})$"),
}


class HashSerializer(serializers.Serializer[dict[str, str]]):
    type = serializers.ChoiceField(choices=sorted(HASH_PATTERNS))
    value = serializers.CharField(max_length=2000)

    def validate(self, attrs: dict[str, str]) -> dict[str, str]:
        kind = attrs["type"]
        value = attrs["value"].strip()
        if kind != "photodna":
            value = value.lower()
        if not HASH_PATTERNS[kind].match(value):
            raise serializers.ValidationError({"value": f"not a valid {kind} value"})
        return {"type": kind, "value": value}


class ReportCreateSerializer(serializers.Serializer[dict[str, Any]]):
    urls = serializers.ListField(
        child=serializers.JSONField(),
        min_length=1,
        max_length=settings.SCART_MAX_URLS_PER_REPORT,
        help_text="The URLs to report, 1 to 10,000. Unacceptable ones are listed with reasons; the rest are kept.",
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=10_000, default="")
    external_ref = serializers.CharField(required=False, allow_blank=True, max_length=200, default="")
    reporter_email = serializers.EmailField(required=False, allow_blank=True, default="")
    hashes = HashSerializer(many=True, required=False, default=list)
    classification = serializers.JSONField(
        required=False,
        default=dict,
        help_text=(
            "Your own classification of these URLs, shown to our analysts as a suggestion (never final): "
            '{"verdict": "illegal", "category": "A1", "legal_basis": "baseline", "media_type": "image", '
            '"ai_generated": "no"}. verdict: illegal, not_illegal, gone, cannot_assess; category A1, A2, B1, B2.'
        ),
    )
    urgent = serializers.BooleanField(
        required=False, default=False, help_text="Ask for priority, e.g. when a child may be in immediate danger."
    )

    def validate_classification(self, value: Any) -> dict[str, Any]:
        if value in (None, {}):
            return {}
        try:
            return clean_partner_classification(value)
        except ValueError as exc:
            raise serializers.ValidationError(str(exc)) from exc


class AcceptedUrlSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    url = serializers.CharField()
    case = serializers.IntegerField()
    canonical = serializers.CharField()
    duplicate = serializers.BooleanField()


class RejectedUrlSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField()
    url = serializers.CharField()
    code = serializers.CharField()
    reason = serializers.CharField()


class ReportSummarySerializer(serializers.ModelSerializer[Report]):
    class Meta:
        model = Report
        fields = ["id", "reference", "channel", "received_at"]


class ReportCreatedSerializer(serializers.Serializer[Any]):
    report = ReportSummarySerializer()
    accepted = serializers.IntegerField()
    new = serializers.IntegerField()
    duplicates = serializers.IntegerField()
    rejected = serializers.IntegerField()
    urls = AcceptedUrlSerializer(many=True)
    rejected_urls = RejectedUrlSerializer(many=True)


def sees_reporters(context: Mapping[str, Any]) -> bool:
    """Who reported a case (partner, sender, address, their reference) is for senior analysts, as
    on the case page (docs/workspace.md); analysts see that a report came, not from whom."""
    request = context.get("request")
    return request is not None and has_role(request.user, Role.SENIOR)


class EventSerializer(serializers.ModelSerializer[Event]):
    actor = serializers.SerializerMethodField(
        help_text="`user:<id>`, `partner:<id>` (senior analysts; `partner` for others), or the actor type."
    )

    class Meta:
        model = Event
        fields = ["kind", "at", "actor", "data"]

    def get_actor(self, event: Event) -> str:
        if event.actor_partner_id:
            return f"partner:{event.actor_partner_id}" if sees_reporters(self.context) else "partner"
        if event.actor_user_id:
            return f"user:{event.actor_user_id}"
        return str(event.actor_type)


class StaffReportSerializer(serializers.ModelSerializer[ReportedUrl]):
    """A report that named the case. Who sent it is for senior analysts: null for analysts."""

    reference = serializers.CharField(source="report.reference")
    channel = serializers.CharField(source="report.channel")
    received_at = serializers.DateTimeField(source="report.received_at")
    url = serializers.CharField(source="original_url", help_text="The URL as reported, without credentials.")
    partner = serializers.SerializerMethodField(help_text="Senior analysts only: the partner's id.")
    partner_name = serializers.SerializerMethodField(help_text="Senior analysts only: the partner's name.")
    external_ref = serializers.SerializerMethodField(help_text="Senior analysts only: the reporter's reference.")
    reporter_email = serializers.SerializerMethodField(help_text="Senior analysts only.")
    # Named as the model names it; DRF takes declared fields off the class, so this hides no attribute.
    source = serializers.SerializerMethodField(  # type: ignore[assignment]
        help_text="Senior analysts only: bulk file source or mail sender."
    )

    class Meta:
        model = ReportedUrl
        fields = [
            "reference",
            "channel",
            "received_at",
            "url",
            "had_credentials",
            "duplicate",
            "partner",
            "partner_name",
            "external_ref",
            "reporter_email",
            "source",
        ]

    def _senior(self, value: Any) -> Any:
        return value if sees_reporters(self.context) else None

    def get_partner(self, link: ReportedUrl) -> int | None:
        return self._senior(link.report.partner_id)  # type: ignore[no-any-return]

    def get_partner_name(self, link: ReportedUrl) -> str | None:
        partner = link.report.partner
        return self._senior(partner.name) if partner is not None else None

    def get_external_ref(self, link: ReportedUrl) -> str | None:
        return self._senior(link.report.external_ref)  # type: ignore[no-any-return]

    def get_reporter_email(self, link: ReportedUrl) -> str | None:
        return self._senior(link.report.reporter_email)  # type: ignore[no-any-return]

    def get_source(self, link: ReportedUrl) -> str | None:
        return self._senior(link.report.source)  # type: ignore[no-any-return]


class StaffCaseSerializer(serializers.ModelSerializer[Case]):
    """A case as staff see it (a staff token or a verified session)."""

    class Meta:
        model = Case
        fields = [
            "id",
            "canonical_url",
            "original_url",
            "url_sha256",
            "scheme",
            "host",
            "registrable_domain",
            "port",
            "is_ip",
            "unresolvable",
            "had_credentials",
            "state",
            "first_reported_at",
            "last_reported_at",
            "report_count",
        ]


class StaffCaseDetailSerializer(StaffCaseSerializer):
    """A case as staff see it, with its resolution, its reports and its whole timeline."""

    timeline = EventSerializer(many=True, source="events")
    resolution = serializers.JSONField()
    reports = StaffReportSerializer(many=True, source="reported_urls")

    class Meta(StaffCaseSerializer.Meta):
        fields = [*StaffCaseSerializer.Meta.fields, "resolution", "reports", "timeline"]


class PartnerReportSerializer(serializers.ModelSerializer[ReportedUrl]):
    """One of the partner's own reports that named the case."""

    reference = serializers.CharField(source="report.reference", help_text="Our reference of your report.")
    external_ref = serializers.CharField(source="report.external_ref", help_text="Your reference, as you sent it.")
    received_at = serializers.DateTimeField(source="report.received_at")
    url = serializers.CharField(
        source="original_url", help_text="The URL as you reported it, less any user name and password."
    )
    had_credentials = serializers.BooleanField(
        help_text="Your URL carried a user name or password; scart does not keep them."
    )

    class Meta:
        model = ReportedUrl
        fields = ["reference", "external_ref", "received_at", "url", "had_credentials"]


class PartnerCaseSerializer(serializers.ModelSerializer[Case]):
    """A case as a partner sees it: its public progress and the partner's own reports of it.

    Nothing the hotline's staff or the providers wrote, nothing of any other reporter (not even how
    many there were or when the first came), and no URL as anyone else typed it.
    """

    status = serializers.SerializerMethodField(help_text="Where the case stands.")
    assessed_at = serializers.DateTimeField(
        allow_null=True, help_text="When the current assessment was made; null before any."
    )
    notified_at = serializers.DateTimeField(
        allow_null=True, read_only=True, help_text="When the case was first notified; null until then."
    )
    removed_at = serializers.SerializerMethodField(help_text="When the content was found gone; null unless removed.")
    reports = PartnerReportSerializer(many=True, source="own_reports", help_text="Your reports that named this URL.")

    class Meta:
        model = Case
        fields = [
            "id",
            "canonical_url",
            "url_sha256",
            "host",
            "registrable_domain",
            "status",
            "assessed_at",
            "notified_at",
            "removed_at",
            "reports",
        ]

    @extend_schema_field(serializers.ChoiceField(choices=PartnerStatus.choices))
    def get_status(self, case: Case) -> str:
        return str(PARTNER_STATUS[case.state])

    @extend_schema_field(serializers.DateTimeField(allow_null=True))
    def get_removed_at(self, case: Case) -> str | None:
        if case.state != CaseState.REMOVED or case.removed_at is None:
            return None
        return serializers.DateTimeField().to_representation(case.removed_at)


def _optional_choice(choices: Any, help_text: str) -> serializers.ChoiceField:
    return serializers.ChoiceField(choices=choices, required=False, allow_blank=True, default="", help_text=help_text)


class AssessmentCreateSerializer(serializers.Serializer[dict[str, Any]]):
    """The fields of `reports.assessment.Classification`. Which ones a verdict needs (and which it
    forbids) is checked by the assessment itself; errors come back per field either way."""

    verdict = serializers.ChoiceField(choices=Verdict.choices)
    legal_basis = _optional_choice(LegalBasis.choices, "Required for illegal.")
    category = _optional_choice(Category.choices, "Required for illegal.")
    age_group = _optional_choice(AgeGroup.choices, "For illegal; implied by categories A1 to B2 when omitted.")
    media_type = _optional_choice(MediaType.choices, "Required for illegal.")
    ai_generated = _optional_choice(AiGenerated.choices, "For illegal; unknown when omitted.")
    drawn = serializers.BooleanField(
        required=False, allow_null=True, default=None, help_text="For illegal (false when omitted) or not illegal."
    )
    police_first = serializers.BooleanField(
        required=False, default=False, help_text="Illegal only: contact the police before any notice."
    )
    police_reason = _optional_choice(PoliceReason.choices, "Required with police_first.")
    not_illegal_reason = _optional_choice(NotIllegalReason.choices, "Required for not illegal.")
    notes = serializers.CharField(required=False, allow_blank=True, max_length=5000, default="")

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        # A misspelt field would otherwise be dropped silently, and a verdict recorded without,
        # say, its police-first flag: refuse what is not a field, along with any other error.
        names = data.keys() if isinstance(data, Mapping) else ()
        unknown = {str(name): ["not a field of an assessment"] for name in names if name not in self.fields}
        try:
            value: dict[str, Any] = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {"non_field_errors": exc.detail}
            raise serializers.ValidationError({**unknown, **detail}) from None
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


class AssessmentSerializer(serializers.ModelSerializer[Assessment]):
    analyst = serializers.SerializerMethodField()
    case_state = serializers.SerializerMethodField(help_text="The case's state after this assessment.")

    class Meta:
        model = Assessment
        fields = [
            "id",
            "case",
            "case_state",
            "at",
            "analyst",
            "source",
            *VERDICT_FIELDS,
            "notes",
        ]

    def get_analyst(self, assessment: Assessment) -> str | None:
        return assessment.analyst.get_username() if assessment.analyst is not None else None

    def get_case_state(self, assessment: Assessment) -> str:
        return str(assessment.case.state)
