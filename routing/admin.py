"""Django admin for the contact book: providers, domain rules, and the lookup caches (read-only)."""

from __future__ import annotations

import ipaddress
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from reports.cases.services import Actor
from routing import admin_keys  # noqa: F401 — registers the signing keys' admin
from routing.forms import DomainRuleForm
from routing.models import (
    AsnLookup,
    AsnName,
    DeliveryChannel,
    DomainLookup,
    DomainRule,
    HostLookup,
    NetworkLookup,
    Notice,
    NoticeCase,
    NoticeDelivery,
    PartnerHotline,
    Provider,
)
from routing.notices.openpgp import KeyInvalid, key_facts, recipient_key_check
from routing.resolution.confirmation import contact_confirm
from routing.resolution.contacts import clean_emails


class ProviderForm(forms.ModelForm):  # type: ignore[type-arg]
    """Lists are edited as JSON; an emptied list is an empty list, and entries are checked."""

    class Meta:
        model = Provider
        fields = [
            "name",
            "country",
            "language",
            "notes",
            "abuse_emails",
            "abuse_source",
            "confidence",
            "verified",
            "escalation_email",
            "fallback_email",
            "asns",
            "cidrs",
            "rdap_handles",
            "is_cdn",
            "notice_window",
            "reminder_interval",
            "reminder_max",
            "openpgp_key",
            "source",
        ]

    def _list(self, name: str) -> list[Any]:
        value = self.cleaned_data.get(name)
        if value in (None, ""):
            return []
        if not isinstance(value, list):
            raise ValidationError('Enter a JSON list, e.g. ["a", "b"].')
        return value

    def clean_abuse_emails(self) -> list[str]:
        emails = self._list("abuse_emails")
        cleaned = list(clean_emails(str(e) for e in emails))
        if len(cleaned) != len(emails):
            raise ValidationError("Every entry must be one e-mail address.")
        return cleaned

    def clean_asns(self) -> list[int]:
        asns = []
        for entry in self._list("asns"):
            text = str(entry).strip().upper().removeprefix("AS")
            if not text.isdigit() or not 0 < int(text) < 2**32:
                raise ValidationError(f"{entry!r} is not an AS number.")
            asns.append(int(text))
        return asns

    def clean_cidrs(self) -> list[str]:
        cidrs = []
        for entry in self._list("cidrs"):
            try:
                cidrs.append(str(ipaddress.ip_network(str(entry).strip(), strict=False)))
            except ValueError:
                raise ValidationError(f"{entry!r} is not a network such as 192.0.2.0/24.") from None
        return cidrs

    def clean_rdap_handles(self) -> list[str]:
        return [str(h).strip() for h in self._list("rdap_handles") if str(h).strip()]

    def clean_openpgp_key(self) -> str:
        return _public_key(self.cleaned_data.get("openpgp_key") or "")


def _public_key(text: str) -> str:
    """A recipient's public key as entered, checked (readable, valid now, can take encrypted mail)."""
    try:
        recipient_key_check(text)
    except KeyInvalid as exc:
        raise ValidationError(str(exc)) from None
    return text.strip() + "\n" if text.strip() else ""


def _key_facts(text: str) -> str:
    if not text.strip():
        return "none: notices to it are signed, not encrypted"
    facts = key_facts(text)
    return "; ".join(f.describe() for f in facts) if facts else "unreadable: notices to it are not encrypted"


@admin.register(Provider)
class ProviderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = ProviderForm
    list_display = ["name", "country", "abuse_list", "abuse_source", "confidence", "verified", "is_cdn", "source"]
    list_filter = ["verified", "is_cdn", "source", "confidence", "abuse_source", "country"]
    search_fields = ["name", "key", "abuse_emails", "rdap_handles", "notes", "asns", "cidrs"]
    # The flag is set by bounces and cleared by confirming the contact (the action below).
    readonly_fields = [
        "key",
        "created_at",
        "updated_at",
        "contact_flagged_at",
        "contact_flag_reason",
        "abuse_rule",
        "openpgp_key_facts",
    ]
    fieldsets = [
        (None, {"fields": ["name", "country", "language", "notes"]}),
        (
            "Abuse contact",
            {
                "fields": [
                    "abuse_emails",
                    "abuse_source",
                    "abuse_rule",
                    "confidence",
                    "verified",
                    "fallback_email",
                    "escalation_email",
                    "contact_flagged_at",
                    "contact_flag_reason",
                ]
            },
        ),
        ("Networks", {"fields": ["asns", "cidrs", "rdap_handles", "is_cdn"]}),
        (
            "Notices",
            {
                "fields": [
                    "delivery_channel",
                    "notice_window",
                    "reminder_interval",
                    "reminder_max",
                    "openpgp_key",
                    "openpgp_key_facts",
                ]
            },
        ),
        ("Record", {"fields": ["source", "key", "created_at", "updated_at"]}),
    ]
    actions = ["confirm_contact"]
    show_full_result_count = False

    @admin.display(description="abuse addresses")
    def abuse_list(self, obj: Provider) -> str:
        return ", ".join(obj.abuse_emails or [])

    @admin.display(description="OpenPGP key")
    def openpgp_key_facts(self, obj: Provider) -> str:
        return _key_facts(obj.openpgp_key)

    @admin.action(description="Confirm the abuse addresses and release their cases from the contact check")
    def confirm_contact(self, request: HttpRequest, queryset: QuerySet[Provider]) -> None:
        released = 0
        for provider in queryset:
            if not provider.abuse_emails:
                self.message_user(request, f"{provider}: no abuse address to confirm", messages.WARNING)
                continue
            released += contact_confirm(
                provider=provider, emails=provider.abuse_emails, actor=Actor.staff(request.user)
            )
        self.message_user(request, f"{released} case(s) left the contact-check queue.")


@admin.register(DomainRule)
class DomainRuleAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    # The senior analysts' form: suffixes normalised as reported hosts are, suggestions checked.
    form = DomainRuleForm
    list_display = ["suffix", "provider", "origin_host", "created_at", "created_by"]
    search_fields = ["suffix", "origin_host", "provider__name", "notes"]
    autocomplete_fields = ["provider"]
    readonly_fields = ["created_at", "created_by"]

    def save_model(self, request: HttpRequest, obj: DomainRule, form: Any, change: bool) -> None:
        if not change:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)


class CacheAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Caches are written by resolution only; deleting a row makes the next lookup fresh."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(HostLookup)
class HostLookupAdmin(CacheAdmin):
    list_display = ["host", "fetched_at", "expires_at"]
    search_fields = ["host"]


@admin.register(NetworkLookup)
class NetworkLookupAdmin(CacheAdmin):
    list_display = ["cidr", "error", "fetched_at", "expires_at"]
    search_fields = ["cidr", "data"]


@admin.register(AsnLookup)
class AsnLookupAdmin(CacheAdmin):
    list_display = ["cidr", "error", "fetched_at", "expires_at"]
    search_fields = ["cidr"]


@admin.register(AsnName)
class AsnNameAdmin(CacheAdmin):
    list_display = ["asn", "name", "expires_at"]
    search_fields = ["=asn", "name"]


@admin.register(DomainLookup)
class DomainLookupAdmin(CacheAdmin):
    list_display = ["domain", "error", "fetched_at", "expires_at"]
    search_fields = ["domain"]


class PartnerHotlineForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = PartnerHotline
        fields = [
            "country",
            "name",
            "email",
            "website",
            "language",
            "active",
            "direct_notice_after",
            "delivery_channel",
            "notes",
            "openpgp_key",
        ]

    def clean_openpgp_key(self) -> str:
        return _public_key(self.cleaned_data.get("openpgp_key") or "")


@admin.register(PartnerHotline)
class PartnerHotlineAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    form = PartnerHotlineForm
    list_display = ["country", "name", "email", "language", "active", "direct_notice_after", "delivery_channel"]
    list_editable = ["email", "active"]
    list_filter = ["active", "language", "delivery_channel"]
    search_fields = ["country", "name", "email"]
    readonly_fields = ["openpgp_key_facts"]

    @admin.display(description="OpenPGP key")
    def openpgp_key_facts(self, obj: PartnerHotline) -> str:
        return _key_facts(obj.openpgp_key)

    def formfield_for_choice_field(self, db_field: Any, request: HttpRequest, **kwargs: Any) -> Any:
        if db_field.name == "delivery_channel":
            # A partner hotline has no abuse-reporting API: its referrals go by mail or by hand.
            kwargs["choices"] = [c for c in db_field.choices if c[0] != DeliveryChannel.PROVIDER_API]
        return super().formfield_for_choice_field(db_field, request, **kwargs)


class NoticeCaseInline(admin.TabularInline):  # type: ignore[type-arg]
    model = NoticeCase
    fields = ["case", "added_at", "dropped_at", "drop_reason", "response", "responded_at", "dispute_state"]
    readonly_fields = ["case", "added_at", "dropped_at", "drop_reason", "response", "responded_at", "dispute_state"]
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


_DELIVERY_FIELDS = (
    "part_key",
    "channel",
    "state",
    "message_id",
    "external_id",
    "attempts",
    "sent_at",
    "status",
    "last_error",
)


class NoticeDeliveryInline(admin.TabularInline):  # type: ignore[type-arg]
    model = NoticeDelivery
    fields = _DELIVERY_FIELDS
    readonly_fields = _DELIVERY_FIELDS
    extra = 0
    can_delete = False
    show_change_link = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Notice)
class NoticeAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Notices are the record of what was sent: read-only here (the notices pages resend or settle
    notices in doubt, with an audit record)."""

    list_display = ["reference", "kind", "step", "recipient_name", "channel", "state", "due_at", "sent_at", "attempts"]
    list_filter = ["state", "kind", "recipient_kind", "channel", "language"]
    search_fields = ["=reference", "recipient_name", "emails", "message_id"]
    date_hierarchy = "created_at"
    inlines = [NoticeCaseInline, NoticeDeliveryInline]
    show_full_result_count = False

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in Notice._meta.fields if f.name != "link_key_hash"]

    def get_exclude(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return ["link_key_hash"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
