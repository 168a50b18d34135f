"""Staff pages of the notice stage: notices (analysts), disputes and police-first releases (seniors).
The provider's own page, ``/n/<token>/``, is public and lives in `scart.urls`."""

from __future__ import annotations

from django.urls import path

from routing.notices import views

urlpatterns = [
    path("notices/", views.notices_list, name="notices-list"),
    path("notices/<int:pk>/", views.notice_detail, name="notices-detail"),
    path("notices/<int:pk>/resend/", views.notice_resend_view, name="notices-resend"),
    path("notices/<int:pk>/mark-sent/", views.notice_mark_sent_view, name="notices-mark-sent"),
    path("disputes/", views.disputes_queue, name="disputes-queue"),
    path("disputes/<int:pk>/decide/", views.dispute_decide_view, name="disputes-decide"),
    path("cases/<int:pk>/release/", views.case_release_view, name="cases-release"),
]
