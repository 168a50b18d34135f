"""What an analyst says about a case: the fields of a verdict, checked and completed.

Part of the core: assessment records it, reviews decide with it, suggestions fill it in.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

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


class AssessmentInvalid(ValueError):
    """The fields do not make a valid verdict; ``errors`` maps each field to what is wrong."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


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
        errors: dict[str, str] = {}

        def choice(name: str, choices: Any, *, required: bool) -> None:
            value = getattr(self, name) or ""
            if value and value not in choices.values:
                errors[name] = f"{value!r} is not one of {', '.join(choices.values)}"
            elif required and not value:
                errors[name] = "required for this verdict"

        if self.verdict not in Verdict.values:
            raise AssessmentInvalid({"verdict": f"{self.verdict!r} is not one of {', '.join(Verdict.values)}"})
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
                errors["police_reason"] = "only with the police-first flag"
            if self.not_illegal_reason:
                errors["not_illegal_reason"] = "only for a verdict of not illegal"
        else:
            for name in ("legal_basis", "category", "age_group", "media_type", "ai_generated", "police_reason"):
                if getattr(self, name):
                    errors[name] = "only for a verdict of illegal"
            if self.police_first:
                errors["police_first"] = "only for a verdict of illegal"
            if self.drawn is not None and self.verdict != Verdict.NOT_ILLEGAL:
                errors["drawn"] = "only for a verdict of illegal or not illegal"
            choice("not_illegal_reason", NotIllegalReason, required=self.verdict == Verdict.NOT_ILLEGAL)
            if self.verdict != Verdict.NOT_ILLEGAL and self.not_illegal_reason:
                errors["not_illegal_reason"] = "only for a verdict of not illegal"
        if len(self.notes) > 5000:
            errors["notes"] = "at most 5,000 characters"
        if errors:
            raise AssessmentInvalid(errors)
        return self

    def as_event_data(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", None, {}) or k == "verdict"}
