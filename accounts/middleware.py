"""Every page but the public ones needs a logged-in staff member who passed the second factor
and holds a role."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import translation
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts import otp
from accounts.models import StaffProfile
from accounts.roles import role_of

# Open to anyone: the health check, the public report form, static files, the login steps
# (which check the first factor themselves), the API (its own authentication: partner keys,
# staff tokens, or a verified session; see `reports.api.views`), and a provider's notice link
# (its signed token is the credential; see `routing.notices.links`), the language switch, and the
# hotline's OpenPGP public keys (public by nature: they check the signatures of notices).
PUBLIC_PREFIXES = (
    "/healthz",
    "/report/",
    "/static/",
    "/login/",
    "/logout/",
    "/api/",
    "/favicon.ico",
    "/n/",
    "/i18n/",
    "/openpgp-key.asc",
)


class StaffAccessMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        path = request.path_info
        if path.startswith(PUBLIC_PREFIXES):
            return self.get_response(request)
        user = request.user
        query = urlencode({"next": request.get_full_path()})
        if not user.is_authenticated:
            return redirect(f"{reverse('login')}?{query}")
        if not user.is_verified():  # type: ignore[attr-defined]
            step = "login-verify" if otp.confirmed_device(user) is not None else "login-enrol"
            return redirect(f"{reverse(step)}?{query}")
        if role_of(user) is None:
            return HttpResponseForbidden(_("Your account has no role yet: ask an administrator to give you one."))
        return self.get_response(request)


# The staff member's chosen language ("" for the browser's), kept in the session after the first
# request so that a page does not pay a query for it; the settings page writes it afresh.
LANGUAGE_SESSION_KEY = "scart_language"


class StaffLanguageMiddleware:
    """The language a staff member chose on their settings page wins over the browser's
    (LocaleMiddleware, earlier in the chain, has activated that one already)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = request.user
        if user.is_authenticated:
            chosen = request.session.get(LANGUAGE_SESSION_KEY)
            if chosen is None:
                chosen = StaffProfile.objects.filter(user=user).values_list("language", flat=True).first() or ""
                request.session[LANGUAGE_SESSION_KEY] = chosen
            if chosen:
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        return self.get_response(request)
