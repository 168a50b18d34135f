"""The provider's confirmation link page (public, reached only through a signed link)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from routing.notices.links import LinkExpired, LinkInvalid, notice_for_token


def notice_link(request: HttpRequest, token: str) -> HttpResponse:
    try:
        notice = notice_for_token(token)
    except LinkExpired:
        return HttpResponse("This link has expired.", status=410, content_type="text/plain")
    except LinkInvalid:
        return HttpResponse("This link is not valid.", status=404, content_type="text/plain")
    return HttpResponse(notice.reference, content_type="text/plain")
