"""The intake API: report URLs, list and read cases."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, permissions, serializers, status
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.api.auth import PartnerPrincipal
from reports.api.idempotency import MAX_KEY_LENGTH, IdempotencyKeyReused, request_fingerprint, run_once
from reports.api.serializers import (
    CaseDetailSerializer,
    CaseSerializer,
    ReportCreatedSerializer,
    ReportCreateSerializer,
)
from reports.models import Case, Channel
from reports.selectors import cases_filter, cases_visible_to
from reports.services import IntakeResult, report_create


class IsPartner(permissions.BasePermission):
    message = "Reports are submitted with a partner API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, PartnerPrincipal)


def intake_response_body(result: IntakeResult) -> dict[str, Any]:
    report = result.report
    return {
        "report": {
            "id": report.pk,
            "reference": report.reference,
            "channel": report.channel,
            "received_at": report.received_at.isoformat(),
        },
        "accepted": len(result.accepted),
        "new": result.new_count,
        "duplicates": result.duplicate_count,
        "rejected": len(result.rejected),
        "urls": [
            {"index": a.index, "url": a.url, "case": a.case_id, "canonical": a.canonical, "duplicate": a.duplicate}
            for a in result.accepted
        ],
        "rejected_urls": [
            {"index": r.index, "url": r.url, "code": r.code, "reason": r.reason} for r in result.rejected
        ],
    }


class ReportCreateView(APIView):
    permission_classes = [IsPartner]

    @extend_schema(
        operation_id="reports_create",
        request=ReportCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Any unique string; a retry with the same key returns the first response.",
            )
        ],
        responses={
            201: ReportCreatedSerializer,
            400: OpenApiResponse(description="Invalid request, or no acceptable URL (reasons per URL)."),
            409: OpenApiResponse(description="Idempotency-Key already used for a different request."),
            429: OpenApiResponse(description="Rate limit exceeded; see Retry-After."),
        },
        examples=[
            OpenApiExample(
                "Two URLs",
                value={
                    "urls": ["https://example.com/gallery/123", "example.net/a?b=1"],
                    "external_ref": "partner-4711",
                    "description": "found by crawler",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request: Request) -> Response:
        """Report one or more URLs. Each URL gets a case (existing ones count as duplicates)."""
        principal = request.user
        assert isinstance(principal, PartnerPrincipal)
        serializer = ReportCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data

        def produce() -> tuple[int, dict[str, Any]]:
            with transaction.atomic():
                result = report_create(
                    channel=Channel.API,
                    partner=principal.partner,
                    urls=data["urls"],
                    description=data["description"],
                    external_ref=data["external_ref"],
                    reporter_email=data["reporter_email"],
                    hashes=data["hashes"],
                )
                body = intake_response_body(result)
                if not result.accepted:
                    # Nothing to keep: roll the empty report back and tell the partner why, URL by URL.
                    raise NothingAccepted(body)
            return status.HTTP_201_CREATED, body

        key = request.headers.get("Idempotency-Key", "").strip()
        try:
            if not key:
                code, body = produce()
                return Response(body, status=code)
            if len(key) > MAX_KEY_LENGTH:
                raise serializers.ValidationError({"Idempotency-Key": f"at most {MAX_KEY_LENGTH} characters"})
            stored = run_once(
                partner=principal.partner, key=key, fingerprint=request_fingerprint(request.data), produce=produce
            )
        except NothingAccepted as exc:
            return Response(
                {"detail": "None of the URLs can be accepted.", "rejected_urls": exc.body["rejected_urls"]},
                status=status.HTTP_400_BAD_REQUEST,
            )
        except IdempotencyKeyReused:
            return Response(
                {"detail": "This Idempotency-Key was already used for a different request."},
                status=status.HTTP_409_CONFLICT,
            )
        headers = {"Idempotent-Replayed": "true"} if stored.replayed else {}
        return Response(stored.body, status=stored.status, headers=headers)


class NothingAccepted(Exception):
    def __init__(self, body: dict[str, Any]) -> None:
        super().__init__("no URL accepted")
        self.body = body


class CaseFilterSerializer(serializers.Serializer[dict[str, Any]]):
    state = serializers.ChoiceField(choices=Case._meta.get_field("state").choices or [], required=False)
    host = serializers.CharField(required=False, max_length=253)
    domain = serializers.CharField(required=False, max_length=253)
    received_after = serializers.DateTimeField(required=False)
    received_before = serializers.DateTimeField(required=False)


class CasePagination(CursorPagination):
    ordering = "-id"


@extend_schema(parameters=[CaseFilterSerializer])
class CaseListView(generics.ListAPIView[Case]):
    """Cases you may see (a partner: those its reports named), newest first."""

    serializer_class = CaseSerializer
    pagination_class = CasePagination

    def get_queryset(self) -> QuerySet[Case]:
        filters = CaseFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return cases_filter(cases_visible_to(user=self.request.user), **filters.validated_data)


class CaseDetailView(generics.RetrieveAPIView[Case]):
    """One case with its timeline."""

    serializer_class = CaseDetailSerializer

    def get_queryset(self) -> QuerySet[Case]:
        return cases_visible_to(user=self.request.user).prefetch_related("events")
