"""The analyst and senior pages: triage queue, case pages, bulk action, second opinions, export,
contact checks, domain rules, notices, disputes, police-first releases and removal marked by hand.
The provider's public notice page, ``/n/<token>/``, is the notice stage's own and lives in `scart.urls`."""

from __future__ import annotations

from django.urls import path

from workspace.views import (
    audit,
    case,
    cases,
    contacts,
    deadlines,
    notice_actions,
    notices,
    provider_api,
    providers,
    queue,
    reviews,
    rules,
    worklists,
)

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
    # Finding things (issue 18): the search and the case list with its export and bulk actions.
    path("search/", cases.search_page, name="workspace-search"),
    path("cases/", cases.cases_list, name="cases-list"),
    path("cases/export.csv", cases.cases_export, name="cases-export"),
    path("cases/bulk/", cases.cases_bulk, name="cases-bulk"),
]

# Worklists and provider pages.
urlpatterns += [
    path("work/waiting/", worklists.waiting, name="worklist-waiting"),
    path("work/held/", worklists.held, name="worklist-held"),
    path("work/mine/", worklists.mine, name="worklist-mine"),
    path("providers/", providers.providers, name="providers-list"),
    path("providers/<int:pk>/", providers.provider_detail, name="providers-detail"),
    path("providers/<int:pk>/api/", provider_api.provider_api, name="providers-api"),
    path("providers/<int:pk>/channel/", providers.provider_channel, name="providers-channel"),
]

# Legal and agreed deadlines: the rules, the worklist and the evidence packs (workspace/views/deadlines.py).
urlpatterns += [
    path("deadlines/rules/", deadlines.deadline_rules, name="deadline-rules"),
    path("deadlines/rules/new/", deadlines.deadline_rule_edit, name="deadline-rules-new"),
    path("deadlines/rules/<int:pk>/", deadlines.deadline_rule_edit, name="deadline-rules-edit"),
    path("deadlines/rules/<int:pk>/delete/", deadlines.deadline_rule_delete, name="deadline-rules-delete"),
    path("work/deadlines/", deadlines.deadlines_worklist, name="worklist-deadlines"),
    path("cases/<int:pk>/evidence.<str:fmt>", deadlines.case_evidence_view, name="cases-evidence"),
    path("providers/<int:pk>/evidence.<str:fmt>", deadlines.provider_evidence_view, name="providers-evidence"),
    # Notice actions and the audit view (issue 18, notices)
    path("notices/<int:pk>/act/<slug:action>/", notice_actions.notice_action, name="notices-action"),
    path("audit/", audit.audit_list, name="audit-list"),
]
