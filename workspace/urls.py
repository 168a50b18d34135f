"""The analyst and senior pages: triage queue, case pages, bulk action, second opinions, export,
contact checks, domain rules, notices, disputes, police-first releases and removal marked by hand.
The provider's public notice page, ``/n/<token>/``, is the notice stage's own and lives in `scart.urls`."""

from __future__ import annotations

from django.urls import path

from workspace.views import audit, case, contacts, notice_actions, notices, queue, reviews, rules

urlpatterns = [
    path("", queue.queue, name="workspace-queue"),
    path("cases/<int:pk>/", case.case_page, name="workspace-case"),
    path("cases/<int:pk>/assess/", case.case_assess_view, name="workspace-assess"),
    path("cases/<int:pk>/bulk/", case.bulk_assess, name="workspace-bulk"),
    path("cases/next/", queue.next_case, name="workspace-next"),
    path("reviews/", reviews.reviews_queue, name="reviews-queue"),
    path("reviews/<int:pk>/", reviews.review_page, name="reviews-page"),
    path("reviews/<int:pk>/decide/", reviews.review_decide_view, name="reviews-decide"),
    path("export/queue.csv", queue.queue_export, name="workspace-export"),
    path("contacts/", contacts.contacts_queue, name="contacts-queue"),
    path("contacts/<int:pk>/confirm/", contacts.contact_confirm_view, name="contacts-confirm"),
    path("rules/", rules.rules_list, name="rules-list"),
    path("rules/new/", rules.rule_edit, name="rules-new"),
    path("rules/<int:pk>/", rules.rule_edit, name="rules-edit"),
    path("rules/<int:pk>/delete/", rules.rule_delete, name="rules-delete"),
    path("notices/", notices.notices_list, name="notices-list"),
    path("notices/<int:pk>/", notices.notice_detail, name="notices-detail"),
    path("notices/<int:pk>/resend/", notice_actions.notice_resend_view, name="notices-resend"),
    path("notices/<int:pk>/mark-sent/", notice_actions.notice_mark_sent_view, name="notices-mark-sent"),
    path("disputes/", notices.disputes_queue, name="disputes-queue"),
    path("disputes/<int:pk>/decide/", notices.dispute_decide_view, name="disputes-decide"),
    path("cases/<int:pk>/release/", notices.police_hold_release_view, name="cases-release"),
    path("cases/<int:pk>/removed/", case.case_mark_removed_view, name="cases-mark-removed"),
    # Notice actions and the audit view (issue 18, notices)
    path("notices/<int:pk>/act/<slug:action>/", notice_actions.notice_action, name="notices-action"),
    path("audit/", audit.audit_list, name="audit-list"),
]
