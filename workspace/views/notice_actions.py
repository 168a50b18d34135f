"""A senior analyst's actions on a notice, each with a page that says what it will do and a form
(POST, CSRF) that does it: send now, send again, escalate now, cancel, change the recipient,
confirm it was sent. ``/notices/<pk>/<action>/``: GET shows the confirmation, POST acts.

Which actions a notice offers follows the transition table (`routing.models.notices`); a request
for one that does not apply (the notice moved meanwhile, or a crafted post) is answered with a
message on the notice's page, never a server error. Every action writes an audit entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.roles import Role, require_role
from accounts.services import AuditContext
from routing.models import Notice, NoticeState
from routing.notices.actions import (
    ESCALATABLE_KINDS,
    RECIPIENT_CHANGEABLE,
    ActionInvalid,
    known_contacts,
    notice_cancel,
    notice_change_recipient,
    notice_escalate_now,
    notice_send_now,
)
from routing.notices.responses import RESENDABLE, NoticeNotHandled, notice_mark_sent, notice_resend


@dataclass(frozen=True)
class NoticeAction:
    slug: str
    label: Any  # the button
    explains: Any  # what happens, on the confirmation page
    states: tuple[str, ...]  # the notice states it applies to
    danger: bool = False


ACTIONS: dict[str, NoticeAction] = {
    a.slug: a
    for a in (
        NoticeAction(
            "send-now",
            _("Send now"),
            _(
                "The notice goes out now, without waiting for its batch window or its next retry. No more cases "
                "join it. Its cases are checked again first, as before every notice."
            ),
            (NoticeState.QUEUED,),
        ),
        NoticeAction(
            "resend",
            _("Send again"),
            _(
                "The notice is queued again, due now, with the same Message-ID, and goes out with the next run "
                "of the sender. If the first attempt may have left, check the mail server's log first."
            ),
            RESENDABLE,
        ),
        NoticeAction(
            "escalate",
            _("Escalate now"),
            _(
                "The cases of this notice that are still online skip the reminders left and go to the next "
                "step of the escalation ladder (registrar, police or the provider's escalation contact) at once."
            ),
            (NoticeState.SENT,),
        ),
        NoticeAction(
            "recipient",
            _("Change recipient"),
            _(
                "The notice goes to the address you choose instead, whatever the route says later. No more "
                "cases join it. A failed or unknown notice, or one to send by hand, is queued again, due now."
            ),
            RECIPIENT_CHANGEABLE,
        ),
        NoticeAction(
            "mark-sent",
            _("It was sent: record it"),
            _(
                "Record that the message did leave (the mail server's log or the recipient says so, or you sent "
                "it by hand as the preview shows it): its cases become notified and the reminders start from "
                "its attempt (from now, for a notice sent by hand)."
            ),
            (NoticeState.UNKNOWN, NoticeState.BY_HAND),
        ),
        NoticeAction(
            "cancel",
            _("Cancel"),
            _(
                "The notice never goes out and its cases are taken out of it. They get a new notice only when "
                "they are planned again (a new verdict, a change of provider or contact)."
            ),
            (NoticeState.QUEUED,),
            danger=True,
        ),
    )
}


def notice_actions_available(notice: Notice) -> list[NoticeAction]:
    """The actions the notice's state allows (the page offers these; the services check again)."""
    found = [a for a in ACTIONS.values() if notice.state in a.states]
    if notice.kind not in ESCALATABLE_KINDS:
        found = [a for a in found if a.slug != "escalate"]
    return found


def _done(notice: Notice, slug: str, result: Any) -> str:
    if slug == "send-now":
        notice.refresh_from_db()
        if notice.state == NoticeState.SENT:
            return str(_("%(ref)s was sent to %(to)s.") % {"ref": notice.reference, "to": ", ".join(notice.emails)})
        return str(
            _("%(ref)s was not sent: it is %(state)s now%(error)s.")
            % {
                "ref": notice.reference,
                "state": notice.get_state_display().split(":")[0].lower(),
                "error": f" ({notice.last_error})" if notice.last_error else "",
            }
        )
    if slug == "escalate":
        refs = ", ".join(n.reference for n in result)
        return str(
            _("The cases of %(ref)s are escalated: %(refs)s, due now.") % {"ref": notice.reference, "refs": refs}
        )
    texts = {
        "resend": _("%(ref)s is queued and goes out with the next run of the sender."),
        "recipient": _("%(ref)s now goes to %(to)s."),
        "mark-sent": _("%(ref)s is recorded as sent; its cases are notified."),
        "cancel": _("%(ref)s is cancelled: it will not go out."),
    }
    return str(texts[slug] % {"ref": notice.reference, "to": ", ".join(result.emails) if result else ""})


def _run(slug: str, request: HttpRequest, notice: Notice) -> Any:
    audit = AuditContext.from_request(request)
    user = request.user
    post = request.POST
    runs: dict[str, Callable[[], Any]] = {
        "send-now": lambda: notice_send_now(notice=notice, user=user, audit=audit),
        "resend": lambda: notice_resend(notice=notice, user=user, audit=audit),
        "escalate": lambda: notice_escalate_now(notice=notice, user=user, audit=audit),
        "mark-sent": lambda: notice_mark_sent(notice=notice, user=user, audit=audit),
        "cancel": lambda: notice_cancel(notice=notice, user=user, reason=post.get("reason", ""), audit=audit),
        "recipient": lambda: notice_change_recipient(
            notice=notice,
            user=user,
            contact=post.get("contact", ""),
            email=post.get("email", ""),
            name=post.get("name", ""),
            audit=audit,
        ),
    }
    return runs[slug]()


@require_http_methods(["GET", "POST"])
def notice_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    require_role(request, Role.SENIOR)
    chosen = ACTIONS.get(action)
    if chosen is None:
        raise Http404("no such action")
    notice = get_object_or_404(Notice.objects.select_related("provider"), pk=pk)
    error = ""
    if request.method == "POST":
        try:
            result = _run(chosen.slug, request, notice)
        except NoticeNotHandled as exc:
            messages.error(request, f"{notice.reference}: {exc}.")
            return redirect("notices-detail", pk=notice.pk)
        except ActionInvalid as exc:
            error = f"{str(exc)[:1].upper()}{str(exc)[1:]}."
        else:
            text = _done(notice, chosen.slug, result)
            sent_now_failed = chosen.slug == "send-now" and notice.state != NoticeState.SENT
            (messages.warning if sent_now_failed else messages.success)(request, text)
            return redirect("notices-detail", pk=notice.pk)
    context = {
        "notice": notice,
        "action": chosen,
        "applies": chosen in notice_actions_available(notice),
        "contacts": known_contacts(notice) if chosen.slug == "recipient" else [],
        "error": error,
        "posted": request.POST if error else {},
        "cases": notice.items.filter(dropped_at__isnull=True).count(),
    }
    return render(request, "workspace/notices/action.html", context, status=400 if error else 200)


@require_POST
def notice_resend_view(request: HttpRequest, pk: int) -> HttpResponse:
    return notice_action(request, pk, "resend")


@require_POST
def notice_mark_sent_view(request: HttpRequest, pk: int) -> HttpResponse:
    return notice_action(request, pk, "mark-sent")
