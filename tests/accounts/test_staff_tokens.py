"""Staff API tokens: authentication, expiry and revocation, the command that makes them, the admin."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
import time_machine
from django.core.management import CommandError, call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.api_auth import KEY_PREFIX, hash_key, staff_token_create
from accounts.models import AuditAction, AuditEntry, StaffToken
from tests import factories

pytestmark = pytest.mark.django_db


def bearer(key: str, keyword: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {key}")
    return client


def test_it_lets_an_analyst_token_list_every_case():
    factories.awaiting_case("https://example.com/a")
    _, key = staff_token_create(user=factories.staff_user("ann"))
    for keyword in ("Bearer", "Token", "bearer"):
        response = bearer(key, keyword).get("/api/v1/cases/")
        assert response.status_code == 200, response.content
        assert [c["host"] for c in response.json()["results"]] == ["example.com"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"revoked_at": timezone.now()}, "revoked"),
        ({"expires_at": timezone.now() - timedelta(seconds=1)}, "expired"),
    ],
)
def test_it_refuses_revoked_and_expired_tokens(change, message):
    token, key = staff_token_create(user=factories.staff_user("ann"))
    StaffToken.objects.filter(pk=token.pk).update(**change)
    response = bearer(key).get("/api/v1/cases/")
    assert response.status_code == 401
    assert message in response.json()["detail"]


def test_it_accepts_a_token_until_it_expires():
    _, key = staff_token_create(user=factories.staff_user("ann"), expires_at=timezone.now() + timedelta(days=1))
    assert bearer(key).get("/api/v1/cases/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        assert bearer(key).get("/api/v1/cases/").status_code == 401


def test_it_refuses_unknown_staff_tokens():
    response = bearer(KEY_PREFIX + "nonsense").get("/api/v1/cases/")
    assert response.status_code == 401
    assert response.json()["detail"] == "Unknown staff token."


def test_it_refuses_tokens_of_inactive_users_and_of_users_without_a_role():
    inactive = factories.staff_user("gone")
    _, inactive_key = staff_token_create(user=inactive)
    inactive.is_active = False
    inactive.save()
    _, roleless_key = staff_token_create(user=factories.staff_user("nobody", role=None))
    response = bearer(inactive_key).get("/api/v1/cases/")
    assert response.status_code == 401 and "inactive" in response.json()["detail"]
    response = bearer(roleless_key).get("/api/v1/cases/")
    assert response.status_code == 401 and "no role" in response.json()["detail"]


def test_it_stores_only_the_hash_and_records_use_at_most_once_a_minute():
    token, key = staff_token_create(user=factories.staff_user("ann"), name="triage bot")
    assert key.startswith("scartstaff_") and len(key) > 40
    assert token.key_hash == hash_key(key) and key not in str(StaffToken.objects.values().get())
    assert token.prefix == key[:16]
    bearer(key).get("/api/v1/cases/")
    token.refresh_from_db()
    first = token.last_used_at
    assert first is not None
    with time_machine.travel(first + timedelta(seconds=30)):
        bearer(key).get("/api/v1/cases/")
    token.refresh_from_db()
    assert token.last_used_at == first
    with time_machine.travel(first + timedelta(minutes=2)):
        bearer(key).get("/api/v1/cases/")
    token.refresh_from_db()
    assert token.last_used_at > first


def test_it_leaves_partner_keys_to_the_partner_authentication(partner_key):
    _, key = partner_key
    for header in (f"Bearer {key}", f"Api-Key {key}"):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        assert client.post("/api/v1/reports/", {"urls": ["https://example.com/"]}, format="json").status_code == 201
    refused = bearer("scart_wrong").get("/api/v1/cases/")
    assert refused.status_code == 401 and "API key" in refused.json()["detail"]
    # A staff token is no partner key: reports are submitted by partners only.
    _, staff_key = staff_token_create(user=factories.staff_user("ann"))
    response = bearer(staff_key).post("/api/v1/reports/", {"urls": ["https://example.com/"]}, format="json")
    assert response.status_code == 403


def test_it_challenges_anonymous_requests_with_both_schemes():
    response = APIClient().get("/api/v1/cases/")
    assert response.status_code == 401
    challenge = response.headers["WWW-Authenticate"]
    assert challenge.startswith("Api-Key") and "Bearer" in challenge


def test_the_command_prints_a_key_that_works_once_and_audits_it():
    factories.awaiting_case("https://example.com/a")
    factories.staff_user("ann")
    out, err = StringIO(), StringIO()
    call_command("create_staff_token", "ann", "--name", "triage bot", "--days", "30", stdout=out, stderr=err)
    key = out.getvalue().strip()
    assert key.startswith(KEY_PREFIX) and "shown once" in err.getvalue()
    token = StaffToken.objects.get()
    assert token.name == "triage bot" and token.user.username == "ann"
    assert token.expires_at is not None
    assert timedelta(days=29) < token.expires_at - timezone.now() <= timedelta(days=30)
    assert len(bearer(key).get("/api/v1/cases/").json()["results"]) == 1
    entry = AuditEntry.objects.get(action=AuditAction.TOKEN_CREATED)
    assert entry.object_id == str(token.pk) and entry.data["user"] == "ann" and key not in str(entry.data)


def test_the_command_makes_tokens_without_expiry_by_default():
    factories.staff_user("ann")
    call_command("create_staff_token", "ann", stdout=StringIO(), stderr=StringIO())
    assert StaffToken.objects.get().expires_at is None


@pytest.mark.parametrize(
    ("args", "message"),
    [(["ghost"], "No user"), (["nobody"], "no role"), (["ann", "--days", "0"], "--days")],
)
def test_the_command_refuses_tokens_that_could_not_work(args, message):
    factories.staff_user("ann")
    factories.staff_user("nobody", role=None)
    with pytest.raises(CommandError, match=message):
        call_command("create_staff_token", *args, stdout=StringIO(), stderr=StringIO())
    assert not StaffToken.objects.exists()


def test_administrators_revoke_tokens_in_the_admin(admin_client):
    token, key = staff_token_create(user=factories.staff_user("ann"), name="triage bot")
    listing = admin_client.get("/admin/accounts/stafftoken/")
    assert listing.status_code == 200 and token.prefix in listing.content.decode()
    page = admin_client.get(f"/admin/accounts/stafftoken/{token.pk}/change/").content.decode()
    assert token.key_hash in page and 'name="key_hash"' not in page  # shown, not editable
    assert admin_client.get("/admin/accounts/stafftoken/add/").status_code == 403

    response = admin_client.post(
        "/admin/accounts/stafftoken/", {"action": "revoke", "_selected_action": [token.pk]}, follow=True
    )
    assert "Revoked 1 token(s)." in response.content.decode()
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert bearer(key).get("/api/v1/cases/").status_code == 401
    entry = AuditEntry.objects.get(action=AuditAction.TOKEN_REVOKED)
    assert entry.actor_name == "boss" and entry.object_id == str(token.pk)

    # Revoking again changes nothing and writes nothing.
    admin_client.post("/admin/accounts/stafftoken/", {"action": "revoke", "_selected_action": [token.pk]})
    assert AuditEntry.objects.filter(action=AuditAction.TOKEN_REVOKED).count() == 1


def test_only_administrators_see_tokens_in_the_admin(client):
    from tests.conftest import staff_login

    senior = factories.staff_user("sam", role="senior")
    senior.is_staff = True
    senior.save()
    staff_login(client, senior)
    assert client.get("/admin/accounts/stafftoken/").status_code == 403


def test_the_openapi_schema_describes_staff_tokens(client):
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    scheme = schema["components"]["securitySchemes"]["StaffToken"]
    assert scheme["type"] == "http" and scheme["scheme"] == "bearer"
