"""Permissions follow roles: an administrator may do everything in the admin, as a superuser may,
without per-model permission rows to keep in step with the code. Other roles have no admin
permissions at all (their pages check roles, see `accounts.roles`)."""

from __future__ import annotations

from typing import Any

from accounts.roles import Role, has_role


class AdministratorRoleBackend:
    def authenticate(self, request: Any, **credentials: Any) -> None:
        return None  # permissions only; passwords are checked by ModelBackend

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        return has_role(user_obj, Role.ADMIN)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        return has_role(user_obj, Role.ADMIN)

    def get_user(self, user_id: Any) -> None:
        return None
