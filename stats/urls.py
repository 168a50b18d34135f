"""Statistics pages, exports and the statistics API (all behind the staff login)."""

from __future__ import annotations

from django.urls import path

from stats import api, dsa_views, report_views, views

urlpatterns = [
    path("api/v1/stats/takedown/", api.TakedownStatsView.as_view(), name="api-stats-takedown"),
    path("api/v1/stats/dsa/", dsa_views.DsaStatementsView.as_view(), name="api-stats-dsa"),
    path("stats/export/dsa.<str:fmt>", dsa_views.export_dsa, name="stats-export-dsa"),
    path("stats/", views.dashboard, name="stats-dashboard"),
    path("stats/chart/<slug:name>.svg", views.chart, name="stats-chart"),
    path("stats/export/cases.csv", views.export_cases, name="stats-export-cases"),
    path("stats/export/<slug:table>.csv", views.export_table, name="stats-export"),
    path("stats/transparency/<int:year>/", report_views.transparency_page, name="stats-transparency"),
    path("stats/transparency/<int:year>.csv", report_views.transparency_csv_view, name="stats-transparency-csv"),
]
