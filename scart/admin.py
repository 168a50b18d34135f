"""The Django admin is the administrators' tool: users, roles, partners, providers, settings and
the audit trail. Only the administrator role may open it (behind the same two-factor login as
every staff page); analysts and senior analysts get a 403, not a login loop."""

from __future__ import annotations

from functools import wraps
from typing import Any

from django.contrib.admin import AdminSite
from django.contrib.admin.apps import AdminConfig
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse

from accounts.roles import Role, has_role


class ScartAdminSite(AdminSite):
    site_header = "scart administration"
    site_title = "scart admin"

    def has_permission(self, request: HttpRequest) -> bool:
        user = request.user
        verified = getattr(user, "is_verified", lambda: False)()
        return bool(verified and has_role(user, Role.ADMIN))

    def admin_view(self, view: Any, cacheable: bool = False) -> Any:
        inner = super().admin_view(view, cacheable)

        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if request.user.is_authenticated and not self.has_permission(request):
                raise PermissionDenied("the admin is for administrators")
            response: HttpResponse = inner(request, *args, **kwargs)
            return response

        return guarded


class ScartAdminConfig(AdminConfig):
    default_site = "scart.admin.ScartAdminSite"

    def ready(self) -> None:
        super().ready()
        # scart's own system checks register when their module is imported, once the apps are
        # ready; this is the project's one app config.
        from scart import checks  # noqa: F401
