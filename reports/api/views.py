"""The API: report URLs (partners), list and read cases, assess a case (staff)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.db.models import Prefetch, QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
)
from rest_framework import generics, permissions, serializers, status
from rest_framework.exceptions import NotFound
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.roles import Role, has_role
from accounts.services import AuditContext
from reports.api.auth import PartnerPrincipal
from reports.api.idempotency import KEY_CHARACTERS, MAX_KEY_LENGTH, IdempotencyKeyReused, request_fingerprint, run_once
from reports.api.serializers import (
    AssessmentCreateSerializer,
    AssessmentSerializer,
    PartnerCaseSerializer,
    ReportCreatedSerializer,
    ReportCreateSerializer,
    StaffCaseDetailSerializer,
    StaffCaseSerializer,
)
from reports.assessment import AssessmentInvalid, CaseLocked, Classification, case_assess
from reports.cases.services import StateConflict
from reports.models import Case, CaseState, Channel, Event, Partner, ReportedUrl
from reports.selectors import PartnerStatus, cases_filter, cases_visible_to, partner_cases
from reports.services import IntakeResult, report_create
from scart.times import iso, iso_or_none

# Security requirements for `extend_schema(auth=...)`: a list of OpenAPI requirement objects, as
# drf-spectacular takes them, though its annotation says `Sequence[str]`.
PARTNER_AUTH: Any = [{"ApiKey": []}]
STAFF_AUTH: Any = [{"StaffToken": []}, {"cookieAuth": []}]


class IsPartner(permissions.BasePermission):
    message = "Reports are submitted with a partner API key."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, PartnerPrincipal)


class IsVerifiedAnalyst(permissions.BasePermission):
    """A staff member with at least the analyst role who passed the second factor: a session after
    TOTP, or a staff token (which counts as verified, see `accounts.api_auth`). Never a partner."""

    message = "This needs a staff token, or a staff login with the second factor, of an analyst or above."

    def has_permission(self, request: Request, view: Any) -> bool:
        user = request.user
        if user is None or isinstance(user, PartnerPrincipal):
            return False
        verified = getattr(user, "is_verified", None)
        return has_role(user, Role.ANALYST) and verified is not None and bool(verified())


class IsPartnerOrVerifiedAnalyst(IsVerifiedAnalyst):
    """A partner (who sees the cases its reports named), or a verified analyst or above."""

    message = "This needs a partner API key, a staff token, or a staff login with the second factor."

    def has_permission(self, request: Request, view: Any) -> bool:
        return isinstance(request.user, PartnerPrincipal) or super().has_permission(request, view)


def intake_response_body(result: IntakeResult) -> dict[str, Any]:
    report = result.report
    return {
        "report": {
            "id": report.pk,
            "reference": report.reference,
            "channel": report.channel,
            "received_at": iso(report.received_at),
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
        auth=PARTNER_AUTH,
        request=ReportCreateSerializer,
        parameters=[
            OpenApiParameter(
                "Idempotency-Key",
                OpenApiTypes.STR,
                OpenApiParameter.HEADER,
                description="Any unique string of printable ASCII, up to 200 characters; a retry with the same key "
                "returns the first response.",
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
                    classification=data["classification"],
                    urgent=data["urgent"],
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
            if len(key) > MAX_KEY_LENGTH or not KEY_CHARACTERS.fullmatch(key):
                raise serializers.ValidationError(
                    {"Idempotency-Key": f"at most {MAX_KEY_LENGTH} printable ASCII characters"}
                )
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


# Staff filter by the case's states, a partner by the statuses of its view: the two share every
# name but `received`, which stands for the states before an assessment.
STATE_FILTER_CHOICES = [*CaseState.choices, (PartnerStatus.RECEIVED.value, PartnerStatus.RECEIVED.label)]


class CaseFilterSerializer(serializers.Serializer[dict[str, Any]]):
    state = serializers.ChoiceField(
        choices=STATE_FILTER_CHOICES,
        required=False,
        help_text="A partner filters by the status it sees (`received` for a case not assessed yet); "
        "staff by the case's state.",
    )
    host = serializers.CharField(required=False, max_length=253)
    domain = serializers.CharField(required=False, max_length=253)
    received_after = serializers.DateTimeField(required=False)
    received_before = serializers.DateTimeField(required=False)


class CasePagination(CursorPagination):
    ordering = "-id"


def _partner_of(request: Request) -> Partner | None:
    user = request.user
    return user.partner if isinstance(user, PartnerPrincipal) else None


def _case_schema(name: str, staff: type[serializers.Serializer[Any]]) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name=name,
        serializers=[PartnerCaseSerializer, staff],
        resource_type_field_name=None,
    )


CASE_VIEWS_DESCRIPTION = (
    "A partner key gets the partner view (`PartnerCase`): the case's progress and the partner's own "
    "reports of it, nothing the hotline's staff or providers wrote and nothing of other reporters. "
    "Staff get the staff view (`StaffCase`); who reported a case is for senior analysts only."
)


@extend_schema(
    parameters=[CaseFilterSerializer],
    description=f"Cases you may see (a partner: those its reports named), newest first. {CASE_VIEWS_DESCRIPTION}",
    responses={200: _case_schema("CaseListItem", StaffCaseSerializer)},
)
class CaseListView(generics.ListAPIView[Case]):
    """Cases you may see (a partner: those its reports named), newest first."""

    permission_classes = [IsPartnerOrVerifiedAnalyst]

    pagination_class = CasePagination

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return PartnerCaseSerializer if _partner_of(self.request) else StaffCaseSerializer

    def get_queryset(self) -> QuerySet[Case]:
        filters = CaseFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        partner = _partner_of(self.request)
        if partner is not None:
            if filters.validated_data.get("state") not in (None, *PartnerStatus.values):
                raise serializers.ValidationError({"state": [f"one of {', '.join(PartnerStatus.values)}"]})
            return cases_filter(partner_cases(partner=partner), partner=partner, **filters.validated_data)
        return cases_filter(cases_visible_to(user=self.request.user), **filters.validated_data)


@extend_schema(
    description=f"One case. {CASE_VIEWS_DESCRIPTION} Staff also get its resolution, reports and timeline.",
    responses={200: _case_schema("CaseDetail", StaffCaseDetailSerializer)},
)
class CaseDetailView(generics.RetrieveAPIView[Case]):
    """One case: the partner view or the staff view with its timeline."""

    permission_classes = [IsPartnerOrVerifiedAnalyst]

    def get_serializer_class(self) -> type[serializers.BaseSerializer[Any]]:
        return PartnerCaseSerializer if _partner_of(self.request) else StaffCaseDetailSerializer

    def get_queryset(self) -> QuerySet[Case]:
        partner = _partner_of(self.request)
        if partner is not None:
            return partner_cases(partner=partner)
        return cases_visible_to(user=self.request.user).prefetch_related(
            Prefetch("events", queryset=Event.objects.order_by("at", "id")),
            Prefetch(
                "reported_urls",
                queryset=ReportedUrl.objects.select_related("report", "report__partner").order_by(
                    "report__received_at", "id"
                ),
            ),
        )


ASSESSMENT_ERRORS = {
    400: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Malformed JSON, or fields that do not make a valid verdict: a list of messages per field.",
        examples=[
            OpenApiExample(
                "Incomplete",
                value={"category": ["required for this verdict"], "media_type": ["required for this verdict"]},
            )
        ],
    ),
    401: OpenApiResponse(description="No credentials, or an unknown, revoked or expired token."),
    403: OpenApiResponse(description="Not a verified staff member with the analyst role (partner keys never are)."),
    404: OpenApiResponse(description="No such case."),
    409: OpenApiResponse(
        OpenApiTypes.OBJECT,
        description="Another analyst has the case open (`locked_by`, `locked_until`), or the case is past "
        "assessment (`state`).",
        examples=[
            OpenApiExample(
                "Locked",
                value={
                    "detail": "ann has this case open.",
                    "locked_by": "ann",
                    "locked_until": "2026-01-05T10:15:00+00:00",
                },
            ),
            OpenApiExample(
                "Past assessment",
                value={
                    "detail": "case 42 is notified: tracking until removed: it cannot be assessed now",
                    "state": "notified",
                },
            ),
        ],
    ),
}


class CaseAssessmentView(APIView):
    permission_classes = [IsVerifiedAnalyst]

    @extend_schema(
        operation_id="cases_assessment_create",
        auth=STAFF_AUTH,
        request=AssessmentCreateSerializer,
        responses={201: AssessmentSerializer, **ASSESSMENT_ERRORS},
        examples=[
            OpenApiExample(
                "Illegal",
                value={
                    "verdict": "illegal",
                    "legal_basis": "baseline",
                    "category": "A1",
                    "media_type": "image",
                    "notes": "gallery page, 12 images",
                },
                request_only=True,
            ),
            OpenApiExample(
                "Not illegal",
                value={"verdict": "not_illegal", "not_illegal_reason": "adult"},
                request_only=True,
            ),
        ],
    )
    def post(self, request: Request, pk: int) -> Response:
        """Record a verdict on a case, as the staff member authenticated, and move the case on.

        Assessing a case again records a new assessment (the latest counts), until notices have
        gone out. There is no Idempotency-Key here: a repeated request is a second assessment.
        """
        case = cases_visible_to(user=request.user).filter(pk=pk).first()
        if case is None:
            raise NotFound("No such case.")
        serializer = AssessmentCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            assessment = case_assess(
                case=case,
                user=request.user,
                classification=Classification(**serializer.validated_data),
                audit=AuditContext.from_request(request._request),
            )
        except AssessmentInvalid as exc:
            # Programs read the API: its messages stay English.
            raise serializers.ValidationError(
                {name: [message] for name, message in exc.english_errors().items()}
            ) from None
        except CaseLocked as exc:
            holder = exc.holder.get_username() if exc.holder is not None else None
            return Response(
                {
                    "detail": f"{holder or 'Another analyst'} has this case open.",
                    "locked_by": holder,
                    "locked_until": iso_or_none(exc.until),
                },
                status=status.HTTP_409_CONFLICT,
            )
        except StateConflict as exc:
            state = Case.objects.filter(pk=pk).values_list("state", flat=True).first()
            return Response({"detail": exc.english(), "state": state}, status=status.HTTP_409_CONFLICT)
        # The state as stored: the assessment may have led somewhere else than the verdict's state.
        assessment.case.refresh_from_db(fields=["state"])
        return Response(AssessmentSerializer(assessment).data, status=status.HTTP_201_CREATED)
