"""URL map: staff login, analyst workspace, admin, public report form, API with its schema and docs,
health check."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView

from reports.views import report_form
from routing.notices.views import notice_link, openpgp_key
from scart.health import healthz

# Under /api/ errors are JSON; a database or broker that is down answers 503 (scart.errors).
handler400 = "scart.errors.bad_request"
handler404 = "scart.errors.page_not_found"
handler500 = "scart.errors.server_error"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    # The admin is behind the same login (password, then the second factor) as every staff page.
    path("admin/login/", RedirectView.as_view(url="/login/", query_string=True)),
    path("admin/", admin.site.urls),
    path("", include("accounts.urls")),
    path("", include("workspace.urls")),
    path("report/", report_form, name="report-form"),
    # The language switch of the public pages (a cookie; staff choose theirs on /settings/).
    path("i18n/", include("django.conf.urls.i18n")),
    # A provider's confirmation link for one notice: public, signed, expiring.
    path("n/<str:token>/", notice_link, name="notice-link"),
    # The hotline's OpenPGP public keys, which check the signatures of notices: public.
    path("openpgp-key.asc", openpgp_key, name="openpgp-key"),
    path("api/v1/", include("reports.api.urls")),
    path("", include("stats.urls")),
    path("", include("privacy.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerSplitView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]
