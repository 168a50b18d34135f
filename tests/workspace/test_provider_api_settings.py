"""A senior analyst sets a provider's abuse API (workspace/views/provider_api.py): the token is
sealed at rest, never rendered back (not by the form, the provider page or the admin), kept when
the field is left blank, and absent from the audit trail."""

from __future__ import annotations

import pytest
from django.db import connection

from accounts.models import AuditEntry
from routing.models import Provider
from tests.conftest import staff_client

pytestmark = pytest.mark.django_db

TOKEN = "cf-token-0123456789abcdef"


@pytest.fixture
def provider() -> Provider:
    return Provider.objects.create(name="Edge CDN", abuse_emails=["abuse@edge.example"], is_cdn=True)


def post(client, provider: Provider, **changes: str):
    data = {
        "base_url": "https://api.edge.example/client/v4",
        "account": "acct-42",
        "token": TOKEN,
        "host_notification": "send",
        "owner_notification": "none",
    }
    data.update(changes)
    return client.post(f"/providers/{provider.pk}/api/", data)


def stored_token(provider: Provider) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT api_token FROM routing_provider WHERE id = %s", [provider.pk])
        return str(cursor.fetchone()[0])


def test_a_senior_sets_the_api_and_the_token_is_sealed_at_rest(client, senior, provider: Provider) -> None:
    response = post(client, provider)
    assert response.status_code == 302
    provider.refresh_from_db()
    assert (provider.api_base_url, provider.api_account, provider.api_token) == (
        "https://api.edge.example/client/v4",
        "acct-42",
        TOKEN,
    )
    assert provider.api_configured
    raw = stored_token(provider)
    assert raw.startswith("sealed:") and TOKEN not in raw


def test_no_page_shows_the_token_back(client, senior, provider: Provider) -> None:
    post(client, provider)
    form = client.get(f"/providers/{provider.pk}/api/")
    page = client.get(f"/providers/{provider.pk}/")
    assert form.status_code == page.status_code == 200
    assert TOKEN not in form.content.decode() and TOKEN not in page.content.decode()
    assert "A token is stored." in form.content.decode()
    assert "acct-42" in page.content.decode()
    admin = staff_client("root", "admin").get(f"/admin/routing/provider/{provider.pk}/change/")
    assert admin.status_code == 200 and TOKEN not in admin.content.decode()


def test_a_blank_token_keeps_the_stored_one_and_removal_removes_it(client, senior, provider: Provider) -> None:
    post(client, provider)
    post(client, provider, token="", account="acct-43")
    provider.refresh_from_db()
    assert (provider.api_account, provider.api_token) == ("acct-43", TOKEN)
    post(client, provider, token="", remove_token="on")
    provider.refresh_from_db()
    assert provider.api_token == "" and not provider.api_configured


def test_the_audit_trail_says_what_changed_without_the_token(client, senior, provider: Provider) -> None:
    post(client, provider)
    post(client, provider, token=TOKEN + "-new")
    entries = list(AuditEntry.objects.filter(object_type="routing.provider", object_id=str(provider.pk)).order_by("pk"))
    first, second = entries[-2:]
    assert first.actor_name == "sen"
    assert first.data["after"]["api_token"] == "[sealed]" and first.data["before"]["api_token"] == ""
    assert set(second.data["after"]) == {"api_token", "updated_at"}
    assert second.data["before"]["api_token"] == second.data["after"]["api_token"] == "[sealed]"
    assert not any(TOKEN in str(e.data) or TOKEN in e.summary for e in entries)


@pytest.mark.parametrize(
    "base_url", ["http://api.edge.example/client/v4", "https://10.1.2.3/client/v4", "http://127.0.0.1:9/client/v4"]
)
def test_an_unsafe_base_url_is_refused(client, senior, provider: Provider, base_url: str) -> None:
    response = post(client, provider, base_url=base_url)
    assert response.status_code == 400
    provider.refresh_from_db()
    assert provider.api_base_url == "" and provider.api_token == ""


def test_the_local_peer_is_allowed_where_loopback_is(client, senior, provider: Provider, settings) -> None:
    settings.SCART_PROVIDER_API_ALLOW_LOOPBACK = True
    assert post(client, provider, base_url="http://127.0.0.1:8107/client/v4").status_code == 302


def test_an_analyst_may_not(client, analyst, provider: Provider) -> None:
    assert post(client, provider).status_code == 403
    assert client.get(f"/providers/{provider.pk}/").content.decode().count("/api/") == 0


def test_the_provider_page_warns_when_the_api_channel_has_no_settings(client, senior, provider: Provider) -> None:
    Provider.objects.filter(pk=provider.pk).update(delivery_channel="provider_api")
    page = client.get(f"/providers/{provider.pk}/").content.decode()
    assert "its API settings are incomplete" in page
    post(client, provider)
    page = client.get(f"/providers/{provider.pk}/").content.decode()
    assert "its API settings are incomplete" not in page and "a token is stored" in page
