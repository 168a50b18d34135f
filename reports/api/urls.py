from __future__ import annotations

from django.urls import path

from reports.api import views

urlpatterns = [
    path("reports/", views.ReportCreateView.as_view(), name="api-report-create"),
    path("cases/", views.CaseListView.as_view(), name="api-case-list"),
    path("cases/<int:pk>/", views.CaseDetailView.as_view(), name="api-case-detail"),
    path("cases/<int:pk>/assessment", views.CaseAssessmentView.as_view(), name="api-case-assessment"),
]
