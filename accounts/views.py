"""Staff login: password (throttled and locked out by django-axes), then a TOTP code; enrolment
of an authenticator app through a one-time link an administrator issued."""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_POST
from django_otp import login as otp_login

from accounts import otp
from accounts.forms import CodeForm, LanguageForm
from accounts.middleware import LANGUAGE_SESSION_KEY
from accounts.models import AuditAction, StaffProfile
from accounts.services import AuditContext, audit_record


def _next(request: HttpRequest) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return reverse("workspace-queue")


# The enrolment link a person opened, kept in the session until they have enrolled.
ENROLMENT_SESSION_KEY = "scart_enrolment_link"


class StaffLoginView(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = False

    def form_valid(self, form):  # type: ignore[no-untyped-def]
        user = form.get_user()
        may_enrol = otp.enrolment_allowed(user, self.request.session.get(ENROLMENT_SESSION_KEY))
        if otp.confirmed_device(user) is None and not may_enrol:
            # A password alone never enrols a second factor: that takes a link from an administrator.
            audit_record(
                action=AuditAction.LOGIN_FAILED,
                audit=AuditContext.from_request(self.request),
                obj=user,
                summary="password right, but no second factor and no enrolment link",
            )
            form.add_error(None, _(NO_SECOND_FACTOR))
            return self.form_invalid(form)
        super().form_valid(form)
        target = "login-enrol" if may_enrol else "login-verify"
        return HttpResponseRedirect(f"{reverse(target)}?{urlencode({'next': _next(self.request)})}")


NO_SECOND_FACTOR = gettext_noop(
    "This account has no second factor yet. Ask an administrator for an enrolment link, open it, then log in."
)


def login_enrol_link(request: HttpRequest, key: str) -> HttpResponse:
    """An enrolment link an administrator issued: remembered in this browser's session, then the
    password step; the enrolment page follows it."""
    link = otp.enrolment_link_find(key)
    if link is None:
        return render(request, "accounts/enrol_link_invalid.html", status=404)
    if request.user.is_authenticated and request.user.pk != link.user_id:
        logout(request)
    request.session[ENROLMENT_SESSION_KEY] = link.pk
    messages.info(request, _("Log in with your password to set up your authenticator app."))
    return redirect(f"{reverse('login')}?{urlencode({'next': reverse('workspace-queue')})}")


def _second_factor_pending(request: HttpRequest) -> HttpResponse | None:
    if not request.user.is_authenticated:
        return redirect(f"{reverse('login')}?{urlencode({'next': _next(request)})}")
    if request.user.is_verified():  # type: ignore[attr-defined]
        return redirect(_next(request))
    return None


def _code_refused(request: HttpRequest, form: CodeForm, refused: str, *, summary: str, message: str) -> None:
    """Audit a refused code and say why on the form: too many tries, or ``message``."""
    audit_record(
        action=AuditAction.OTP_FAILED,
        audit=AuditContext.from_request(request),
        obj=request.user,
        summary=summary,
        summary_params={},
    )
    form.add_error("code", _(otp.THROTTLED) if refused == otp.THROTTLED else message)


def login_verify(request: HttpRequest) -> HttpResponse:
    """Second step: a code from the enrolled authenticator app."""
    pending = _second_factor_pending(request)
    if pending is not None:
        return pending
    device = otp.confirmed_device(request.user)
    if device is None:
        return redirect(f"{reverse('login-enrol')}?{urlencode({'next': _next(request)})}")
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refused = otp.verify(device, form.cleaned_data["code"])
        if not refused:
            otp_login(request, device)
            audit_record(
                action=AuditAction.LOGIN,
                audit=AuditContext.from_request(request),
                obj=request.user,
                summary=gettext_noop("second factor accepted"),
                summary_params={},
            )
            return redirect(_next(request))
        _code_refused(
            request,
            form,
            refused,
            summary=gettext_noop("wrong or reused code"),
            message=_("That code is not valid (or was used already). Wait for the next one and try again."),
        )
    return render(request, "accounts/verify.html", {"form": form, "next": _next(request)})


def login_enrol(request: HttpRequest) -> HttpResponse:
    """First login: enrol an authenticator app (every staff account needs one)."""
    pending = _second_factor_pending(request)
    if pending is not None:
        return pending
    if not otp.enrolment_allowed(request.user, request.session.get(ENROLMENT_SESSION_KEY)):
        if otp.confirmed_device(request.user) is not None:
            return redirect(f"{reverse('login-verify')}?{urlencode({'next': _next(request)})}")
        logout(request)
        messages.error(request, _(NO_SECOND_FACTOR))
        return redirect("login")
    device = otp.enrolment_device(request.user)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        refused = otp.verify(device, form.cleaned_data["code"])
        if not refused:
            otp.enrolment_confirm(device)
            request.session.pop(ENROLMENT_SESSION_KEY, None)
            otp_login(request, device)
            audit_record(action=AuditAction.OTP_ENROLLED, audit=AuditContext.from_request(request), obj=request.user)
            return redirect(_next(request))
        _code_refused(
            request,
            form,
            refused,
            summary=gettext_noop("enrolment code wrong"),
            message=_("That code does not match. Check the clock of your phone and try the next code."),
        )
    uri = otp.enrolment_uri(device)
    return render(
        request,
        "accounts/enrol.html",
        {"form": form, "next": _next(request), "qr": otp.qr_data_uri(uri), "secret": otp.secret_text(device)},
    )


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("login")


def my_settings(request: HttpRequest) -> HttpResponse:
    """The signed-in staff member's own settings: the language of the workspace."""
    profile, _created = StaffProfile.objects.get_or_create(user=request.user)  # type: ignore[misc]  # staff only
    form = LanguageForm(request.POST or None, instance=profile)
    if request.method == "POST" and form.is_valid():
        form.save()
        chosen = form.cleaned_data["language"]
        request.session[LANGUAGE_SESSION_KEY] = chosen
        if chosen:
            translation.activate(chosen)
        messages.success(request, _("Your settings are saved."))
        response = redirect("account-settings")
        # The login page, before the account is known, speaks the same language next time; with no
        # choice, the browser's language applies there too.
        if chosen:
            response.set_cookie(settings.LANGUAGE_COOKIE_NAME, chosen, samesite="Lax")
        else:
            response.delete_cookie(settings.LANGUAGE_COOKIE_NAME, samesite="Lax")
        return response
    return render(request, "accounts/settings.html", {"form": form})
