"""Template context shared by every page."""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest


def hotline(request: HttpRequest) -> dict[str, str]:
    return {"hotline_name": settings.SCART_HOTLINE_NAME}
