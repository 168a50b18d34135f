"""A senior analyst sets a provider's abuse-reports API (the provider API channel): base URL,
account, token and whom the API tells. The token field is a password field that never renders the
stored token: a blank field keeps it (`routing.notices.api_settings`)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods

from accounts.roles import Role, require_role
from routing.models import Provider
from routing.models.hosting import ApiNotify
from routing.notices.api_settings import ApiSettingsInvalid, provider_api_configure


class ProviderApiForm(forms.Form):
    base_url = forms.URLField(
        label=gettext_lazy("API base URL"),
        required=False,
        max_length=300,
        assume_scheme="https",
        help_text=gettext_lazy("For Cloudflare: https://api.cloudflare.com/client/v4"),
    )
    account = forms.CharField(label=gettext_lazy("Account id"), required=False, max_length=64)
    token = forms.CharField(
        label=gettext_lazy("API token"),
        required=False,
        max_length=500,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "new-password"}),
        help_text=gettext_lazy("Stored sealed and never shown again. Leave blank to keep the stored token."),
    )
    remove_token = forms.BooleanField(label=gettext_lazy("Remove the stored token"), required=False)
    host_notification = forms.ChoiceField(label=gettext_lazy("The hosting provider is"), choices=ApiNotify.choices)
    owner_notification = forms.ChoiceField(label=gettext_lazy("The site's owner is"), choices=ApiNotify.choices)


def _initial(provider: Provider) -> dict[str, Any]:
    return {
        "base_url": provider.api_base_url,
        "account": provider.api_account,
        "host_notification": provider.api_host_notification,
        "owner_notification": provider.api_owner_notification,
    }


@require_http_methods(["GET", "POST"])
def provider_api(request: HttpRequest, pk: int) -> HttpResponse:
    require_role(request, Role.SENIOR)
    provider = get_object_or_404(Provider, pk=pk)
    form = ProviderApiForm(request.POST or None, initial=_initial(provider))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            changed = provider_api_configure(
                provider=provider,
                base_url=data["base_url"],
                account=data["account"],
                token=data["token"],
                remove_token=data["remove_token"],
                host_notification=data["host_notification"],
                owner_notification=data["owner_notification"],
            )
        except ApiSettingsInvalid as exc:
            form.add_error("base_url", str(exc))
        else:
            if changed:
                messages.success(request, _("Saved the abuse API settings of %(name)s.") % {"name": provider.name})
            return redirect("providers-detail", pk=provider.pk)
    status = 400 if request.method == "POST" else 200
    context = {"form": form, "provider": provider, "token_stored": bool(provider.api_token)}
    return render(request, "workspace/providers/api.html", context, status=status)
