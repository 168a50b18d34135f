"""The retention page's model: every rule as it applies now, and what the last run did."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from accounts.models import AuditAction, AuditEntry
from privacy.rules import rules_current


@dataclass(frozen=True)
class RuleRow:
    kind: str
    label: Any
    what: Any
    where: str
    counted_from: Any
    days: int
    default_days: int
    enabled: bool
    is_default: bool
    changed_at: datetime | None
    changed_by: str
    last_rows: int | None  # rows the last run changed under this rule (None: no run yet)


@dataclass(frozen=True)
class LastRun:
    at: datetime
    rows: int
    seconds: float


@dataclass(frozen=True)
class RetentionPage:
    rules: list[RuleRow]
    last_run: LastRun | None


def retention_page() -> RetentionPage:
    entry = AuditEntry.objects.filter(action=AuditAction.RETENTION_RUN).order_by("-at", "-id").first()
    per_rule: dict[str, int] = {}
    last = None
    if entry is not None:
        rows = entry.data.get("rows", {}) if isinstance(entry.data, dict) else {}
        per_rule = {kind: sum(int(n) for n in steps.values()) for kind, steps in rows.items()}
        last = LastRun(entry.at, sum(per_rule.values()), float(entry.data.get("seconds", 0)))
    return RetentionPage(
        rules=[
            RuleRow(
                kind=r.kind,
                label=r.label,
                what=r.rule.what,
                where=r.rule.where,
                counted_from=r.rule.counted_from,
                days=r.days,
                default_days=r.rule.default_days,
                enabled=r.enabled,
                is_default=r.is_default,
                changed_at=r.changed_at,
                changed_by=r.changed_by,
                last_rows=per_rule.get(r.kind) if entry is not None else None,
            )
            for r in rules_current()
        ],
        last_run=last,
    )
