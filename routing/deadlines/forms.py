"""The senior analysts' form for a deadline rule: one scope at most (a provider, a kind of notice
or a hosting country; none is the default rule) and a duration of at least a minute."""

from __future__ import annotations

from typing import Any

import pycountry
from django import forms
from django.utils.translation import gettext_lazy as _

from routing.models import DeadlineRule, NoticeKind, Provider


class DeadlineRuleForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = DeadlineRule
        fields = ["name", "provider", "notice_kind", "country", "hours", "minutes", "starts_at", "active"]
        labels = {
            "name": _("Name shown to people"),
            "provider": _("Provider"),
            "notice_kind": _("Kind of notice"),
            "country": _("Hosting country"),
            "hours": _("Hours"),
            "minutes": _("Minutes"),
            "starts_at": _("Measured from"),
            "active": _("Active"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        provider = self.fields["provider"]
        assert isinstance(provider, forms.ModelChoiceField)
        provider.queryset = Provider.objects.order_by("name")
        provider.required = False
        kind = self.fields["notice_kind"]
        assert isinstance(kind, forms.ChoiceField)
        kind.choices = [("", "—"), *NoticeKind.choices]
        self.fields["minutes"].widget.attrs["max"] = 59
        for field in self.fields.values():
            css = "form-check-input" if isinstance(field.widget, forms.CheckboxInput) else "form-control"
            if isinstance(field.widget, forms.Select):
                css = "form-select"
            field.widget.attrs.setdefault("class", css)

    def clean_country(self) -> str:
        value = str(self.cleaned_data.get("country") or "").strip().upper()
        if value and pycountry.countries.get(alpha_2=value) is None:
            raise forms.ValidationError(_("Enter a two-letter ISO country code, e.g. NL."))
        return value

    def clean_minutes(self) -> int:
        value = int(self.cleaned_data.get("minutes") or 0)
        if value > 59:
            raise forms.ValidationError(_("At most 59 minutes: put whole hours in Hours."))
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        scopes = [bool(data.get("provider")), bool(data.get("notice_kind")), bool(data.get("country"))]
        if sum(scopes) > 1:
            raise forms.ValidationError(
                _("Give one of provider, kind of notice and country (or none, for the default rule).")
            )
        if not (data.get("hours") or data.get("minutes")):
            raise forms.ValidationError(_("A deadline needs a duration of at least one minute."))
        return data
