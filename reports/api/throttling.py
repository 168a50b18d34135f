"""Rate limits: per partner key (its own rate, or the default), per staff user, per client address."""

from __future__ import annotations

import logging
from typing import Any

import redis.exceptions
from rest_framework.request import Request
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from reports.api.auth import PartnerPrincipal

logger = logging.getLogger(__name__)

# The counters live in the cache (Redis, or files without it).
CACHE_ERRORS = (redis.exceptions.RedisError, OSError)


class SettingsRateThrottle(SimpleRateThrottle):
    """Reads its rate from the settings at each request (DRF's own reads it once, at import).

    Fails open: while the cache that holds the counters is unreachable, requests are let through
    without a limit, and each is logged. The limits guard capacity, not access (the API checks its
    keys and tokens in the database), and a hotline would rather take a report than refuse one
    because a counter cannot be read (docs/api.md, "When something is down").
    """

    def allow_request(self, request: Request, view: Any) -> bool:
        try:
            return bool(super().allow_request(request, view))
        except CACHE_ERRORS as exc:
            logger.warning("rate limit %s not applied, the cache is unavailable: %s", self.scope, exc)
            return True

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
