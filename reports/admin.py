"""Django admin for the intake: reports, cases with their read-only timeline, partners and keys."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from reports.models import ApiKey, Case, Event, Partner, Report, ReportedUrl


class ReadOnlyInline(admin.TabularInline):  # type: ignore[type-arg]
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class EventInline(ReadOnlyInline):
    model = Event
    fields = readonly_fields = ("at", "kind", "actor_type", "actor_user", "actor_partner", "data")
    ordering = ["at", "id"]


class ReportedUrlInline(ReadOnlyInline):
    model = ReportedUrl
    fields = readonly_fields = ("case", "original_url", "duplicate")
    raw_id_fields = ["case"]


@admin.register(Case)
class CaseAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = [
        "id",
        "canonical_url",
        "host",
        "state",
        "provider",
        "hosting_country",
        "contact_confidence",
        "report_count",
        "first_reported_at",
    ]
    list_filter = ["state", "contact_check", "contact_confidence", "hosting_country", "unresolvable", "is_ip"]
    list_select_related = ["provider"]
    search_fields = ["canonical_url", "=url_sha256", "host", "registrable_domain"]
    date_hierarchy = "first_reported_at"
    readonly_fields = [f.name for f in Case._meta.fields]
    inlines = [EventInline]
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Report)
class ReportAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["reference", "channel", "partner", "source", "url_count", "rejected_count", "received_at"]
    list_filter = ["channel", "partner"]
    search_fields = ["=reference", "external_ref", "urls__original_url", "cases__host", "reporter_email"]
    readonly_fields = [f.name for f in Report._meta.fields]
    inlines = [ReportedUrlInline]
    date_hierarchy = "received_at"
    show_full_result_count = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False


class ApiKeyInline(admin.TabularInline):  # type: ignore[type-arg]
    model = ApiKey
    extra = 0
    fields = ["name", "prefix", "created_at", "last_used_at", "revoked_at"]
    readonly_fields = ["prefix", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Keys are made with `manage.py create_api_key`, which shows the key once.
        return False


@admin.register(Partner)
class PartnerAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["name", "is_active", "rate_limit", "created_at"]
    search_fields = ["name"]
    inlines = [ApiKeyInline]


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["partner", "name", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["partner"]
    search_fields = ["partner__name", "prefix", "name"]
    readonly_fields = ["partner", "prefix", "key_hash", "created_at", "last_used_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
