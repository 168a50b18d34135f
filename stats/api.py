"""``GET /api/v1/stats/takedown/``: the dashboard's figures, with the same filters and groupings."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from reports.api.views import IsVerifiedAnalyst
from stats.measures import GROUPINGS, MEASURES, StatsQueryError
from stats.params import CHOICES, stats_params, takedown_body

PARAMETERS = [
    OpenApiParameter("measure", str, enum=list(MEASURES), description="What is timed (default: removal)."),
    OpenApiParameter("group_by", str, enum=[g for g in GROUPINGS if g], description="One row per group."),
    OpenApiParameter("from", OpenApiTypes.DATE, description="First reported on or after this day."),
    OpenApiParameter("to", OpenApiTypes.DATE, description="First reported before this day."),
    OpenApiParameter("country", str, description="Hosting country (ISO 3166-1 alpha-2)."),
    OpenApiParameter("provider", str, description="Hosting provider: its number or its name (any case)."),
    OpenApiParameter("asn", str, description="Autonomous system number (64500 or AS64500)."),
    *(OpenApiParameter(name, str, enum=list(choices.values)) for name, choices in CHOICES.items()),
    OpenApiParameter("working_hours", bool, description="Durations in the hotline's working hours."),
]


class TakedownStatsView(APIView):
    """Takedown-time figures (count, median, 90th percentile, mean in hours; the shares within
    24 h, 72 h and 7 days) for cases first reported in the period, and the headline counts.
    Definitions: docs/statistics.md."""

    permission_classes = [IsVerifiedAnalyst]

    @extend_schema(
        parameters=PARAMETERS,
        responses={200: OpenApiTypes.OBJECT, 400: OpenApiResponse(description="A filter it cannot use.")},
    )
    def get(self, request: Request) -> Response:
        try:
            params = stats_params(request.query_params)
            body = takedown_body(params)
        except StatsQueryError as exc:
            # Programs read the API: its messages stay English, with the code and field to act on.
            return Response({"detail": exc.english(), "code": exc.code, "field": exc.field}, status=400)
        return Response(body)  # dates (the week and month groups) as ISO text, by DRF's encoder
