"""Staff roles. Partners are API keys, not users; every user is staff with one of these roles.

The roles are nested: a senior analyst may do everything an analyst may, an administrator
everything a senior analyst may. A role is membership of the Django group of the same name
(superusers are administrators), so the admin's user pages are where roles are given.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    ANALYST = "analyst", _("Analyst")
    SENIOR = "senior", _("Senior analyst")
    ADMIN = "admin", _("Administrator")


RANK = {Role.ANALYST: 1, Role.SENIOR: 2, Role.ADMIN: 3}
GROUP_NAMES = {Role.ANALYST: "Analyst", Role.SENIOR: "Senior analyst", Role.ADMIN: "Administrator"}


def role_of(user: Any) -> Role | None:
    """The user's highest role, or None (not logged in, inactive, or no role)."""
    if user is None or not getattr(user, "is_authenticated", False) or not getattr(user, "is_active", False):
        return None
    if user.is_superuser:
        return Role.ADMIN
    if hasattr(user, "_scart_role"):
        cached: Role | None = user._scart_role
        return cached
    names = set(user.groups.values_list("name", flat=True))
    role = max((r for r, name in GROUP_NAMES.items() if name in names), key=RANK.__getitem__, default=None)
    user._scart_role = role
    return role


def has_role(user: Any, role: Role) -> bool:
    """Whether ``user`` holds ``role`` or a higher one."""
    held = role_of(user)
    return held is not None and RANK[held] >= RANK[role]


def require_role(request: Any, role: Role) -> None:
    """Raise `PermissionDenied` (a 403 page) unless the request's user holds ``role``."""

    if not has_role(request.user, role):
        raise PermissionDenied(_("this needs the %(role)s role") % {"role": str(role.label).lower()})
