from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from accounts.models import StaffProfile


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=12,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True, "pattern": "[0-9 ]*"}
        ),
    )

    def clean_code(self) -> str:
        code = str(self.cleaned_data["code"]).replace(" ", "")
        if not code.isdigit() or len(code) != 6:
            raise forms.ValidationError(_("Enter the 6-digit code your authenticator app shows."))
        return code


class LanguageForm(forms.ModelForm):  # type: ignore[type-arg]
    class Meta:
        model = StaffProfile
        fields = ["language"]
        labels = {"language": _("Language of the workspace")}
        help_texts = {"language": _("Empty: the language your browser asks for.")}
        widgets = {"language": forms.Select(attrs={"class": "form-select"})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        language = self.fields["language"]
        assert isinstance(language, forms.ChoiceField)
        language.choices = [("", _("As the browser asks")), *settings.LANGUAGES]
