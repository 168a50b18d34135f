"""The analyst workspace: triage queue and case pages."""

from __future__ import annotations

from django.urls import path

from reports import workspace

urlpatterns = [
    path("", workspace.queue, name="workspace-queue"),
    path("cases/<int:pk>/", workspace.case_page, name="workspace-case"),
    path("cases/<int:pk>/assess/", workspace.case_assess_view, name="workspace-assess"),
    path("cases/next/", workspace.next_case, name="workspace-next"),
]
