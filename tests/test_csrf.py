"""CSRF under `Referrer-Policy: no-referrer`: browsers send `Origin: null` with same-site form
posts; it is accepted only when Sec-Fetch-Site says the post came from our own pages, and the
token is checked as always."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser_like():
    client = Client(enforce_csrf_checks=True)
    client.get("/report/")
    return client, client.cookies["csrftoken"].value


def post(client: Any, token: str, **headers: Any) -> Any:
    return client.post("/login/", {"username": "x", "password": "y", "csrfmiddlewaretoken": token}, **headers)


def test_a_null_origin_from_our_own_page_passes(browser_like):
    client, token = browser_like
    response = post(client, token, HTTP_ORIGIN="null", HTTP_SEC_FETCH_SITE="same-origin")
    assert response.status_code == 200  # the login form again (wrong password), not a CSRF 403


@pytest.mark.parametrize("site", ["cross-site", "same-site", "none", None])
def test_a_null_origin_from_elsewhere_is_refused(browser_like, site):
    client, token = browser_like
    headers = {"HTTP_ORIGIN": "null"}
    if site:
        headers["HTTP_SEC_FETCH_SITE"] = site
    assert post(client, token, **headers).status_code == 403


def test_the_token_is_still_required(browser_like):
    client, _ = browser_like
    assert post(client, "wrong" * 8, HTTP_ORIGIN="null", HTTP_SEC_FETCH_SITE="same-origin").status_code == 403


def test_another_sites_origin_is_refused(browser_like):
    client, token = browser_like
    assert post(client, token, HTTP_ORIGIN="https://evil.example", HTTP_SEC_FETCH_SITE="same-origin").status_code == 403
