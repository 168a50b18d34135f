"""Logs without the secrets and hosts that travel in request paths.

Two things in a URL must never reach a log file: the token of a provider's confirmation link
(``/n/<token>/``: whoever reads it can answer for the provider) and the host or domain an API
client filters cases by (``?host=``, ``?domain=``: the list of reported hosts is itself
sensitive). Every place that writes a request line passes it through `redact`: the formatters of
Django's console and development-server logs, and gunicorn's access log (`GunicornLogger`, named
with ``--logger-class`` in the Procfiles).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from django.core.exceptions import PermissionDenied
from django.utils.log import ServerFormatter
from gunicorn.glogging import Logger as GunicornBaseLogger

REDACTED = "[redacted]"

# The link's path segment, whether the text holds a bare path (``GET /n/abc/ HTTP/1.1``) or a
# whole URL (``https://scart.example/n/abc/``, a Referer).
_LINK_TOKEN = re.compile(r"""(^|[\s"'(]|//[^/\s"']+)/n/[^/?#\s"']+""")
_FILTER_VALUE = re.compile(r"""([?&;](?:host|domain)=)[^&;#\s"']*""")


def redact(text: str) -> str:
    """``text`` with link tokens and ``host=``/``domain=`` values replaced by ``[redacted]``."""
    if "/n/" in text:
        text = _LINK_TOKEN.sub(rf"\1/n/{REDACTED}", text)
    if "host=" in text or "domain=" in text:
        text = _FILTER_VALUE.sub(rf"\1{REDACTED}", text)
    return text


class PermissionDeniedWithoutTraceback(logging.Filter):
    """On ``django.request``: a 403 is a person opening a page above their role, an expected
    answer, not a fault: its warning line says which path, without a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and isinstance(record.exc_info[1], PermissionDenied):
            record.exc_info = None
            record.exc_text = None
        return True


class RedactingFormatter(logging.Formatter):
    """Formats as usual, then redacts: the message, its arguments and any traceback alike."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class RedactingServerFormatter(ServerFormatter):
    """Django's development-server request log (``runserver``), redacted."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


class GunicornLogger(GunicornBaseLogger):
    """gunicorn's logger whose access-log fields (request line, path, query, Referer, headers)
    are redacted before the access-log format is applied."""

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        return {key: redact(value) if isinstance(value, str) else value for key, value in atoms.items()}
