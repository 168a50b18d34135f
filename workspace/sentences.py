"""Every kind of case event as a sentence, for the case page's timeline (`workspace.timeline`):
one function per `EventKind`, in `SENTENCES`, each reading the event's data and saying what
happened in words, with no codes or raw data left."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from reports.models import (
    AiGenerated,
    AssessmentSource,
    CaseState,
    Category,
    Channel,
    EventKind,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    PoliceReason,
    RemovalKind,
    ReviewReason,
    Verdict,
)
from routing.models import DisputeState, Notice, NoticeKind, NoticeResponse
from routing.notices.actions import CANCELLED_BY
from routing.notices.render import language_name
from routing.notices.sending import REROUTED
from scart.times import shown
from workspace.selectors import hold_text, recipient_kind_text, route_rule_text


@dataclass(frozen=True)
class Facts:
    """What the sentences need beyond the event: the notices the events name, by reference."""

    notices: Mapping[str, Notice]


Sentence = Callable[[Mapping[str, Any], Facts], tuple[str, list[str]]]


def _label(choices: Any, value: Any) -> str:
    text = str(value or "")
    return str(dict(choices.choices).get(text, text.replace("_", " ")))


def _text(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key)
    return "" if value is None else str(value)


def _list(value: Any) -> list[str]:
    if isinstance(value, list | tuple):
        return [str(v) for v in value if v not in (None, "")]
    return [str(value)] if value not in (None, "") else []


def _moment(value: Any) -> str:
    try:
        return shown(datetime.fromisoformat(str(value)))
    except (TypeError, ValueError):
        return ""


def _provider_rule(rule: str) -> str:
    """How resolution matched a provider (``domain:…``, ``cidr:…``, ``asn:…``, ``rdap:…``) in words."""
    name, _sep, rest = rule.partition(":")
    words = {
        "domain": _("the domain rule for %(x)s"),
        "cidr": _("the network rule for %(x)s"),
        "asn": _("the rule for AS%(x)s"),
        "rdap": _("the registry record %(x)s"),
    }
    if name in words and rest:
        return words[name] % {"x": rest.replace(":", " ")}
    return rule.replace("_", " ")


def _notice_name(kind: str, step: Any, reference: str) -> str:
    names: dict[str, str] = {
        NoticeKind.PROVIDER: _("Notice %(ref)s"),
        NoticeKind.REMINDER: _("Reminder %(step)s (%(ref)s)"),
        NoticeKind.ESCALATION: _("Escalation %(ref)s"),
        NoticeKind.REFERRAL: _("Referral %(ref)s"),
        NoticeKind.POLICE: _("Report %(ref)s to the police"),
        NoticeKind.UPDATE: _("Update %(ref)s (content removed)"),
    }
    name = names.get(kind, _("Notice %(ref)s"))
    return name % {"ref": reference, "step": step or ""}


# One function per event kind -------------------------------------------------------------------


def _reported(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    channel = _label(Channel, data.get("channel"))
    values = {"channel": channel, "report": _text(data, "report")}
    if data.get("new", True):
        return _("Reported through %(channel)s (report %(report)s)") % values, []
    return _("Reported again through %(channel)s (report %(report)s)") % values, []


def _state_changed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    values = {"from": _label(CaseState, data.get("from")), "to": _label(CaseState, data.get("to"))}
    sentence = _("State: %(to)s (was %(from)s)") % values
    if data.get("notice"):
        sentence += ", " + _("after notice %(ref)s") % {"ref": data["notice"]}
    elif data.get("reason") == "reappeared":
        sentence += ", " + _("the content is back online")
    return sentence, []


def _resolved(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    addresses = _list(data.get("addresses"))
    parts = []
    if data.get("provider"):
        rule = _provider_rule(_text(data, "rule"))
        parts.append(_("hosted by %(p)s") % {"p": data["provider"]} + (f" ({rule})" if rule else ""))
    else:
        parts.append(_("no hosting provider found"))
    if data.get("cdn"):
        parts.append(_("behind the CDN %(cdn)s") % {"cdn": data["cdn"]})
    if data.get("country"):
        parts.append(_("in %(country)s") % {"country": data["country"]})
    if data.get("asn"):
        parts.append(f"AS{data['asn']}")
    if addresses:
        parts.append(ngettext("address %(a)s", "addresses %(a)s", len(addresses)) % {"a": ", ".join(addresses)})
    if data.get("cnames"):
        parts.append(_("through %(c)s") % {"c": " → ".join(_list(data.get("cnames")))})
    if data.get("confidence"):
        parts.append(_("contact confidence %(c)s") % {"c": data["confidence"]})
    errors = _list(data.get("errors"))
    return _("Resolved: %(facts)s") % {"facts": "; ".join(parts)}, [_("Problem: %(e)s") % {"e": e} for e in errors]


def _resolution_failed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    outcome = _text(data, "outcome").replace("_", " ") or _("an error")
    sentence = _("Resolution failed (%(outcome)s)") % {"outcome": outcome}
    if data.get("retry_at"):
        sentence += ", " + _("tried again from %(at)s") % {"at": _moment(data["retry_at"])}
    elif data.get("kept"):
        sentence += ", " + _("the previous resolution stands")
    return sentence, _list(data.get("errors"))


def _provider_changed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    name = _text(data, "to_name") or _("no provider")
    rule = _provider_rule(_text(data, "rule"))
    sentence = _("Hosting provider is now %(name)s") % {"name": name}
    return sentence + (f" ({rule})" if rule else ""), []


def _contact_checked(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    emails = ", ".join(_list(data.get("abuse_emails"))) or _("no address")
    return _("Abuse contact confirmed: %(emails)s") % {"emails": emails}, []


def _assessed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    verdict = _label(Verdict, data.get("verdict")).lower()
    facts_ = [
        _label(Category, data.get("category")) if data.get("category") else "",
        _label(LegalBasis, data.get("legal_basis")) if data.get("legal_basis") else "",
        _label(MediaType, data.get("media_type")).lower() if data.get("media_type") else "",
        _label(NotIllegalReason, data.get("not_illegal_reason")) if data.get("not_illegal_reason") else "",
        _("AI-generated: %(v)s") % {"v": _label(AiGenerated, data["ai_generated"]).lower()}
        if data.get("ai_generated")
        else "",
    ]
    inner = ", ".join(f for f in facts_ if f)
    sentence = _("Verdict: %(verdict)s") % {"verdict": verdict} + (f" ({inner})" if inner else "")
    if data.get("source") and data["source"] != AssessmentSource.ANALYST:
        sentence += ", " + _label(AssessmentSource, data["source"]).lower()
    lines = []
    if data.get("police_first"):
        reason = _label(PoliceReason, data.get("police_reason")) if data.get("police_reason") else ""
        lines.append(_("Police first") + (f": {reason}" if reason else ""))
    if data.get("notes"):
        lines.append(_("Note: %(n)s") % {"n": data["notes"]})
    return sentence, lines


def _review_requested(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    sentence = _("Second opinion requested: %(reason)s") % {"reason": _label(ReviewReason, data.get("reason")).lower()}
    if data.get("blocking"):
        sentence += ", " + _("notices wait for it")
    return sentence, []


def _review_decided(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    first, second = data.get("first") or {}, data.get("second") or {}

    def verdict(v: Mapping[str, Any]) -> str:
        text = _label(Verdict, v.get("verdict")).lower()
        return f"{text} ({v['category']})" if v.get("category") else text

    if data.get("agreed"):
        return _("Second opinion: agreed with %(v)s") % {"v": verdict(first)}, []
    return _("Second opinion: %(first)s changed to %(second)s") % {
        "first": verdict(first),
        "second": verdict(second),
    }, []


def _routed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    lines = []
    for r in data.get("recipients") or ():
        r = r if isinstance(r, Mapping) else {}
        text = f"{_text(r, 'name')} ({recipient_kind_text(_text(r, 'kind'))})"
        emails = _list(r.get("emails"))
        if emails:
            text += ": " + ", ".join(emails)
        holds = [hold_text(h) for h in _list(r.get("holds"))]
        lines.append(text + ("; " + ", ".join(holds) if holds else ""))
    rule = route_rule_text(_text(data, "rule"))
    return _("Routed: %(rule)s") % {"rule": rule}, lines


def _released(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    return _("Released for notices (police first)"), []


def _notice_sent(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    reference = _text(data, "notice")
    notice = facts.notices.get(reference)
    name = _notice_name(_text(data, "kind"), data.get("step"), reference)
    who = _text(data, "recipient") or (notice.recipient_name if notice else "")
    about = [who] if who else []
    if notice is not None:
        about.append(language_name(notice.language))
    emails = ", ".join(_list(data.get("emails"))) or who
    sentence = _("%(name)s sent to %(to)s") % {"name": name, "to": emails}
    sentence += f" ({', '.join(about)})" if about else ""
    if data.get("confirmed_by_hand"):
        sentence += ", " + _("recorded as sent by hand")
    return sentence, []


def drop_reason_text(reason: str) -> str:
    """A stored reason in the reader's language: the sender's reasons are messages of the
    catalogue (`routing.notices.sending`), a re-routing names its rule's code; a person's own
    words (a senior's reason to cancel) stay as written."""
    if reason.startswith(REROUTED):
        return _("re-routed: %(rule)s") % {"rule": route_rule_text(reason.removeprefix(REROUTED))}
    if reason.startswith(CANCELLED_BY):
        # A user name holds no ": " (letters, digits and @.+-_), so the senior's reason follows it.
        user, _sep, words = reason.removeprefix(CANCELLED_BY).partition(": ")
        return _("cancelled by %(user)s: %(reason)s") % {"user": user, "reason": words}
    return _(reason) if reason else ""


def _notice_dropped(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    reason = drop_reason_text(_text(data, "reason"))
    return _("Taken out of notice %(ref)s: %(reason)s") % {"ref": _text(data, "notice"), "reason": reason}, []


def _notice_failed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    name = _notice_name(_text(data, "kind"), data.get("step"), _text(data, "notice"))
    sentence = _("%(name)s to %(to)s failed") % {"name": name, "to": _text(data, "recipient")}
    return sentence, [_text(data, "error")] if data.get("error") else []


def _notice_reply(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    sentence = _("Reply to notice %(ref)s from %(sender)s") % {
        "ref": _text(data, "notice"),
        "sender": _text(data, "sender") or _("an unknown sender"),
    }
    return sentence, [_("Subject: %(s)s") % {"s": data["subject"]}] if data.get("subject") else []


def _notice_bounced(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    failed = ", ".join(_list(data.get("failed_recipients"))) or _("an address")
    if data.get("information_only"):
        sentence = _("Delivery report for notice %(ref)s about %(to)s (for information: the notice stands)")
    else:
        sentence = _("Notice %(ref)s bounced: %(to)s")
    return sentence % {"ref": _text(data, "notice"), "to": failed}, []


def _provider_responded(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    values = {
        "who": _text(data, "recipient") or _("The provider"),
        "ref": _text(data, "notice"),
        "answer": _label(NoticeResponse, data.get("response")).lower(),
    }
    sentence = _("%(who)s answered notice %(ref)s: %(answer)s") % values
    return sentence, [_("Their reason: %(r)s") % {"r": data["reason"]}] if data.get("reason") else []


def _dispute_handled(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    decision = _label(DisputeState, data.get("decision"))
    sentence = _("Dispute decided: %(decision)s") % {"decision": decision.lower()}
    return sentence, [_("Note: %(n)s") % {"n": data["note"]}] if data.get("note") else []


def _removed(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    how = _label(RemovalKind, data.get("removal_kind")).lower()
    sentence = _("Content removed: %(how)s") % {"how": how}
    if data.get("last_seen_online_at"):
        sentence += ", " + _("last seen online %(at)s") % {"at": _moment(data["last_seen_online_at"])}
    return sentence, []


def _reappeared(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    if data.get("removed_at"):
        return _("Content back online (it was gone from %(at)s)") % {"at": _moment(data["removed_at"])}, []
    return _("Content back online"), []


def _moved(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    values = {"target": _text(data, "target"), "case": _text(data, "case")}
    if data.get("new"):
        return _("Content moved to %(target)s: new case #%(case)s") % values, []
    return _("Content moved to %(target)s: case #%(case)s") % values, []


def _assigned(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    if data.get("to"):
        return _("Assigned to %(user)s") % {"user": _text(data, "to")}, []
    return _("Assignment removed"), []


def _deadline_terms(data: Mapping[str, Any]) -> dict[str, str]:
    return {"name": _text(data, "name"), "due": _moment(data.get("due_at"))}


def _deadline_set(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    details = [_("counted from notice %(notice)s") % {"notice": _text(data, "notice")}] if data.get("notice") else []
    return _("Deadline “%(name)s” set: removal due %(due)s") % _deadline_terms(data), details


def _deadline_breached(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    return _("Deadline “%(name)s” passed (due %(due)s) with the content still online") % _deadline_terms(data), []


SENTENCES: dict[str, Sentence] = {
    EventKind.REPORTED: _reported,
    EventKind.STATE_CHANGED: _state_changed,
    EventKind.RESOLVED: _resolved,
    EventKind.RESOLUTION_FAILED: _resolution_failed,
    EventKind.PROVIDER_CHANGED: _provider_changed,
    EventKind.CONTACT_CHECKED: _contact_checked,
    EventKind.ASSESSED: _assessed,
    EventKind.REVIEW_REQUESTED: _review_requested,
    EventKind.REVIEW_DECIDED: _review_decided,
    EventKind.ROUTED: _routed,
    EventKind.RELEASED: _released,
    EventKind.NOTICE_SENT: _notice_sent,
    EventKind.NOTICE_DROPPED: _notice_dropped,
    EventKind.NOTICE_FAILED: _notice_failed,
    EventKind.NOTICE_REPLY: _notice_reply,
    EventKind.NOTICE_BOUNCED: _notice_bounced,
    EventKind.PROVIDER_RESPONDED: _provider_responded,
    EventKind.DISPUTE_HANDLED: _dispute_handled,
    EventKind.REMOVED: _removed,
    EventKind.REAPPEARED: _reappeared,
    EventKind.MOVED: _moved,
    EventKind.ASSIGNED: _assigned,
    EventKind.DEADLINE_SET: _deadline_set,
    EventKind.DEADLINE_BREACHED: _deadline_breached,
}


def unknown_sentence(data: Mapping[str, Any], facts: Facts) -> tuple[str, list[str]]:
    """For an event kind with no sentence (a test keeps `SENTENCES` complete)."""
    return _("Something happened that this page cannot describe"), []
