"""Writes of the accounts app: the audit trail."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest
from django.utils import translation

from accounts.models import AuditAction, AuditEntry


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    return request.META.get("REMOTE_ADDR") or None


@dataclass(frozen=True, slots=True)
class AuditContext:
    """Who acted and from where, for the audit trail: what a service needs of a request, built by
    the view (`from_request`), so that services take no request. ``user`` is None for the
    system and for an operator at the command line."""

    user: Any = None
    ip_address: str | None = None

    @classmethod
    def from_request(cls, request: HttpRequest | None) -> AuditContext:
        """Who sent ``request`` and from where; nobody and nowhere without one (a signal sent
        outside a request)."""
        if request is None:
            return cls()
        user = getattr(request, "user", None)
        return cls(user=user if user is not None and user.is_authenticated else None, ip_address=client_ip(request))


def audit_record(
    *,
    action: AuditAction,
    actor: Any = None,
    audit: AuditContext | None = None,
    obj: Any = None,
    object_type: str = "",
    object_id: str | int = "",
    summary: str = "",
    summary_params: Mapping[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Append one entry. ``audit`` (built by the view: `AuditContext.from_request`) says who
    acted and from where; ``actor`` overrides its user. ``obj`` names the object acted on (its model
    label and primary key), or give ``object_type`` and ``object_id``.

    With ``summary_params``, ``summary`` is a message marked with ``gettext_noop`` and its named
    parameters: the entry keeps it as a code (``data["summary_code"]``, ``data["summary_params"]``)
    so that `AuditEntry.summary_text` puts it in the reader's language when shown, and its English
    text in ``summary`` (for the admin and older readers)."""
    data = dict(data or {})
    if summary_params is not None:
        data["summary_code"] = summary
        data["summary_params"] = dict(summary_params)
    if audit is None:
        audit = AuditContext()
    if actor is None:
        actor = audit.user
    if obj is not None:
        object_type = object_type or obj._meta.label_lower
        object_id = object_id or obj.pk
    entry = AuditEntry(
        actor=actor,
        actor_name=actor.get_username() if actor is not None else "",
        action=action,
        object_type=object_type,
        object_id=str(object_id),
        summary=summary[:300],
        data=data,
        ip_address=audit.ip_address,
    )
    if summary_params is not None:
        with translation.override("en"):
            entry.summary = entry.summary_text()[:300]
    entry.save()
    return entry
