"""Clean answers when something scart depends on is down: a 503 with Retry-After, JSON under
/api/ and a short page elsewhere, instead of a 500 or a traceback page.

Under /api/ every error is JSON (``{"detail": ...}``), the 404 of an unknown path and the 500 of a
bug included. Three places catch a failure, because Django catches exceptions at three depths:
- `api_exception_handler`: DRF's handler for API views (authentication and throttling included);
- `ServiceUnavailableMiddleware.process_exception`: other views;
- `server_error` (``handler500``): exceptions raised in middleware (a staff page loads its session
  and user there) and anything else that got through.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
from typing import Any

import kombu.exceptions
import psycopg
import redis.exceptions
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views import defaults
from django.views.decorators.csrf import requires_csrf_token
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler, set_rollback

logger = logging.getLogger(__name__)

# Failures that say a service is unreachable or went away, not that the request or the code is
# wrong: the database (a restart, a lost connection, SQLite's lock timeout), the broker (kombu wraps
# its transports' connection errors in its OperationalError) and Redis used as the cache. Django's
# database OperationalError also covers programming errors (SQLite's "no such table", "too many SQL
# variables"; PostgreSQL's "statement too complex"): `is_unavailable` looks at the driver's error
# under it, so that a bug stays a 500 with its traceback in the log instead of a quiet "try later".
UNAVAILABLE_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    kombu.exceptions.OperationalError,
    redis.exceptions.ConnectionError,
    redis.exceptions.TimeoutError,
)
# SQLite's primary result codes of a busy, locked, missing or failing database file.
_SQLITE_UNAVAILABLE = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_CANTOPEN}
)
# PostgreSQL's SQLSTATE classes (and codes) of a server that is unreachable, shutting down, out of
# resources or asking for a retry: connection exception, insufficient resources, operator
# intervention (a restart, a statement timeout), system error, transaction rollback (serialization
# failure, deadlock) and lock not available. A psycopg error without a SQLSTATE never reached a server.
_POSTGRES_UNAVAILABLE = ("08", "53", "57", "58", "40", "55P03")


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` says that the database, the broker or the cache cannot answer now (a 503),
    rather than that the code or the request is wrong."""
    if not isinstance(exc, UNAVAILABLE_ERRORS):
        return False
    if not isinstance(exc, OperationalError):
        return True
    cause = exc.__cause__  # the driver's error, which Django's wrapper chains
    if isinstance(cause, sqlite3.Error):
        return (getattr(cause, "sqlite_errorcode", sqlite3.SQLITE_BUSY) & 0xFF) in _SQLITE_UNAVAILABLE
    if isinstance(cause, psycopg.Error):
        return cause.sqlstate is None or cause.sqlstate.startswith(_POSTGRES_UNAVAILABLE)
    return True


# What a client is asked to wait before trying again: a database restart or a broker failover
# takes tens of seconds.
RETRY_AFTER_SECONDS = 30
UNAVAILABLE_DETAIL = "The service is temporarily unavailable; nothing was stored. Try again later."
API_PREFIX = "/api/"


def is_api(request: HttpRequest) -> bool:
    return request.path_info.startswith(API_PREFIX)


def _log_unavailable(request: HttpRequest, exc: BaseException) -> None:
    # Logged as an error with the exception's type and message (never the request body): an
    # operator must see that a service is down, and a stream of these is what monitoring counts.
    logger.error("503 for %s %s: %s: %s", request.method, request.path_info, type(exc).__name__, exc)


def unavailable_json() -> JsonResponse:
    response = JsonResponse({"detail": UNAVAILABLE_DETAIL}, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unavailable_page(request: HttpRequest) -> HttpResponse:
    # Rendered without the request: its context processors would ask the database (the user, the
    # messages) that is down.
    context = {"hotline_name": settings.SCART_HOTLINE_NAME, "retry_after": RETRY_AFTER_SECONDS}
    response = HttpResponse(render_to_string("503.html", context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def unavailable_response(request: HttpRequest) -> HttpResponse:
    return unavailable_json() if is_api(request) else unavailable_page(request)


def api_exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, plus a 503 with Retry-After for an unreachable database, broker or cache."""
    response = exception_handler(exc, context)
    if response is None and is_unavailable(exc):
        set_rollback()
        _log_unavailable(context["request"], exc)
        response = Response(
            {"detail": UNAVAILABLE_DETAIL},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
            headers={"Retry-After": str(RETRY_AFTER_SECONDS)},
        )
    return response


class ServiceUnavailableMiddleware:
    """Answers 503 for a view that failed because the database, the broker or the cache is down."""

    def __init__(self, get_response: Any) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response: HttpResponse = self.get_response(request)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if not is_unavailable(exception):
            return None
        _log_unavailable(request, exception)
        return unavailable_response(request)


@requires_csrf_token
def server_error(request: HttpRequest) -> HttpResponse:
    """``handler500``: a 503 when the failure was an unavailable service, JSON under /api/."""
    exc = sys.exc_info()[1]
    if exc is not None and is_unavailable(exc):
        return unavailable_response(request)
    if is_api(request):
        return JsonResponse({"detail": "Internal server error."}, status=500)
    return defaults.server_error(request)


def page_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler404``: JSON under /api/, Django's page elsewhere."""
    if is_api(request):
        return JsonResponse({"detail": "Not found."}, status=404)
    return defaults.page_not_found(request, exception)


@requires_csrf_token
def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """``handler400``: a suspicious request, or a form body over DATA_UPLOAD_MAX_MEMORY_SIZE (413,
    without reading the body, so nothing of it is echoed). JSON under /api/."""
    too_large = isinstance(exception, RequestDataTooBig)
    if is_api(request):
        detail = "The request body is too large." if too_large else "Bad request."
        return JsonResponse({"detail": detail}, status=413 if too_large else 400)
    if too_large:
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        return render(request, "413.html", {"limit_mb": round(limit / 1024 / 1024, 1)}, status=413)
    return defaults.bad_request(request, exception)
