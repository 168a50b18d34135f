"""Request and response shapes of the intake API."""

from __future__ import annotations

import re
from typing import Any

from django.conf import settings
from rest_framework import serializers

from reports.models import Case, Event, Report

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


class EventSerializer(serializers.ModelSerializer[Event]):
    actor = serializers.SerializerMethodField()

    class Meta:
        model = Event
        fields = ["kind", "at", "actor", "data"]

    def get_actor(self, event: Event) -> str:
        if event.actor_partner_id:
            return f"partner:{event.actor_partner_id}"
        if event.actor_user_id:
            return f"user:{event.actor_user_id}"
        return str(event.actor_type)


class CaseSerializer(serializers.ModelSerializer[Case]):
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
            "state",
            "first_reported_at",
            "last_reported_at",
            "report_count",
        ]


class CaseDetailSerializer(CaseSerializer):
    timeline = EventSerializer(many=True, source="events")
    resolution = serializers.JSONField()

    class Meta(CaseSerializer.Meta):
        fields = [*CaseSerializer.Meta.fields, "resolution", "timeline"]
