"""Public pages of the intake: the report form and its confirmation."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_http_methods

from reports.api.throttling import ReportFormThrottle
from reports.forms import PublicReportForm
from reports.models import Channel
from reports.services import report_create
from reports.tasks import report_acknowledge
from scart.db import enqueue_on_commit


@csrf_protect
@require_http_methods(["GET", "POST"])
def report_form(request: HttpRequest) -> HttpResponse:
    """Anyone may report URLs here. Valid URLs are kept even when others in the list are not."""
    if request.method == "GET":
        return render(request, "reports/report_form.html", {"form": PublicReportForm()})

    throttle = ReportFormThrottle()
    # DRF's throttles only read the client address and the cache, which a plain request has too.
    if not throttle.allow_request(request, None):  # type: ignore[arg-type]
        wait = throttle.wait() or 60
        response = render(
            request, "reports/report_throttled.html", {"wait_minutes": max(1, round(wait / 60))}, status=429
        )
        response["Retry-After"] = str(int(wait))
        return response

    form = PublicReportForm(request.POST)
    if not form.is_valid():
        form.drop_oversized_values()
        return render(request, "reports/report_form.html", {"form": form}, status=400)
    if form.is_bot:
        # Looks like success to the bot; nothing is filed.
        return render(request, "reports/report_thanks.html", {"reference": None, "accepted": 0, "rejected": []})

    with transaction.atomic():
        result = report_create(
            channel=Channel.WEB_FORM,
            urls=form.url_lines(),
            description=form.cleaned_data["description"],
            reporter_email=form.cleaned_data["email"],
        )
        if not result.accepted:
            transaction.set_rollback(True)
        elif result.report.reporter_email:
            report_id = result.report.pk
            enqueue_on_commit(lambda: report_acknowledge.delay(report_id), what=f"report_acknowledge {report_id}")
    if not result.accepted:
        form.add_error("urls", _("None of these addresses can be accepted; see the reasons below."))
        return render(request, "reports/report_form.html", {"form": form, "rejected": result.rejected}, status=400)
    return render(
        request,
        "reports/report_thanks.html",
        {
            "reference": result.report.reference,
            "accepted": len(result.accepted),
            "rejected": result.rejected,
            "email": result.report.reporter_email,
        },
    )
