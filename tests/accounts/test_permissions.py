"""The permission matrix: every view and API endpoint, for anonymous visitors, a logged-in user
without a role, a user who passed the password but not the second factor, an analyst, a senior
analyst and an administrator. A URL added without a row here fails `test_every_url_is_in_the_matrix`.
"""

from __future__ import annotations

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from reports.assessment import Classification, case_assess
from reports.models import Review
from routing.models import DeadlineRule, DomainRule, Notice, Provider
from routing.notices.planning import cases_plan_notices
from tests import factories
from tests.conftest import staff_login

pytestmark = pytest.mark.django_db

# Who may: "public" (anyone), "analyst", "senior", "admin" (that role or a higher one), "partner"
# (a partner API key only), "analyst+partner" (either).
MATRIX: dict[str, tuple[str, str, str]] = {
    # name: (method, path template, who may)
    "healthz": ("get", "/healthz", "public"),
    "report-form": ("get", "/report/", "public"),
    "login": ("get", "/login/", "public"),
    "set_language": ("post", "/i18n/setlang/", "public"),
    "openpgp-key": ("get", "/openpgp-key.asc", "public"),
    "account-settings": ("get", "/settings/", "analyst"),
    "workspace-queue": ("get", "/", "analyst"),
    "workspace-case": ("get", "/cases/{case}/", "analyst"),
    "workspace-assess": ("post", "/cases/{case}/assess/", "analyst"),
    "workspace-bulk": ("post", "/cases/{case}/bulk/", "analyst"),
    "workspace-next": ("get", "/cases/next/", "analyst"),
    "reviews-queue": ("get", "/reviews/", "senior"),
    "reviews-page": ("get", "/reviews/{review}/", "senior"),
    "reviews-decide": ("post", "/reviews/{review}/decide/", "senior"),
    "workspace-export": ("get", "/export/queue.csv", "senior"),
    "contacts-queue": ("get", "/contacts/", "senior"),
    "contacts-confirm": ("post", "/contacts/{provider}/confirm/", "senior"),
    "rules-list": ("get", "/rules/", "senior"),
    "rules-new": ("get", "/rules/new/", "senior"),
    "rules-edit": ("get", "/rules/{rule}/", "senior"),
    "rules-delete": ("get", "/rules/{rule}/delete/", "senior"),
    "notices-list": ("get", "/notices/", "analyst"),
    "notices-detail": ("get", "/notices/{notice}/", "analyst"),
    "notices-resend": ("post", "/notices/{notice}/resend/", "senior"),
    "notices-mark-sent": ("post", "/notices/{notice}/mark-sent/", "senior"),
    "notices-action": ("get", "/notices/{notice}/act/send-now/", "senior"),
    "audit-list": ("get", "/audit/", "senior"),
    "privacy-retention": ("get", "/privacy/", "senior"),
    "privacy-reporter": ("get", "/privacy/reporter/", "senior"),
    "disputes-queue": ("get", "/disputes/", "senior"),
    "disputes-decide": ("post", "/disputes/{notice_case}/decide/", "senior"),
    "cases-release": ("post", "/cases/{case}/release/", "senior"),
    "cases-mark-removed": ("post", "/cases/{case}/removed/", "analyst"),
    "workspace-search": ("get", "/search/?q=example.com", "analyst"),
    "cases-list": ("get", "/cases/", "analyst"),
    "cases-export": ("get", "/cases/export.csv", "senior"),
    "cases-bulk": ("post", "/cases/bulk/", "analyst"),
    "worklist-waiting": ("get", "/work/waiting/", "analyst"),
    "worklist-held": ("get", "/work/held/", "analyst"),
    "worklist-mine": ("get", "/work/mine/", "analyst"),
    "providers-list": ("get", "/providers/", "analyst"),
    "providers-detail": ("get", "/providers/{provider}/", "analyst"),
    "providers-api": ("get", "/providers/{provider}/api/", "senior"),
    "providers-channel": ("post", "/providers/{provider}/channel/", "senior"),
    "worklist-deadlines": ("get", "/work/deadlines/", "analyst"),
    "deadline-rules": ("get", "/deadlines/rules/", "senior"),
    "deadline-rules-new": ("get", "/deadlines/rules/new/", "senior"),
    "deadline-rules-edit": ("get", "/deadlines/rules/{deadline_rule}/", "senior"),
    "deadline-rules-delete": ("get", "/deadlines/rules/{deadline_rule}/delete/", "senior"),
    "cases-evidence": ("get", "/cases/{case}/evidence.pdf", "senior"),
    "providers-evidence": ("get", "/providers/{provider}/evidence.json", "senior"),
    "admin:index": ("get", "/admin/", "admin"),
    "admin:auth_user_changelist": ("get", "/admin/auth/user/", "admin"),
    "admin:accounts_auditentry_changelist": ("get", "/admin/accounts/auditentry/", "admin"),
    "admin:routing_provider_changelist": ("get", "/admin/routing/provider/", "admin"),
    "api-report-create": ("post", "/api/v1/reports/", "partner"),
    # Partners see the cases their own reports named (another's case is a 404 to them).
    "api-case-list": ("get", "/api/v1/cases/", "analyst+partner"),
    "api-case-detail": ("get", "/api/v1/cases/{case}/", "analyst+partner"),
    "api-case-assessment": ("post", "/api/v1/cases/{case}/assessment", "analyst"),
    "api-stats-takedown": ("get", "/api/v1/stats/takedown/", "analyst"),
    "api-stats-dsa": ("get", "/api/v1/stats/dsa/", "analyst"),
    "stats-export-dsa": ("get", "/stats/export/dsa.csv", "senior"),
    "stats-transparency": ("get", "/stats/transparency/2025/", "senior"),
    "stats-transparency-csv": ("get", "/stats/transparency/2025.csv", "senior"),
    "stats-dashboard": ("get", "/stats/", "analyst"),
    "stats-chart": ("get", "/stats/chart/weekly-volumes.svg", "analyst"),
    "stats-export": ("get", "/stats/export/providers.csv", "analyst"),
    "stats-export-cases": ("get", "/stats/export/cases.csv", "analyst"),
}
# Steps of the login itself and documentation, checked elsewhere (tests/accounts/test_login.py,
# tests/reports/test_api_*.py); the admin's other pages share the admin site's check tested here.
# notice-link is public by design (a signed link for one notice): tests/routing/test_notice_link.py.
NOT_IN_MATRIX = {
    "login-verify",
    "login-enrol",
    "login-enrol-link",
    "logout",
    "api-schema",
    "api-docs",
    "api-redoc",
    "notice-link",
}
RANK = {"analyst": 1, "senior": 2, "admin": 3}
VISITORS = ["anonymous", "password_only", "no_role", "analyst", "senior", "admin", "partner"]


def _names(patterns: list, namespace: str = "") -> set[str]:
    names: set[str] = set()
    for p in patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                continue  # the admin's own URLs: sampled above
            names |= _names(p.url_patterns, f"{p.namespace}:" if p.namespace else namespace)
        elif isinstance(p, URLPattern) and p.name:
            names.add(namespace + p.name)
    return names


def test_every_url_is_in_the_matrix():
    names = _names(get_resolver().url_patterns)
    assert names - set(MATRIX) - NOT_IN_MATRIX == set()


@pytest.fixture
def world(settings):
    settings.SCART_HOTLINE_COUNTRY = "NL"  # the notice below goes to the provider in the own country
    case = factories.awaiting_case("https://example.com/matrix")
    trainee = factories.staff_user("trainee")
    from accounts.models import StaffProfile

    StaffProfile.objects.create(user=trainee, in_training=True)
    other = factories.awaiting_case("https://example.com/matrix2")
    case_assess(
        case=other,
        user=trainee,
        classification=Classification(verdict="not_illegal", not_illegal_reason="adult"),
    )
    provider = Provider.objects.create(name="Matrix Hosting", abuse_emails=["abuse@example.net"])
    rule = DomainRule.objects.create(suffix="matrix.example.org")
    deadline_rule = DeadlineRule.objects.create(name="Matrix deadline", hours=24)
    illegal = factories.awaiting_case("https://example.com/matrix3", hosting_country="NL", provider=provider)
    case_assess(
        case=illegal,
        user=None,
        classification=Classification(verdict="illegal", legal_basis="baseline", category="A1", media_type="image"),
    )
    cases_plan_notices(case_ids=[illegal.pk])
    notice = Notice.objects.get(provider=provider)
    return {
        "case": case.pk,
        "review": Review.objects.get().pk,
        "provider": provider.pk,
        "rule": rule.pk,
        "deadline_rule": deadline_rule.pk,
        "notice": notice.pk,
        "notice_case": notice.items.get().pk,
    }


def _client(visitor: str) -> Client:
    client = Client()
    if visitor in RANK:
        role = {"analyst": "analyst", "senior": "senior", "admin": "admin"}[visitor]
        staff_login(client, factories.staff_user(f"{visitor}-user", role))
    elif visitor == "no_role":
        staff_login(client, factories.staff_user("nobody", None))
    elif visitor == "password_only":
        client.force_login(factories.staff_user("halfway", "admin"))  # no second factor yet
    elif visitor == "partner":
        _, key = factories.partner_with_key("Matrix Partner")
        client.defaults["HTTP_AUTHORIZATION"] = f"Api-Key {key}"
    return client


def _allowed(who: str, visitor: str) -> bool:
    if who == "public":
        return True
    if who == "partner":
        return visitor == "partner"
    if who == "analyst+partner":
        return visitor == "partner" or _allowed("analyst", visitor)
    return visitor in RANK and RANK[visitor] >= RANK[who]


@pytest.mark.parametrize("visitor", VISITORS)
def test_the_matrix(visitor, world):
    client = _client(visitor)
    wrong = []
    for method, template, who in MATRIX.values():
        path = template.format(**world)
        if method == "get":
            response = client.get(path)
        else:
            response = client.post(
                path,
                {} if not path.startswith("/api/") else "{}",
                content_type=("application/json" if path.startswith("/api/") else "application/x-www-form-urlencoded"),
            )
        status = response.status_code
        location = response.get("Location", "")
        if _allowed(who, visitor):
            # Allowed: whatever the view makes of an empty request, but not a refusal.
            ok = status < 500 and status not in (401, 403) and not location.startswith("/login/")
        elif path.startswith("/api/"):
            ok = status in (401, 403)
        elif visitor in ("anonymous", "password_only", "partner"):  # a partner key is no staff login
            ok = status == 302 and location.startswith("/login/")
        else:
            ok = status == 403
        if not ok:
            wrong.append(f"{method.upper()} {path} ({who}): {status} {location}")
    assert wrong == []


def test_an_administrator_marks_an_analyst_in_training_on_the_user_page(admin_client):
    analyst = factories.staff_user("learner")
    page = admin_client.get(f"/admin/auth/user/{analyst.pk}/change/")
    assert page.status_code == 200 and b"in_training" in page.content  # the inline's field
    admin_only = Client()
    staff_login(admin_only, factories.staff_user("admin-by-role", "admin"))  # a group, not a superuser
    assert admin_only.get("/admin/auth/user/").status_code == 200
    assert admin_only.get(f"/admin/auth/user/{analyst.pk}/change/").status_code == 200


def test_a_page_above_ones_role_says_which_role_it_needs_in_the_sites_frame(client):
    staff_login(client, factories.staff_user("ana"))
    response = client.get("/reviews/")
    assert response.status_code == 403
    page = response.content.decode()
    assert "needs the senior analyst role" in page
    assert '<nav class="staff' in page  # the workspace's own header, not a bare "403 Forbidden"
    assert 'href="/"' in page  # a way back to the queue
