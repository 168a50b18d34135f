"""The audit trail in the admin: searchable by administrators, changeable by nobody. Staff API
tokens: listed and revoked by administrators, made with `manage.py create_staff_token`. Users
with their roles (groups) and their training flag on one page, and the action that issues a
second-factor enrolment link. Authenticators are listed without their secrets."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.contrib.auth import get_user_model
from django.contrib.auth.admin import UserAdmin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.api_auth import staff_token_revoke
from accounts.models import AuditEntry, EnrolmentLink, StaffDevice, StaffProfile, StaffToken
from accounts.otp import enrolment_link_issue
from accounts.roles import Role, has_role
from accounts.services import AuditContext


class ReadOnlyForAdministrators(admin.ModelAdmin):  # type: ignore[type-arg]
    """Administrators may look; nobody may add, change or delete."""

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return has_role(request.user, Role.ADMIN)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(AuditEntry)
class AuditEntryAdmin(ReadOnlyForAdministrators):
    list_display = ("at", "actor_name", "action", "object_type", "object_id", "summary", "ip_address")
    list_filter = ("action", "object_type")
    search_fields = ("actor_name", "object_id", "summary")
    date_hierarchy = "at"
    readonly_fields = [f.name for f in AuditEntry._meta.fields]


@admin.register(StaffProfile)
class StaffProfileAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ("user", "in_training")
    list_editable = ("in_training",)


@admin.register(StaffToken)
class StaffTokenAdmin(ReadOnlyForAdministrators):
    list_display = ("user", "name", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("user__username", "name", "prefix")
    readonly_fields = [f.name for f in StaffToken._meta.fields]
    actions = ["revoke"]

    # Tokens are made with `manage.py create_staff_token` (which shows the token once), revoked
    # with the action below, never deleted: the audit trail refers to them.

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[StaffToken]) -> None:
        revoked = sum(
            staff_token_revoke(token=token, actor=request.user, audit=AuditContext.from_request(request))
            for token in queryset.select_related("user")
        )
        self.message_user(request, f"Revoked {revoked} token(s).", messages.SUCCESS)


class StaffProfileInline(admin.StackedInline):  # type: ignore[type-arg]
    model = StaffProfile
    can_delete = False
    verbose_name_plural = "workspace"


admin.site.unregister(get_user_model())
# django-otp's own authenticator admin shows each secret (and its QR code): scart keeps its
# authenticators sealed (`StaffDevice`), and that table stays empty.
if admin.site.is_registered(TOTPDevice):
    admin.site.unregister(TOTPDevice)


@admin.register(StaffDevice)
class StaffDeviceAdmin(ReadOnlyForAdministrators):
    """Who has an authenticator, since when, last used: never its secret. Removing one (a lost
    phone) is done by issuing the person an enrolment link, which replaces it once used."""

    list_display = ("user", "name", "confirmed", "created_at", "last_used_at")
    list_filter = ("confirmed",)
    search_fields = ("user__username",)
    fields = ("user", "name", "confirmed", "created_at", "last_used_at")
    readonly_fields = fields


@admin.register(EnrolmentLink)
class EnrolmentLinkAdmin(ReadOnlyForAdministrators):
    list_display = ("user", "issued_by", "issued_at", "expires_at", "used_at")
    search_fields = ("user__username",)
    readonly_fields = [f.name for f in EnrolmentLink._meta.fields if f.name != "key_hash"]
    exclude = ("key_hash",)


@admin.register(get_user_model())
class StaffUserAdmin(UserAdmin):  # type: ignore[type-arg]
    """Django's user admin, with the workspace settings (in training) inline."""

    inlines = [StaffProfileInline]
    list_display = ("username", "email", "is_active", "last_login")
    list_filter = ("is_active", "groups")
    actions = ["issue_enrolment_link"]

    @admin.action(description="Issue a second-factor enrolment link (replaces the authenticator once used)")
    def issue_enrolment_link(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        audit = AuditContext.from_request(request)
        base = request.build_absolute_uri("/").rstrip("/")
        for user in queryset:
            link = enrolment_link_issue(user, audit=audit, base_url=base)
            # Shown once, here: only its hash is kept. Give it to the person by a channel you trust.
            self.message_user(
                request, f"Enrolment link for {user.get_username()} (shown once): {link}", messages.WARNING
            )
