"""Pages of senior analysts for the routing stage: the contact-check queue and the domain rules."""

from __future__ import annotations

from django.urls import include, path

from routing import views
from routing.checks.views import case_mark_removed_view

urlpatterns = [
    path("contacts/", views.contacts_queue, name="contacts-queue"),
    path("contacts/<int:pk>/confirm/", views.contact_confirm_view, name="contacts-confirm"),
    path("rules/", views.rules_list, name="rules-list"),
    path("rules/new/", views.rule_edit, name="rules-new"),
    path("rules/<int:pk>/", views.rule_edit, name="rules-edit"),
    path("rules/<int:pk>/delete/", views.rule_delete, name="rules-delete"),
    path("", include("routing.notices.urls")),
    path("cases/<int:pk>/removed/", case_mark_removed_view, name="cases-mark-removed"),
]
