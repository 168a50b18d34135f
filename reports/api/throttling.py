"""Rate limits: per partner key (its own rate, or the default), per staff user, per client address."""

from __future__ import annotations

from typing import Any

from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from reports.api.auth import PartnerPrincipal


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the settings at each request (DRF's own reads it once, at import)."""

    def get_rate(self) -> str | None:
        rate = api_settings.DEFAULT_THROTTLE_RATES.get(self.scope or "")
        return str(rate) if rate else None


class ClientRateThrottle(SettingsRateThrottle):
    scope = "client"

    def allow_request(self, request: Request, view: Any) -> bool:
        user = getattr(request, "user", None)
        if isinstance(user, PartnerPrincipal) and user.partner.rate_limit:
            self.rate = user.partner.rate_limit
            self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str:
        user = getattr(request, "user", None)
        if isinstance(user, PartnerPrincipal):
            ident = f"partner-{user.partner.pk}"
        elif user is not None and user.is_authenticated:
            ident = f"user-{user.pk}"
        else:
            ident = f"addr-{self.get_ident(request)}"
        return self.cache_format % {"scope": self.scope, "ident": ident}


class ReportFormThrottle(SettingsRateThrottle):
    """Submissions of the public report form per client address (works on plain Django requests)."""

    scope = "report_form"

    def get_cache_key(self, request: Any, view: Any) -> str:
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
