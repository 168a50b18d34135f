"""Writes of the retention page: an administrator changes a rule's days or switches it off."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from privacy.models import RetentionSetting
from privacy.rules import RULE_OF

MAX_DAYS = 36_500


class RetentionValueError(ValueError):
    """Days out of range, or a kind of data no rule has."""


def retention_setting_change(*, kind: str, days: int, enabled: bool, audit: AuditContext) -> bool:
    """Set a rule's days and whether it is on; audited with the values before and after.
    Returns whether anything changed."""
    rule = RULE_OF.get(kind)
    if rule is None:
        raise RetentionValueError(f"no retention rule for {kind!r}")
    if not 1 <= days <= MAX_DAYS:
        raise RetentionValueError(f"days must be between 1 and {MAX_DAYS}")
    with transaction.atomic():
        current = RetentionSetting.objects.select_for_update().filter(kind=kind).first()
        before = (
            {"days": current.days, "enabled": current.enabled}
            if current
            else {"days": rule.default_days, "enabled": True}
        )
        after = {"days": days, "enabled": enabled}
        if before == after:
            return False
        RetentionSetting.objects.update_or_create(
            kind=kind,
            defaults={"days": days, "enabled": enabled, "changed_at": timezone.now(), "changed_by": audit.user},
        )
        audit_record(
            action=AuditAction.RETENTION_CHANGED,
            audit=audit,
            object_type="privacy.retentionsetting",
            object_id=kind,
            summary=f"retention of {kind}: {after['days']} days" + ("" if enabled else " (off)"),
            data={"before": before, "after": after, "default": rule.default_days},
        )
    return True
