"""Suggestions for an analyst's verdict: never final on their own, always shown with where they
came from.

Three sources, in the order they are offered:

- **earlier verdict**: the same canonical URL (so the same case) was assessed before, e.g. before
  it was reported again or reappeared;
- **partner**: a partner hotline supplied its own classification with a report naming the URL;
- **domain rule**: the most specific domain rule with a suggested verdict covers the URL's host.
  A senior analyst may set such a rule to auto-accept: the verdict is then recorded without an
  analyst, with the source ``automatic`` (`cases_auto_assess`).

A case with a verdict in force (assessed, not awaiting a new assessment: on a review page, or
closed) is offered no suggestion that says what that verdict already says: its own latest
assessment is not an "earlier verdict", and accepting it would change nothing.

Everything here reads a page of cases with a fixed number of queries.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.db.models import Q
from django.utils.translation import gettext

from reports.assessment import CaseLocked, case_assess
from reports.cases.classification import VERDICT_FIELDS, AssessmentInvalid, Classification
from reports.cases.services import StateConflict
from reports.models import (
    AgeGroup,
    AiGenerated,
    Assessment,
    AssessmentSource,
    Case,
    CaseState,
    Category,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    ReportedUrl,
    Verdict,
)
from scart.times import shown

log = logging.getLogger(__name__)

# The classification fields a suggestion may carry: a verdict's but its police-first flag, which
# only an earlier verdict carries (the same URL is the same danger).
_POLICE_FIELDS = ("police_first", "police_reason")
FIELDS = tuple(name for name in VERDICT_FIELDS if name not in _POLICE_FIELDS)
EARLIER_FIELDS = (*FIELDS, *_POLICE_FIELDS)


class SuggestionKind:
    EARLIER = "earlier_verdict"
    PARTNER = "partner"
    RULE = "domain_rule"


@dataclass(frozen=True)
class Suggestion:
    kind: str
    fields: dict[str, Any]  # classification fields (verdict first)
    provenance: str  # for people: who said it, where, when
    ref: str  # for machines: "earlier_verdict:<assessment>", "partner:<report>", "domain_rule:<rule>"
    auto: bool = False  # a rule set to auto-accept
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return str(self.fields.get("verdict", ""))

    @property
    def summary(self) -> str:
        """E.g. ``Illegal, A1`` or ``Not illegal (adult)``."""
        label = Verdict(self.verdict).label if self.verdict in Verdict.values else self.verdict
        if self.fields.get("category"):
            return f"{label}, {self.fields['category']}"
        if self.fields.get("not_illegal_reason"):
            return f"{label} ({str(self.fields['not_illegal_reason']).replace('_', ' ')})"
        return str(label)

    @property
    def fields_json(self) -> str:
        return json.dumps(self.fields)

    def as_provenance(self) -> dict[str, Any]:
        """What an assessment that accepted this suggestion stores about it."""
        return {"kind": self.kind, "ref": self.ref, "provenance": self.provenance, "fields": self.fields}


def clean_partner_classification(data: Any) -> dict[str, Any]:
    """The fields of a partner's classification that scart understands, checked; raises
    ValueError naming what is wrong. Partners may send fewer fields than an analyst must give."""
    if not isinstance(data, dict):
        raise ValueError("classification must be an object")
    choices: dict[str, Any] = {
        "verdict": Verdict,
        "legal_basis": LegalBasis,
        "category": Category,
        "age_group": AgeGroup,
        "media_type": MediaType,
        "ai_generated": AiGenerated,
        "not_illegal_reason": NotIllegalReason,
    }
    unknown = sorted(set(data) - set(FIELDS))
    if unknown:
        raise ValueError(f"unknown field(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    if data.get("verdict") not in Verdict.values:
        raise ValueError(f"verdict must be one of {', '.join(Verdict.values)}")
    cleaned: dict[str, Any] = {}
    for name in FIELDS:
        value = data.get(name)
        if value in (None, ""):
            continue
        if name == "drawn":
            if not isinstance(value, bool):
                raise ValueError("drawn must be true or false")
        elif not isinstance(value, str) or value not in choices[name].values:
            raise ValueError(f"{name} must be one of {', '.join(choices[name].values)}")
        cleaned[name] = value
    if cleaned["verdict"] != Verdict.ILLEGAL:
        wrong = [k for k in ("legal_basis", "category", "age_group", "media_type", "ai_generated") if k in cleaned]
        if wrong:
            raise ValueError(f"{', '.join(wrong)} only go with a verdict of illegal")
    elif "not_illegal_reason" in cleaned:
        raise ValueError("not_illegal_reason only goes with a verdict of not illegal")
    return cleaned


def _latest(case_ids: list[int]) -> dict[int, Assessment]:
    latest: dict[int, Assessment] = {}
    rows = Assessment.objects.filter(case_id__in=case_ids).select_related("analyst").order_by("case_id", "-at", "-id")
    for a in rows:
        latest.setdefault(a.case_id, a)
    return latest


def _earlier(latest: dict[int, Assessment]) -> dict[int, Suggestion]:
    found: dict[int, Suggestion] = {}
    for a in latest.values():
        fields = {name: getattr(a, name) for name in EARLIER_FIELDS if getattr(a, name) not in ("", None, False)}
        who = a.analyst.get_username() if a.analyst else a.get_source_display().lower()
        found[a.case_id] = Suggestion(
            SuggestionKind.EARLIER,
            fields,
            gettext("assessed before by %(who)s on %(at)s (%(source)s)")
            % {"who": who, "at": shown(a.at), "source": a.get_source_display().lower()},
            f"{SuggestionKind.EARLIER}:{a.pk}",
        )
    return found


def _partner(case_ids: list[int]) -> dict[int, Suggestion]:
    found: dict[int, Suggestion] = {}
    links = (
        ReportedUrl.objects.filter(case_id__in=case_ids, report__partner__isnull=False)
        .exclude(report__classification={})
        .select_related("report", "report__partner")
        .order_by("case_id", "-report__received_at", "-id")
    )
    for link in links:
        report = link.report
        if link.case_id in found or not report.classification.get("verdict"):
            continue
        assert report.partner is not None
        found[link.case_id] = Suggestion(
            SuggestionKind.PARTNER,
            dict(report.classification),
            gettext("%(partner)s, with report %(reference)s of %(at)s")
            % {"partner": report.partner.name, "reference": report.reference, "at": shown(report.received_at)},
            f"{SuggestionKind.PARTNER}:{report.reference}",
            extra={"partner": report.partner.name},
        )
    return found


# Where domain-rule suggestions come from: a later stage (routing, which keeps the rules) registers
# a source in its ``AppConfig.ready``. A source takes a page of cases and returns, for the cases it
# has a suggestion for, that suggestion, with a fixed number of queries.
RuleSource = Callable[[Sequence[Case]], dict[int, Suggestion]]
_rule_sources: list[RuleSource] = []


def rule_source_register(source: RuleSource) -> None:
    """Offer ``source``'s suggestions as domain-rule suggestions (once, however often it is registered)."""
    if source not in _rule_sources:
        _rule_sources.append(source)


def _rules(cases: Sequence[Case]) -> dict[int, Suggestion]:
    found: dict[int, Suggestion] = {}
    for source in _rule_sources:
        for case_id, suggestion in source(cases).items():
            found.setdefault(case_id, suggestion)
    return found


def suggestions_for(cases: Iterable[Case]) -> dict[int, list[Suggestion]]:
    """Each case's suggestions, best first (earlier verdict, partner, domain rule); three queries
    however many cases."""
    cases = list(cases)
    ids = [c.pk for c in cases]
    if not ids:
        return {}
    latest = _latest(ids)
    sources = (_earlier(latest), _partner(ids), _rules(cases))
    found: dict[int, list[Suggestion]] = {}
    for case in cases:
        in_force = _verdict_in_force(case, latest.get(case.pk))
        found[case.pk] = [s[case.pk] for s in sources if case.pk in s and not _says_only(s[case.pk], in_force)]
    return found


def _verdict_in_force(case: Case, latest: Assessment | None) -> dict[str, Any] | None:
    """The classification the case stands on now; None while it awaits a (new) assessment, when
    an earlier verdict is a suggestion like any other."""
    if latest is None or case.state in (CaseState.NEW, CaseState.AWAITING_ASSESSMENT):
        return None
    return {name: getattr(latest, name) for name in FIELDS}


def _says_only(suggestion: Suggestion, in_force: dict[str, Any] | None) -> bool:
    """Whether every classification field the suggestion gives is already the verdict in force
    (a partner may give fewer fields than an assessment records)."""
    if in_force is None:
        return False
    given = {name: value for name, value in suggestion.fields.items() if name in FIELDS}
    return all(in_force.get(name) == value for name, value in given.items())


def suggestion_by_ref(case: Case, ref: str) -> Suggestion | None:
    return next((s for s in suggestions_for([case]).get(case.pk, []) if s.ref == ref), None)


def partner_says_illegal(case: Case) -> Suggestion | None:
    """A partner's illegal classification of this case, if any (a not-illegal verdict against it
    gets a second opinion)."""
    suggestion = _partner([case.pk]).get(case.pk)
    return suggestion if suggestion is not None and suggestion.verdict == Verdict.ILLEGAL else None


def cases_auto_assess(*, case_ids: Iterable[int]) -> int:
    """Record the verdict of an auto-accepting domain rule on each of these cases that awaits
    its first assessment. Returns how many were assessed."""
    cases = list(
        Case.objects.filter(pk__in=list(case_ids), state=CaseState.AWAITING_ASSESSMENT).filter(
            ~Q(assessments__isnull=False)
        )
    )
    by_id = {c.pk: c for c in cases}
    done = 0
    for case_id, suggestion in _rules(cases).items():
        if not suggestion.auto:
            continue
        case = by_id[case_id]
        try:
            case_assess(
                case=case,
                user=None,
                classification=Classification(**suggestion.fields, suggestion=suggestion.as_provenance()),
                source=AssessmentSource.AUTOMATIC,
            )
        except (AssessmentInvalid, CaseLocked, StateConflict) as exc:
            # An incomplete rule (it was valid when saved) or an analyst acting at the same moment:
            # the case stays in the queue, with the rule as a suggestion.
            log.warning("auto-accepting rule %s on case %s failed: %s", suggestion.ref, case_id, exc)
            continue
        done += 1
    return done
