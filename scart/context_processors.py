"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from accounts.roles import RANK, role_of


def hotline(request: HttpRequest) -> dict[str, Any]:
    """The hotline's name, the signed-in user's role as a rank (1 analyst, 2 senior, 3 admin; 0 for
    none) so that the navigation shows only what the role may open, and the zone of the times."""
    user = getattr(request, "user", None)
    verified = user is not None and getattr(user, "is_verified", lambda: False)()
    role = role_of(user) if verified else None
    return {
        "hotline_name": settings.SCART_HOTLINE_NAME,
        "staff_rank": RANK[role] if role else 0,
        # Every time on a page is in this zone (scart/times.py); the footer says which.
        "time_zone": settings.TIME_ZONE,
    }
