"""The hotline's OpenPGP signing keys in the admin: generated or imported, never shown again (the
private key is sealed at rest), one signing at a time. Registered by `routing.admin`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.services import AuditContext
from routing.models import SigningKey
from routing.notices.openpgp import KeyInvalid, signing_key_generate, signing_key_read
from routing.notices.signing_keys import signing_key_activate, signing_key_build


class SigningKeyForm(forms.ModelForm):  # type: ignore[type-arg]
    """A new signing key: generated here for a user id, or imported from a private key file. The
    private key is never shown again (sealed at rest)."""

    generate_for = forms.CharField(
        required=False,
        max_length=300,
        label="Generate a new key for",
        help_text="A user id such as: Example Hotline <notices@hotline.example>. Leave blank to import a key.",
    )
    valid_days = forms.IntegerField(initial=3 * 365, min_value=0, help_text="Days a generated key is valid (0: ever).")
    private_key = forms.FileField(
        required=False,
        label="Or import a private key",
        help_text="ASCII armour without a passphrase (gpg --armor --export-secret-keys FINGERPRINT).",
    )

    class Meta:
        model = SigningKey
        fields: list[str] = []

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        user_id, upload = (data.get("generate_for") or "").strip(), data.get("private_key")
        if bool(user_id) == bool(upload):
            raise ValidationError("Either generate a key for a user id or import a private key file.")
        try:
            if user_id:
                days = data.get("valid_days") or 0
                tsk = signing_key_generate(user_id, valid_for=timedelta(days=days) if days else None)
            else:
                assert upload is not None  # one of the two, checked above
                tsk = signing_key_read(upload.read().decode("utf-8", errors="replace"))
        except KeyInvalid as exc:
            raise ValidationError(str(exc)) from None
        built = signing_key_build(tsk)
        if SigningKey.objects.filter(fingerprint=built.fingerprint).exists():
            raise ValidationError("This key is here already: select it in the list to make it sign again.")
        for name in ("fingerprint", "user_id", "public_key", "secret_key", "expires_at"):
            setattr(self.instance, name, getattr(built, name))
        return data


@admin.register(SigningKey)
class SigningKeyAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The hotline's OpenPGP keys. The private key is never shown (it is not an editable field);
    the public key is published at /openpgp-key.asc."""

    list_display = ["fingerprint", "user_id", "active", "created_at", "expires_at"]
    readonly_fields = ["fingerprint", "user_id", "active", "created_at", "expires_at", "public_key"]
    actions = ["make_signing"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        if obj is None:
            kwargs["form"] = SigningKeyForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ["generate_for", "valid_days", "private_key"]
        return list(self.readonly_fields)

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return list(self.readonly_fields) if obj is not None else []

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # The signing key stays until another one signs.
        return super().has_delete_permission(request, obj) and (obj is None or not obj.active)

    def save_model(self, request: HttpRequest, obj: SigningKey, form: Any, change: bool) -> None:
        signing_key_activate(key=obj, audit=AuditContext.from_request(request))

    @admin.action(description="Sign notices with this key")
    def make_signing(self, request: HttpRequest, queryset: QuerySet[SigningKey]) -> None:
        keys = list(queryset[:2])
        if len(keys) != 1:
            self.message_user(request, "Select one key.", messages.WARNING)
            return
        signing_key_activate(key=keys[0], audit=AuditContext.from_request(request))
        self.message_user(request, f"Notices are now signed with {keys[0].fingerprint}.")
