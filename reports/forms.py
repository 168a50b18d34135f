"""The public report form."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _


class PublicReportForm(forms.Form):
    urls = forms.CharField(
        label=_("Web addresses (URLs)"),
        help_text=_("One address per line. Copy them from the address bar; do not send images or files."),
        widget=forms.Textarea(attrs={"rows": 6, "autocomplete": "off", "spellcheck": "false"}),
        max_length=settings.SCART_MAX_URLS_PER_REPORT * 100,
    )
    description = forms.CharField(
        label=_("What did you see? (optional)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    email = forms.EmailField(
        label=_("Your email address (optional)"),
        required=False,
        help_text=_("Only to send you a reference for your report. You may stay anonymous."),
    )
    # A field people never see (hidden by CSS): bots that fill every input give themselves away.
    website = forms.CharField(required=False, label=_("Leave this field empty"))

    def url_lines(self) -> list[str]:
        return [line.strip() for line in self.cleaned_data["urls"].splitlines() if line.strip()]

    def clean_urls(self) -> str:
        value: str = self.cleaned_data["urls"]
        lines = [line for line in value.splitlines() if line.strip()]
        if not lines:
            raise forms.ValidationError(_("Enter at least one web address."))
        if len(lines) > 500:
            raise forms.ValidationError(_("At most 500 addresses per report; please send the rest in another report."))
        return value

    def drop_oversized_values(self) -> None:
        """Blank the fields whose value is over their length limit, so that a page with the error
        does not send a megabyte back to the browser (or a bot)."""
        data = dict(self.data.items())
        for name, field in self.fields.items():
            limit = getattr(field, "max_length", None)
            if limit is not None and len(data.get(name, "")) > limit:
                data[name] = ""
        self.data = data

    @property
    def is_bot(self) -> bool:
        return bool(self.cleaned_data.get("website"))
