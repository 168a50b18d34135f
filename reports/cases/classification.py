"""What an analyst says about a case: the fields of a verdict, checked and completed.

Part of the core: assessment records it, reviews decide with it, suggestions fill it in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from django.utils.translation import gettext_lazy as _

from reports.models import (
    AgeGroup,
    AiGenerated,
    Category,
    LegalBasis,
    MediaType,
    NotIllegalReason,
    PoliceReason,
    Verdict,
)
from scart.shown import ShownError

# The age group a category implies, used when the analyst gives none.
AGE_OF_CATEGORY = {
    Category.A1: AgeGroup.PREPUBESCENT,
    Category.A2: AgeGroup.PREPUBESCENT,
    Category.B1: AgeGroup.PUBESCENT,
    Category.B2: AgeGroup.PUBESCENT,
}
# The fields that make a verdict (a `Classification` without its notes and provenance).
VERDICT_FIELDS = (
    "verdict",
    "legal_basis",
    "category",
    "age_group",
    "media_type",
    "ai_generated",
    "drawn",
    "police_first",
    "police_reason",
    "not_illegal_reason",
)


class FieldError(ShownError):
    """What is wrong with one field of a verdict: ``code`` for code to act on (one of
    `FIELD_ERROR_CODES`), the message for a person (translated when shown, see `ShownError`)."""


# What can be wrong with a field. A suggestion (a domain rule's verdict) may leave fields to the
# analyst ("required"), but not give one its verdict excludes or one that is no choice.
FIELD_ERROR_CODES = ("required", "not_a_choice", "only_illegal", "only_not_illegal", "only_police_first", "too_long")
CONTRADICTION_CODES = frozenset({"not_a_choice", "only_illegal", "only_not_illegal", "only_police_first"})


class AssessmentInvalid(ShownError, ValueError):
    """The fields do not make a valid verdict; ``errors`` maps each field to what is wrong with
    it (a `FieldError`: its ``code``, and its message in the reader's language as ``str()``)."""

    code = "assessment_invalid"

    def __init__(self, errors: dict[str, FieldError]) -> None:
        super().__init__("; ".join(f"{k}: {v.english()}" for k, v in errors.items()))
        self.errors = errors

    def codes(self) -> dict[str, str]:
        return {name: error.code for name, error in self.errors.items()}

    def messages(self) -> dict[str, str]:
        """The messages in the language active now (the reader's, on a page)."""
        return {name: str(error) for name, error in self.errors.items()}

    def english(self) -> str:
        return str(self.message)

    def english_errors(self) -> dict[str, str]:
        """The messages in English, for the API, whose answers stay stable."""
        return {name: error.english() for name, error in self.errors.items()}


def _not_one_of(value: str, allowed: Any) -> FieldError:
    return FieldError(
        _("%(value)r is not one of %(choices)s"), value=value, choices=", ".join(allowed), code="not_a_choice"
    )


def _only_illegal() -> FieldError:
    return FieldError(_("only for a verdict of illegal"), code="only_illegal")


def _only_not_illegal() -> FieldError:
    return FieldError(_("only for a verdict of not illegal"), code="only_not_illegal")


@dataclass
class Classification:
    """What an analyst says about a case (see the issue's field list)."""

    verdict: str
    legal_basis: str = ""
    category: str = ""
    age_group: str = ""
    media_type: str = ""
    ai_generated: str = ""
    drawn: bool | None = None
    police_first: bool = False
    police_reason: str = ""
    not_illegal_reason: str = ""
    notes: str = ""
    suggestion: dict[str, Any] = field(default_factory=dict)

    def cleaned(self) -> Classification:
        """Checked and completed (the age group a category implies, ``drawn`` no, AI unknown), or
        `AssessmentInvalid`."""
        errors: dict[str, FieldError] = {}

        def choice(name: str, choices: Any, *, required: bool) -> None:
            value = getattr(self, name) or ""
            if value and value not in choices.values:
                errors[name] = _not_one_of(value, choices.values)
            elif required and not value:
                errors[name] = FieldError(_("required for this verdict"), code="required")

        if self.verdict not in Verdict.values:
            raise AssessmentInvalid({"verdict": _not_one_of(self.verdict, Verdict.values)})
        illegal = self.verdict == Verdict.ILLEGAL
        if illegal:
            if not self.age_group and self.category in AGE_OF_CATEGORY:
                self.age_group = AGE_OF_CATEGORY[Category(self.category)]
            self.ai_generated = self.ai_generated or AiGenerated.UNKNOWN
            self.drawn = bool(self.drawn)
            choice("legal_basis", LegalBasis, required=True)
            choice("category", Category, required=True)
            choice("age_group", AgeGroup, required=True)
            choice("media_type", MediaType, required=True)
            choice("ai_generated", AiGenerated, required=True)
            choice("police_reason", PoliceReason, required=self.police_first)
            if self.police_reason and not self.police_first:
                errors["police_reason"] = FieldError(_("only with the police-first flag"), code="only_police_first")
            if self.not_illegal_reason:
                errors["not_illegal_reason"] = _only_not_illegal()
        else:
            for name in ("legal_basis", "category", "age_group", "media_type", "ai_generated", "police_reason"):
                if getattr(self, name):
                    errors[name] = _only_illegal()
            if self.police_first:
                errors["police_first"] = _only_illegal()
            if self.drawn is not None and self.verdict != Verdict.NOT_ILLEGAL:
                errors["drawn"] = FieldError(_("only for a verdict of illegal or not illegal"), code="only_illegal")
            choice("not_illegal_reason", NotIllegalReason, required=self.verdict == Verdict.NOT_ILLEGAL)
            if self.verdict != Verdict.NOT_ILLEGAL and self.not_illegal_reason:
                errors["not_illegal_reason"] = _only_not_illegal()
        if len(self.notes) > 5000:
            errors["notes"] = FieldError(_("at most 5,000 characters"), code="too_long")
        if errors:
            raise AssessmentInvalid(errors)
        return self

    def as_event_data(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None, {}) or k == "verdict"}
