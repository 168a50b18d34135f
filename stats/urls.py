"""Statistics pages, exports and the statistics API (all behind the staff login)."""

from __future__ import annotations

from django.urls import path

from stats import api

urlpatterns = [
    path("api/v1/stats/takedown/", api.TakedownStatsView.as_view(), name="api-stats-takedown"),
]
