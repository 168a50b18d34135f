"""Every API operation, fed generated valid and invalid requests by schemathesis, as a partner and
as a staff member: no server error, no status code the OpenAPI schema does not list, no response
that breaks its schema. The requests go in-process to the WSGI application (no server, no network)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, Phase, given
from hypothesis import settings as hypothesis_settings
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from accounts.api_auth import staff_token_create
from reports.api.auth import api_key_create
from reports.models import Channel
from reports.services import report_create
from tests import factories

CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]
# Per operation, credential and generation mode: the whole run stays well under a minute on 2 cores.
MAX_EXAMPLES = 50
MODES = (schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE)


@pytest.fixture
def wsgi_app(settings) -> Iterator[Any]:
    """The production WSGI application on the test's database connection.

    Django closes "old" connections at the start and end of each request; inside a test that would
    close the connection holding the test's transaction, so (as Django's test client does) not here.
    """
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "client": "100000/min"},
    }
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield get_wsgi_application()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


@pytest.mark.django_db
def test_every_operation_answers_as_its_schema_says(wsgi_app, caplog):
    caplog.set_level(logging.ERROR, logger="django.request")  # not a warning per 4xx
    partner, partner_key = factories.partner_with_key("Partner hotline")
    _, staff_token = staff_token_create(user=factories.staff_user("ann", role="senior"))
    other, _ = api_key_create(partner_name="Other partner")
    # Cases to find: one the partner reported, one only another partner did.
    mine = report_create(channel=Channel.API, partner=partner, urls=["https://example.com/mine"]).accepted[0].case_id
    report_create(channel=Channel.API, partner=other.partner, urls=["https://example.net/theirs"])
    credentials = {"partner key": f"Api-Key {partner_key}", "staff token": f"Bearer {staff_token}"}

    schema = schemathesis.openapi.from_wsgi("/api/schema/", wsgi_app)
    operations = [result.ok() for result in schema.get_all_operations() if isinstance(result, Ok)]
    assert {op.label for op in operations} == {
        "POST /api/v1/reports/",
        "GET /api/v1/cases/",
        "GET /api/v1/cases/{id}/",
        "POST /api/v1/cases/{id}/assessment",
        "GET /api/v1/stats/takedown/",
        "GET /api/v1/stats/dsa/",
    }

    generated = 0
    failures: dict[str, str] = {}
    for operation in operations:
        fixed_ids: list[dict[str, Any] | None] = [None]
        if "{id}" in operation.path:
            fixed_ids.append({"id": mine})  # a case that exists, besides generated ids
        for who, authorization in credentials.items():
            for mode in MODES:
                for path_parameters in fixed_ids:
                    if path_parameters and mode is schemathesis.GenerationMode.NEGATIVE:
                        continue  # the fixed id is valid, and with it there may be nothing to negate
                    strategy = operation.as_strategy(
                        generation_mode=mode, headers={"Authorization": authorization}, path_parameters=path_parameters
                    )
                    generated += explore(strategy, who=who, failures=failures)

    print(f"schemathesis generated {generated} requests over {len(operations)} operations")
    assert generated >= len(operations) * len(credentials) * len(MODES)
    assert not failures, "\n\n".join(failures.values())


def explore(strategy: Any, *, who: str, failures: dict[str, str]) -> int:
    """Send up to MAX_EXAMPLES generated requests, record each kind of failure; returns how many."""
    sent = 0

    @hypothesis_settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy)
    def run(case: Any) -> None:
        nonlocal sent
        sent += 1
        response = case.call()
        try:
            case.validate_response(response, checks=CHECKS)
        except (AssertionError, BaseExceptionGroup) as exc:
            # Keep going: one summary of every kind of failure beats the first one alone.
            kinds = [line.strip() for line in str(exc).splitlines() if line.startswith("- ")]
            key = f"{who}: {case.operation.label}: {kinds}"
            failures.setdefault(key, f"{who}: {exc}"[:2000])

    run()
    return sent
