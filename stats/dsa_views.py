"""The DSA export (`stats.dsa`): a download for senior analysts (``/stats/export/dsa.json`` and
``.csv``, linked from the notices list and the case page) and ``GET /api/v1/stats/dsa/`` for staff
tokens. Every export is audited. Partners never get it: the page needs a staff login, the
endpoint a staff member (`IsVerifiedAnalyst` refuses partner keys)."""

from __future__ import annotations

from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseBase, JsonResponse, StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.models import AuditAction
from accounts.roles import Role, require_role
from accounts.services import AuditContext, audit_record
from reports.api.views import IsVerifiedAnalyst
from scart.times import file_stamp
from stats.dsa import DsaExportInvalid, DsaFilters, dsa_csv_lines, dsa_json

FORMATS = ("json", "csv")


def _audit(request: Any, filters: DsaFilters, fmt: str) -> None:
    audit_record(
        action=AuditAction.EXPORTED,
        audit=AuditContext.from_request(request),
        object_type="dsa_statements",
        summary=f"DSA statements of reasons export ({fmt})",
        data={"from": str(filters.start or ""), "to": str(filters.end or ""), "case": filters.case_id},
    )


def _csv(filters: DsaFilters) -> StreamingHttpResponse:
    response = StreamingHttpResponse(dsa_csv_lines(filters), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scart-dsa-statements-{file_stamp()}.csv"'
    return response


def export_dsa(request: HttpRequest, fmt: str) -> HttpResponseBase:
    """``?from=YYYY-MM-DD&to=YYYY-MM-DD&case=N``: notices sent and verdicts given on or after
    ``from`` and before ``to``; ``case`` limits it to one case."""
    require_role(request, Role.SENIOR)
    if fmt not in FORMATS:
        raise Http404("no such format")
    try:
        filters = DsaFilters.parse(request.GET)
    except DsaExportInvalid as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain; charset=utf-8")
    _audit(request, filters, fmt)
    if fmt == "csv":
        return _csv(filters)
    response = JsonResponse(dsa_json(filters), json_dumps_params={"indent": 1})
    response["Content-Disposition"] = f'attachment; filename="scart-dsa-statements-{file_stamp()}.json"'
    return response


class DsaStatementsView(APIView):
    """Notices and case outcomes in the vocabulary of the DSA Transparency Database's statements
    of reasons (docs/notices.md, "DSA statements of reasons"): URLs and metadata only."""

    permission_classes = [IsVerifiedAnalyst]

    @extend_schema(
        parameters=[
            OpenApiParameter("from", OpenApiTypes.DATE, description="Sent (notices) or decided (cases) on or after."),
            OpenApiParameter("to", OpenApiTypes.DATE, description="Sent or decided before this day."),
            OpenApiParameter("case", int, description="One case only."),
            OpenApiParameter("output", str, enum=list(FORMATS), description="json (default) or csv."),
        ],
        responses={
            (200, "application/json"): OpenApiTypes.OBJECT,
            (200, "text/csv"): OpenApiTypes.STR,
            400: OpenApiResponse(description="A filter it cannot use."),
        },
    )
    def get(self, request: Request) -> Any:
        output = request.query_params.get("output") or "json"
        if output not in FORMATS:
            return Response({"detail": "output: json or csv"}, status=400)
        try:
            filters = DsaFilters.parse(request.query_params)
        except DsaExportInvalid as exc:
            return Response({"detail": str(exc)}, status=400)
        _audit(request, filters, output)
        if output == "csv":
            return _csv(filters)
        return Response(dsa_json(filters))
