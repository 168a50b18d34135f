"""The audit trail, what scart knows about a staff member beyond Django's user, and staff API
tokens.

`AuditEntry` is append-only: the model refuses updates and deletes, the admin shows it read-only,
and a database trigger (migration 0002) refuses ``UPDATE`` and ``DELETE`` from anything else.
"""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from accounts.devices import EnrolmentLink, StaffDevice
from scart.times import shown

__all__ = ["AuditAction", "AuditEntry", "EnrolmentLink", "StaffDevice", "StaffProfile", "StaffToken"]


def _model_name(label: str) -> str:
    try:
        return str(apps.get_model(label)._meta.verbose_name)
    except (LookupError, ValueError):
        return label


def _param_text(value: Any) -> Any:
    if not (isinstance(value, dict) and isinstance(value.get("field"), str)):
        return value
    label, _dot, name = value["field"].rpartition(".")
    try:
        choices = dict(apps.get_model(label)._meta.get_field(name).flatchoices)
    except (LookupError, ValueError, FieldDoesNotExist):
        choices = {}
    return str(choices.get(value.get("value"), value.get("value", "")))


class AuditAction(models.TextChoices):
    LOGIN = "login", _("Logged in")
    LOGIN_FAILED = "login_failed", _("Login failed")
    LOCKED_OUT = "locked_out", _("Locked out")
    OTP_FAILED = "otp_failed", _("Second factor failed")
    OTP_ENROLLED = "otp_enrolled", _("Authenticator enrolled")
    LOGOUT = "logout", _("Logged out")
    CASE_VIEWED = "case_viewed", _("Case viewed")
    CASE_ASSESSED = "case_assessed", _("Case assessed")
    REVIEW_DECIDED = "review_decided", _("Second opinion decided")
    EXPORTED = "exported", _("Data exported")
    RULE_CHANGED = "rule_changed", _("Rule changed")
    CONTACT_CHANGED = "contact_changed", _("Contact changed")
    USER_CHANGED = "user_changed", _("User changed")
    ROLE_CHANGED = "role_changed", _("Role changed")
    SETTING_CHANGED = "setting_changed", _("Setting changed")
    TOKEN_CREATED = "token_created", _("API token created")
    TOKEN_REVOKED = "token_revoked", _("API token revoked")
    NOTICE_RESENT = "notice_resent", _("Notice sent again")
    NOTICE_MARKED_SENT = "notice_marked_sent", _("Notice confirmed as sent")
    DISPUTE_DECIDED = "dispute_decided", _("Dispute decided")
    CASE_RELEASED = "case_released", _("Police-first case released")
    CASE_MARKED_REMOVED = "case_marked_removed", _("Case marked removed by hand")
    CASES_ASSIGNED = "cases_assigned", _("Cases assigned")
    CASES_RERESOLVED = "cases_reresolved", _("Cases resolved again on request")
    NOTICE_SENT_NOW = "notice_sent_now", _("Notice sent at once")
    NOTICE_CANCELLED = "notice_cancelled", _("Notice cancelled")
    NOTICE_ESCALATED = "notice_escalated", _("Escalated at once")
    NOTICE_RECIPIENT_CHANGED = "notice_recipient_changed", _("Notice recipient changed")
    ENROLMENT_LINK_ISSUED = "enrolment_link_issued", _("Enrolment link issued")
    CHANNEL_CHANGED = "channel_changed", _("Delivery channel changed")
    RETENTION_RUN = "retention_run", _("Retention rules applied")
    RETENTION_CHANGED = "retention_changed", _("Retention rule changed")
    REPORTER_DATA_EXPORTED = "reporter_data_exported", _("A reporter's data exported")
    REPORTER_DATA_ERASED = "reporter_data_erased", _("A reporter's data erased")


class AuditQuerySet(models.QuerySet["AuditEntry"]):
    def update(self, **kwargs: Any) -> int:
        raise PermissionError("the audit trail is append-only")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise PermissionError("the audit trail is append-only")


class AuditEntry(models.Model):
    at = models.DateTimeField(default=timezone.now, db_index=True)
    # No database constraint and nothing done on delete: entries are never changed, so a deleted
    # account leaves its id here, and its name in `actor_name`.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    # Kept as text too: the trail must name who acted even after the account is gone.
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=32, choices=AuditAction.choices, db_index=True)
    object_type = models.CharField(max_length=64, blank=True)
    object_id = models.CharField(max_length=64, blank=True, db_index=True)
    summary = models.CharField(max_length=300, blank=True)
    data = models.JSONField(default=dict, blank=True)  # e.g. {"before": ..., "after": ...}
    ip_address = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        verbose_name = "audit entry"
        verbose_name_plural = "audit trail"
        indexes = [models.Index(fields=["object_type", "object_id"], name="audit_object_idx")]

    def __str__(self) -> str:
        return f"{shown(self.at, seconds=True)} {self.actor_name or 'system'} {self.action}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise PermissionError("the audit trail is append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise PermissionError("the audit trail is append-only")

    def summary_text(self) -> str:
        """The summary in the language active now: made from its stored code and parameters
        (`accounts.services.audit_record`), or, for an entry written before there were codes or
        with a text of its own, the text as stored. A parameter named ``model`` holds a model's
        label and reads as its name; one stored as ``{"field": "app.model.field", "value": v}``
        reads as the label of that field's choice ``v``."""
        data = self.data if isinstance(self.data, dict) else {}
        code, params = data.get("summary_code"), data.get("summary_params")
        if not isinstance(code, str) or not isinstance(params, dict):
            return self.summary
        values = {name: _param_text(value) for name, value in params.items()}
        if isinstance(values.get("model"), str):
            values["model"] = _model_name(values["model"])
        try:
            return gettext(code) % values if values else gettext(code)
        except (KeyError, TypeError, ValueError):  # a translation that lost a parameter
            return self.summary


class StaffProfile(models.Model):
    """Per-user settings of the workspace."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_profile")
    in_training = models.BooleanField(
        default=False,
        verbose_name=_("in training"),
        help_text=_("Every verdict of an analyst in training gets a second opinion."),
    )
    # Empty: the language the browser asks for (Accept-Language), English when it asks for neither.
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES, default="")

    def __str__(self) -> str:
        return f"profile of {self.user}"


class StaffToken(models.Model):
    """A staff member's API token, for integrations acting as that member (see `accounts.api_auth`).
    Only its SHA-256 is stored; the token itself is shown once, at creation. Tokens are revoked,
    never deleted, so the audit trail's references to them stay meaningful."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="staff_tokens")
    name = models.CharField(max_length=100, blank=True, help_text="What the token is for, e.g. 'triage bot'.")
    prefix = models.CharField(max_length=16, help_text="First characters of the token, to recognise it.")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    last_used_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True, help_text="Empty: never expires.")
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "staff API token"
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user}: {self.prefix}…"
