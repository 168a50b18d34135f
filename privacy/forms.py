"""The retention page's form: days and on/off for every rule at once."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from privacy.rules import CurrentRule
from privacy.services import MAX_DAYS


class RetentionForm(forms.Form):
    def __init__(self, *args: Any, rules: list[CurrentRule], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for rule in rules:
            self.fields[f"{rule.kind}-days"] = forms.IntegerField(
                label=_("Days"), min_value=1, max_value=MAX_DAYS, initial=rule.days
            )
            self.fields[f"{rule.kind}-enabled"] = forms.BooleanField(
                label=_("On"), required=False, initial=rule.enabled
            )


class ReporterForm(forms.Form):
    email = forms.EmailField(label=_("E-mail address"), max_length=254)
