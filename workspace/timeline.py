"""The timeline of a case page: the case's events and availability checks, oldest first, each a
sentence ("Notice SCART-20261205-000012 sent to abuse@example.net (Example Hosting, English)"), a
page model the templates read, never the raw event data.

Every event kind has its sentence in `SENTENCES` (a test fails when a kind has none); runs of
checks with the same outcome are one line. Which partner reported is shown only to those who may
see reporters: others read "a partner".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from django.utils.translation import gettext as _

from reports.models import ActorType, Case
from routing.models import AvailabilityCheck, CheckOutcome, Notice
from scart.times import shown
from workspace.sentences import SENTENCES, Facts, unknown_sentence


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    kind: str  # the kind of event, in words (a label to group by)
    sentence: str  # what happened, in words
    actor: str  # who did it ("system" for scart itself)
    by: str  # who did it when a person or a partner did, else ""
    details: tuple[str, ...] = ()  # more lines in words (a routing decision's recipients)


# Checks --------------------------------------------------------------------------------------


def check_text(check: AvailabilityCheck, *, before: str = "") -> str:
    """What one availability check found, in words ("still online (HTTP 200)")."""
    status = f"HTTP {check.status_code}" if check.status_code else ""
    if check.outcome == CheckOutcome.ONLINE:
        text = _("still online") if before == CheckOutcome.ONLINE else _("online")
        return f"{text} ({status})" if status else text
    if check.outcome == CheckOutcome.GONE:
        return f"{_('gone')} ({status})" if status else _("gone")
    if check.outcome == CheckOutcome.MOVED:
        return _("redirected to %(to)s") % {"to": check.redirect_to} if check.redirect_to else _("moved")
    if check.outcome == CheckOutcome.BLOCKED:
        return _("not checked: the address guard blocked %(a)s") % {"a": check.address or _("the address")}
    reason = check.reason or status
    return _("unreachable") + (f" ({reason})" if reason else "")


def _check_entries(checks: Iterable[AvailabilityCheck]) -> list[TimelineEntry]:
    """Checks in time order, a run of the same outcome and status as one entry."""
    entries: list[TimelineEntry] = []
    runs: list[list[AvailabilityCheck]] = []
    for check in checks:
        last = runs[-1][-1] if runs else None
        if last is not None and (last.outcome, last.status_code) == (check.outcome, check.status_code):
            runs[-1].append(check)
        else:
            runs.append([check])
    before = ""
    for run in runs:
        first = run[0]
        found = check_text(first, before=before)
        if len(run) == 1:
            sentence = _("Checked: %(found)s") % {"found": found}
        else:
            sentence = _("Checked %(n)d times until %(until)s: %(found)s") % {
                "n": len(run),
                "until": shown(run[-1].at),
                "found": found,
            }
        entries.append(TimelineEntry(first.at, _("Availability check"), sentence, _("system"), ""))
        before = first.outcome
    return entries


def case_timeline(case: Case, *, see_reporters: bool) -> list[TimelineEntry]:
    """The case's events and checks, oldest first, each a sentence (see the module)."""
    events = list(case.events.select_related("actor_user", "actor_partner").order_by("at", "id"))
    references = {
        str(ref)
        for e in events
        if isinstance(e.data, Mapping)
        for ref in [e.data.get("notice"), *(e.data.get("notices") or [])]
        if ref
    }
    facts = Facts(notices={n.reference: n for n in Notice.objects.filter(reference__in=references)})
    entries = []
    for event in events:
        if event.actor_user is not None:
            actor = by = event.actor_user.get_username()
        elif event.actor_partner is not None:
            actor = by = event.actor_partner.name if see_reporters else _("a partner")
        elif event.actor_type == ActorType.REPORTER:
            actor = by = _("an anonymous reporter")
        else:
            actor, by = _("system"), ""
        data = event.data if isinstance(event.data, Mapping) else {}
        sentence, details = SENTENCES.get(event.kind, unknown_sentence)(data, facts)
        entries.append(
            TimelineEntry(event.at, event.get_kind_display(), sentence, actor, by, tuple(d for d in details if d))
        )
    entries += _check_entries(case.checks.order_by("at", "id"))
    return sorted(entries, key=lambda e: e.at)
