"""Writes a senior analyst or an analyst makes on many cases at once from the case list: giving
cases to someone (`cases_assign`) and asking for their resolution again (`cases_resolve_again`).
Both are audited; an assignment is also an event on each case's timeline."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from reports.cases.hooks import cases_resolution_due
from reports.cases.models import Case, EventKind
from reports.cases.services import Actor, event_new, events_append


def cases_assign(*, case_ids: Sequence[int], assignee: Any, audit: AuditContext) -> int:
    """Give the cases to ``assignee`` (None: to nobody). Cases already theirs stay as they are;
    returns how many changed hands."""
    assignee_id = assignee.pk if assignee is not None else None
    with transaction.atomic():
        changing = list(
            Case.objects.filter(pk__in=list(case_ids))
            .exclude(assigned_to_id=assignee_id)
            .select_for_update()
            .values_list("pk", flat=True)
        )
        if not changing:
            return 0
        Case.objects.filter(pk__in=changing).update(assigned_to_id=assignee_id)
        now = timezone.now()
        name = assignee.get_username() if assignee is not None else ""
        actor = Actor.staff(audit.user) if audit.user is not None else Actor.system()
        events_append(
            event_new(case=pk, kind=EventKind.ASSIGNED, actor=actor, at=now, data={"to": name, "to_id": assignee_id})
            for pk in changing
        )
        audit_record(
            action=AuditAction.CASES_ASSIGNED,
            audit=audit,
            object_type="reports.case",
            object_id=",".join(str(pk) for pk in changing[:50]),
            summary=gettext_noop("cases assigned to %(name)s: %(n)s")
            if name
            else gettext_noop("cases no longer assigned: %(n)s"),
            summary_params={"name": name, "n": len(changing)} if name else {"n": len(changing)},
            data={"cases": changing, "to": name, "to_id": assignee_id},
        )
    return len(changing)


def cases_resolve_again(*, case_ids: Sequence[int], audit: AuditContext) -> int:
    """Mark the cases' resolution as due now and announce it (`cases_resolution_due`, on commit):
    the resolution stage looks their hosts up again. Cases a worker is resolving right now are
    left to it. Returns how many were marked."""
    now = timezone.now()
    with transaction.atomic():
        ids = list(Case.objects.filter(pk__in=list(case_ids), resolve_claim="").values_list("pk", flat=True))
        if not ids:
            return 0
        Case.objects.filter(pk__in=ids, resolve_claim="").update(resolve_due_at=now)
        audit_record(
            action=AuditAction.CASES_RERESOLVED,
            audit=audit,
            object_type="reports.case",
            object_id=",".join(str(pk) for pk in ids[:50]),
            summary=gettext_noop("cases to resolve again: %(n)s"),
            summary_params={"n": len(ids)},
            data={"cases": ids},
        )
        transaction.on_commit(partial(cases_resolution_due.send, sender=Case, case_ids=ids))
    return len(ids)


__all__ = ["cases_assign", "cases_resolve_again"]
