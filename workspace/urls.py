"""The analyst workspace: triage queue, case pages, bulk action, second opinions, export."""

from __future__ import annotations

from django.urls import path

from reports import workspace

urlpatterns = [
    path("", workspace.queue, name="workspace-queue"),
    path("cases/<int:pk>/", workspace.case_page, name="workspace-case"),
    path("cases/<int:pk>/assess/", workspace.case_assess_view, name="workspace-assess"),
    path("cases/<int:pk>/bulk/", workspace.bulk_assess, name="workspace-bulk"),
    path("cases/next/", workspace.next_case, name="workspace-next"),
    path("reviews/", workspace.reviews_queue, name="reviews-queue"),
    path("reviews/<int:pk>/", workspace.review_page, name="reviews-page"),
    path("reviews/<int:pk>/decide/", workspace.review_decide_view, name="reviews-decide"),
    path("export/queue.csv", workspace.queue_export, name="workspace-export"),
]
