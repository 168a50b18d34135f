"""scart's own system checks (``manage.py check``; ``--deploy`` for the deployment ones).

- ``scart.E001``: no CSRF middleware. Django's own check (``security.W003``, silenced in the
  settings) looks for ``django.middleware.csrf.CsrfViewMiddleware`` by name and cannot see scart's
  subclass of it, so this one accepts any subclass.
- ``scart.W001``: demo mode in a deployment: resolution asks the demo's peers, checks go to its
  web host and mail stays in files, so takedown work would silently not happen.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.module_loading import import_string


@register(Tags.security, deploy=True)
def csrf_middleware_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    for path in settings.MIDDLEWARE:
        middleware = import_string(path)
        if isinstance(middleware, type) and issubclass(middleware, CsrfViewMiddleware):
            return []
    return [
        Error(
            "No CSRF middleware: MIDDLEWARE has neither django.middleware.csrf.CsrfViewMiddleware "
            "nor a subclass of it (scart.middleware.NoReferrerCsrfViewMiddleware).",
            id="scart.E001",
        )
    ]


@register(Tags.security, deploy=True)
def demo_mode_check(app_configs: Any, **kwargs: Any) -> list[CheckMessage]:
    if not settings.SCART_DEMO:
        return []
    return [
        Warning(
            "SCART_DEMO is on: resolution asks the demo's local peers, every availability check goes "
            "to its local web host and mail is only written to files.",
            hint="Unset SCART_DEMO outside a demonstration.",
            id="scart.W001",
        )
    ]
