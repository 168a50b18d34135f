"""What the logs write about requests: never a provider's link token, never the host or domain an
API client filtered by. Each log is read as production writes it: Django's console and
development-server handlers from settings.LOGGING, gunicorn's access log as the Procfile starts it."""

from __future__ import annotations

import io
import logging
import re
import shlex
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.core.servers.basehttp import WSGIRequestHandler
from gunicorn.config import Config

from scart.logs import redact

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "NDI:1vQx2a:Zm9vYmFyYmF6cXV4c2VjcmV0a2V5"


@pytest.fixture
def written() -> Iterator[io.StringIO]:
    """Everything Django's own log handlers write while the test runs."""
    out = io.StringIO()
    handlers = [*logging.getLogger().handlers, *logging.getLogger("django.server").handlers]
    # pytest's own capturing handlers have no name; the configured ones do.
    streams = [(h, h.setStream(out)) for h in handlers if isinstance(h, logging.StreamHandler) and h.name]
    assert streams
    yield out
    for handler, stream in streams:
        handler.setStream(stream)


def gunicorn_access_log(tmp_path: Path, method: str, raw_uri: str, referer: str = "-") -> str:
    """One request line through the logger the Procfile gives gunicorn, as gunicorn writes it."""
    line = next(x for x in (ROOT / "Procfile").read_text().splitlines() if x.startswith("web:"))
    line = re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", line.removeprefix("web:"))
    cfg = Config()
    options = cfg.parser().parse_args(shlex.split(line)[1:])
    for name, value in vars(options).items():
        if value is not None and name != "args":
            cfg.set(name.lower(), value)
    assert cfg.accesslog == "-", "the Procfile writes an access log"
    cfg.set("accesslog", str(tmp_path / "access.log"))
    logger = cfg.logger_class(cfg)
    path, _, query = raw_uri.partition("?")
    environ = {
        "REQUEST_METHOD": method,
        "RAW_URI": raw_uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_REFERER": referer,
    }
    response = SimpleNamespace(status="404 Not Found", sent=10, headers=[])
    request = SimpleNamespace(headers=[("REFERER", referer)])
    logger.access(response, request, environ, timedelta(milliseconds=3))
    for handler in logger.access_log.handlers:
        handler.flush()
    return (tmp_path / "access.log").read_text()


@pytest.mark.django_db
def test_a_link_that_is_not_found_is_logged_without_its_token(client, written):
    response = client.get(f"/n/{TOKEN}/")
    assert response.status_code == 404
    log = written.getvalue()
    assert "Not Found: /n/[redacted]/" in log
    assert TOKEN not in log


def test_the_development_server_logs_requests_without_tokens_or_filtered_hosts(written):
    # The request line as runserver hands it to Django's own request handler.
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request = None  # type: ignore[assignment]  # no socket: only the log line is wanted
    for line in (f"GET /n/{TOKEN}/ HTTP/1.1", "GET /api/v1/cases/?state=notified&host=hidden.example HTTP/1.1"):
        handler.requestline = line
        handler.log_message('"%s" %s %s', line, "200", "512")
    log = written.getvalue()
    assert TOKEN not in log and "hidden.example" not in log
    assert '"GET /n/[redacted]/ HTTP/1.1" 200 512' in log
    assert '"GET /api/v1/cases/?state=notified&host=[redacted] HTTP/1.1" 200 512' in log


def test_gunicorn_as_the_procfile_starts_it_logs_no_token_and_no_filtered_host(tmp_path):
    log = gunicorn_access_log(tmp_path, "POST", f"/n/{TOKEN}/", referer=f"https://scart.example/n/{TOKEN}/")
    assert TOKEN not in log
    assert '"POST /n/[redacted]/ HTTP/1.1" 404 10 "https://scart.example/n/[redacted]/"' in log
    log = gunicorn_access_log(tmp_path, "GET", "/api/v1/cases/?domain=hidden.example&host=www.hidden.example&state=x")
    assert "hidden.example" not in log
    assert "/api/v1/cases/?domain=[redacted]&host=[redacted]&state=x" in log


def test_redaction_leaves_other_paths_and_parameters_alone():
    for text in ("GET /notices/12/ HTTP/1.1", "/api/v1/cases/?state=notified&ghost=1", "/stats/?provider=7"):
        assert redact(text) == text
    assert redact("/api/v1/cases/?host=") == "/api/v1/cases/?host=[redacted]"


@pytest.mark.django_db
def test_a_403_is_logged_once_as_a_warning_without_a_traceback(client, settings, capsys):
    from django.utils.log import configure_logging

    from tests import factories
    from tests.conftest import staff_login

    # As `make run` runs: DEBUG on, when Django's own console handler would write too. The
    # handlers are made again here so that they write to the captured stderr.
    settings.DEBUG = True
    configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    try:
        staff_login(client, factories.staff_user("ann", "analyst"))
        assert client.get("/contacts/").status_code == 403
        err = capsys.readouterr().err
    finally:
        settings.DEBUG = False
        with capsys.disabled():  # the handlers write to the real stderr again
            configure_logging(settings.LOGGING_CONFIG, settings.LOGGING)
    assert err.count("Forbidden (Permission denied): /contacts/") == 1, err
    assert "WARNING django.request Forbidden (Permission denied): /contacts/" in err
    assert "Traceback" not in err and "PermissionDenied" not in err
