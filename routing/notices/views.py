"""The provider's page of the notice stage, ``/n/<token>/``: public, reached only through the signed
link in a notice. It shows the notice's URLs as text and takes, per URL, "removed" or "disputed"
with a reason. The staff pages of notices live in `workspace.views.notices`.

Reported URLs are shown as text, never as links: nothing here makes a browser fetch them.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from routing.models import NoticeCase, NoticeResponse
from routing.notices.links import LinkExpired, LinkInvalid, notice_for_token
from routing.notices.responses import DECIDED, REASON_MAX, ResponseInvalid, notice_respond
from routing.notices.signing_keys import published_keys, signing_key_active


@dataclass
class AnswerRow:
    """One URL of the notice on the provider's page, with the answer shown in its form."""

    item: NoticeCase
    response: str = ""
    reason: str = ""
    error: str = ""

    @property
    def decided(self) -> bool:
        return self.item.dispute_state in DECIDED


def _private(response: HttpResponse) -> HttpResponse:
    """The link is a credential: no cache keeps the page, no search engine lists it."""
    response["Cache-Control"] = "no-store"
    response["X-Robots-Tag"] = "noindex"
    return response


@csrf_protect
@require_http_methods(["GET", "POST"])
def notice_link(request: HttpRequest, token: str) -> HttpResponse:
    """The provider's page for one notice. Answers are recorded by `notice_respond`; a valid
    post redirects back here with a thank-you, a bad one shows the page again (400) with what
    is wrong on each row."""
    try:
        notice = notice_for_token(token)
    except LinkExpired:
        return _link_error(request, status=410)
    except LinkInvalid:
        return _link_error(request, status=404)
    items = list(notice.items.filter(dropped_at__isnull=True).select_related("case").order_by("pk"))
    rows = [AnswerRow(item, item.response, item.response_reason) for item in items]
    general = ""
    if request.method == "POST":
        answers: dict[int, tuple[str, str]] = {}
        for row in rows:
            if row.decided:
                continue
            row.response = request.POST.get(f"answer-{row.item.pk}", "").strip()
            row.reason = request.POST.get(f"reason-{row.item.pk}", "")
            if row.response:
                answers[row.item.pk] = (row.response, row.reason)
        try:
            changed = notice_respond(notice=notice, answers=answers)
        except ResponseInvalid as exc:
            for row in rows:
                row.error = exc.errors.get(row.item.pk, "")
            general = exc.errors.get(0, "") or "Some answers could not be recorded: see below."
        else:
            url = reverse("notice-link", args=[token])
            return _private(redirect(f"{url}?saved={len(changed)}"))
    context = {
        "notice": notice,
        "rows": rows,
        "general_error": general,
        "saved": request.method == "GET" and "saved" in request.GET,
        "reason_max": REASON_MAX,
        "responses": NoticeResponse,
        "reply_to": settings.SCART_NOTICE_REPLY_TO or settings.DEFAULT_FROM_EMAIL,
        "signing_fingerprint": _signing_fingerprint(),
    }
    status = 400 if general else 200
    return _private(render(request, "routing/notices/link.html", context, status=status))


def _signing_fingerprint() -> str:
    """The fingerprint of the key that signs notices, in groups of four; "" when notices are not signed."""
    key = signing_key_active() if settings.SCART_NOTICE_SIGN else None
    return " ".join(key.fingerprint[i : i + 4] for i in range(0, len(key.fingerprint), 4)) if key else ""


def _link_error(request: HttpRequest, *, status: int) -> HttpResponse:
    context = {"expired": status == 410, "reply_to": settings.SCART_NOTICE_REPLY_TO or settings.DEFAULT_FROM_EMAIL}
    return _private(render(request, "routing/notices/link_error.html", context, status=status))


@require_http_methods(["GET", "HEAD"])
def openpgp_key(request: HttpRequest) -> HttpResponse:
    """The hotline's OpenPGP public keys (``/openpgp-key.asc``), the one that signs notices first:
    public, as a public key is, for recipients to check a notice's signature and to encrypt
    replies. 404 while the hotline has none."""
    text = published_keys()
    if not text:
        raise Http404("no OpenPGP key")
    response = HttpResponse(text, content_type="application/pgp-keys")
    response["Content-Disposition"] = 'inline; filename="openpgp-key.asc"'
    # The same for everyone, changed only when a key is added: a cache may keep it a little.
    response["Cache-Control"] = "public, max-age=3600"
    return response
