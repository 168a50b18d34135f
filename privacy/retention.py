"""The retention run: every rule's steps (`privacy.steps`), in bounded batches, and its record.

`retention_run` is what the daily task and ``manage.py retention`` call. Each step walks the rows
whose time is up in the order of their ids (``id > last`` in batches of ``SCART_RETENTION_BATCH``),
each batch one short transaction with one ``UPDATE … WHERE id IN (batch)`` (or ``DELETE``), so a
run over a million cases neither holds long locks nor reads any row twice. A dry run only counts.
The real run appends one audit entry with the counts per rule and step, never an erased value.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from privacy.rules import CurrentRule, rules_current
from privacy.steps import Step, steps_of
from scart.times import iso

log = logging.getLogger(__name__)


@dataclass
class StepResult:
    kind: str
    step: str
    rows: int
    seconds: float = 0.0


@dataclass
class RetentionResult:
    at: datetime
    dry_run: bool
    steps: list[StepResult] = field(default_factory=list)
    # Rules an administrator switched off: nothing of theirs is looked at.
    skipped: list[str] = field(default_factory=list)

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.steps)

    def by_rule(self) -> dict[str, dict[str, int]]:
        found: dict[str, dict[str, int]] = {}
        for s in self.steps:
            found.setdefault(s.kind, {})[s.step] = s.rows
        return found


def retention_run(
    *, now: datetime | None = None, dry_run: bool = False, batch: int | None = None, audit: AuditContext | None = None
) -> RetentionResult:
    """Apply every rule that is on to what is due at ``now`` (or, with ``dry_run``, count it)."""
    now = now or timezone.now()
    batch = batch or settings.SCART_RETENTION_BATCH
    result = RetentionResult(at=now, dry_run=dry_run)
    rules = rules_current()
    for rule in rules:
        if not rule.enabled:
            result.skipped.append(rule.kind)
            continue
        cutoff = now - timedelta(days=rule.days)
        for step in steps_of(rule.kind):
            started = time.monotonic()
            rows = step.due(cutoff, now).count() if dry_run else _apply(step, cutoff, now, batch)
            result.steps.append(StepResult(rule.kind, step.name, rows, time.monotonic() - started))
    if not dry_run:
        _record(result, rules, audit)
    return result


def _apply(step: Step, cutoff: datetime, now: datetime, batch: int) -> int:
    due = step.due(cutoff, now)
    changed = 0
    last: Any = None
    while True:
        page = due if last is None else due.filter(pk__gt=last)
        ids = list(page.order_by("pk").values_list("pk", flat=True)[:batch])
        if not ids:
            return changed
        with transaction.atomic():
            changed += step.apply(step.due(cutoff, now), ids)
        last = ids[-1]
        if len(ids) < batch:
            return changed


def _record(result: RetentionResult, rules: list[CurrentRule], audit: AuditContext | None) -> None:
    data = {
        "at": iso(result.at),
        "days": {r.kind: r.days for r in rules if r.enabled},
        "off": result.skipped,
        "rows": result.by_rule(),
        "seconds": round(sum(s.seconds for s in result.steps), 3),
    }
    audit_record(
        action=AuditAction.RETENTION_RUN,
        audit=audit,
        object_type="privacy.retention",
        summary=f"retention run: {result.rows} rows erased or deleted",
        data=data,
    )
    log.info("retention run: %d rows erased or deleted", result.rows)
