"""Response headers that Django's SecurityMiddleware does not set, and CSRF checks that work
with the ``no-referrer`` policy."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.cache import patch_vary_headers

# No inline scripts or styles anywhere: every page loads its assets from /static/. Images are
# limited to our own static files and data: URIs (Swagger UI's icons); nothing from a reported URL
# can ever be fetched by an analyst's browser through a page of ours.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ]
)


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
        response.headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        return response


class NoStoreMiddleware:
    """Nothing scart answers may be kept by a browser or a proxy: staff pages, CSV exports and API
    responses carry reported URLs, verdicts and contact data, and one person's answer must never be
    served to another (a shared proxy, the back button after logout). Static files are served
    before this middleware runs (WhiteNoise) and keep their long cache. A view that sets its own
    ``Cache-Control`` keeps it (a dashboard chart, kept privately for a minute)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        response.headers.setdefault("Cache-Control", "no-store")
        # Who is asking decides the answer: a partner key, a staff token or a session.
        patch_vary_headers(response, ("Authorization", "Cookie"))
        return response


class NoReferrerCsrfViewMiddleware(CsrfViewMiddleware):
    """Django's CSRF check, for pages served with ``Referrer-Policy: no-referrer``.

    Under that policy browsers send ``Origin: null`` with every form POST, even to the page's
    own site (the Fetch standard's rule for ``no-referrer``), and no Referer, so Django's origin
    check refuses every form. The browser still says where the request came from in
    ``Sec-Fetch-Site``, a header scripts cannot set: ``same-origin`` means one of our own pages
    sent it. Only then is the null origin read as our own; the CSRF token is checked as always,
    and a null origin from anywhere else (a sandboxed frame, another site) is still refused.
    """

    def process_view(self, request: HttpRequest, callback: Any, callback_args: Any, callback_kwargs: Any) -> Any:
        if request.META.get("HTTP_ORIGIN") == "null" and request.META.get("HTTP_SEC_FETCH_SITE") == "same-origin":
            request.META["HTTP_ORIGIN"] = f"{request.scheme}://{request.get_host()}"
        return super().process_view(request, callback, callback_args, callback_kwargs)
