"""Staff login: password, then TOTP (enrolled through an administrator's link), lockout, roles, audit."""

from __future__ import annotations

import pytest
from django.db import connection
from django_otp.oath import totp

from accounts.devices import StaffDevice
from accounts.models import AuditAction, AuditEntry
from accounts.otp import enrolment_link_issue
from accounts.services import AuditContext
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 1"


def code(device: StaffDevice, drift: int = 0) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits, drift=drift):06d}"


def password_step(client, username: str, password: str = PASSWORD, next_url: str = "/"):
    return client.post("/login/", {"username": username, "password": password, "next": next_url})


def test_it_enrols_an_authenticator_through_an_enrolment_link_and_then_asks_for_codes(client, settings):
    settings.OTP_TOTP_THROTTLE_FACTOR = 0  # throttling has its own test
    user = factories.staff_user("ann")
    link = enrolment_link_issue(user, audit=AuditContext(), base_url="")
    opened = client.get(link)
    assert opened.status_code == 302 and opened["Location"].startswith("/login/")

    response = password_step(client, "ann")
    assert response.status_code == 302 and response["Location"].startswith("/login/enrol/")
    # Logged in with the password only: staff pages still send the user to the second step.
    assert client.get("/")["Location"].startswith("/login/enrol/")
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"data:image/svg+xml" in page.content  # the QR code, as an image the CSP allows
    device = StaffDevice.objects.get(user=user, confirmed=False)

    wrong = client.post("/login/enrol/", {"code": "000000" if code(device) != "000000" else "111111"})
    assert wrong.status_code == 200 and b"does not match" in wrong.content
    done = client.post("/login/enrol/", {"code": code(device), "next": "/"})
    assert done.status_code == 302 and done["Location"] == "/"
    assert client.get("/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed

    client.post("/logout/")
    assert client.get("/")["Location"].startswith("/login/")
    response = password_step(client, "ann")
    assert response["Location"].startswith("/login/verify/")
    assert client.post("/login/verify/", {"code": "12345"}).status_code == 200  # not six digits
    ok = client.post("/login/verify/", {"code": code(device, drift=1), "next": "/"})
    assert ok.status_code == 302 and ok["Location"] == "/"
    assert client.get("/").status_code == 200

    actions = list(AuditEntry.objects.filter(actor=user).order_by("at", "id").values_list("action", flat=True))
    assert actions.count(AuditAction.LOGIN) >= 3  # two passwords, one second factor
    assert AuditAction.OTP_ENROLLED in actions and AuditAction.OTP_FAILED in actions
    assert AuditAction.LOGOUT in actions


def test_a_code_is_not_accepted_twice(client):
    user = factories.staff_user("bob")
    device = StaffDevice.objects.create(user=user, name="app", confirmed=True)
    password_step(client, "bob")
    first = code(device)
    assert client.post("/login/verify/", {"code": first})["Location"] == "/"
    client.post("/logout/")
    password_step(client, "bob")
    again = client.post("/login/verify/", {"code": first})
    assert again.status_code == 200 and b"not valid" in again.content


def test_wrong_codes_throttle_the_next_ones(client):
    user = factories.staff_user("fay")
    device = StaffDevice.objects.create(user=user, name="app", confirmed=True)
    password_step(client, "fay")
    right = code(device)
    client.post("/login/verify/", {"code": "000000" if right != "000000" else "111111"})
    refused = client.post("/login/verify/", {"code": right})
    assert refused.status_code == 200 and b"wait a few seconds" in refused.content


def test_wrong_passwords_lock_the_account_out(client, settings):
    factories.staff_user("cat")
    for _ in range(settings.AXES_FAILURE_LIMIT):
        response = password_step(client, "cat", "wrong password")
        assert response.status_code in (200, 429)
    locked = password_step(client, "cat")  # even the right password, now
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED).count() >= settings.AXES_FAILURE_LIMIT - 1
    assert AuditEntry.objects.filter(action=AuditAction.LOCKED_OUT, object_id="cat").exists()


def test_a_user_without_a_role_sees_nothing(client):
    from tests.conftest import staff_login

    user = factories.staff_user("dan", role=None)
    staff_login(client, user)
    assert client.get("/").status_code == 403


def test_the_admin_is_behind_both_factors(client):
    from django.contrib.auth import get_user_model

    root = get_user_model().objects.create_superuser("root", password=PASSWORD)
    # The password alone neither logs in nor enrols a second factor.
    assert password_step(client, "root").status_code == 200
    assert client.get("/admin/")["Location"].startswith("/login/")
    client.get(enrolment_link_issue(root, audit=AuditContext(), base_url=""))
    password_step(client, "root")
    response = client.get("/admin/")
    assert response.status_code == 302 and response["Location"].startswith("/login/enrol/")
    assert client.get("/admin/login/")["Location"].startswith("/login/")


def test_role_and_user_changes_are_in_the_audit_trail(admin_client):
    from django.contrib.auth.models import Group

    user = factories.staff_user("eve", role=None)
    user.groups.add(Group.objects.get(name="Senior analyst"))
    user.first_name = "Eve"
    user.save()
    role = AuditEntry.objects.get(action=AuditAction.ROLE_CHANGED, object_id=str(user.pk))
    assert (role.data["change"], role.data["groups"]) == ("add", ["Senior analyst"])
    assert role.summary == f"added Senior analyst for {user}"
    change = AuditEntry.objects.filter(action=AuditAction.USER_CHANGED, object_id=str(user.pk)).first()
    assert change is not None and change.data["after"] == {"first_name": "Eve"}
    # No password value in any entry (a login's summary code says "password accepted").
    details = [{k: v for k, v in e.data.items() if k != "summary_code"} for e in AuditEntry.objects.all()]
    assert all("password" not in str(d) for d in details)


def test_the_audit_trail_cannot_be_changed_or_deleted():
    entry = AuditEntry.objects.create(action=AuditAction.EXPORTED, summary="x")
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=entry.pk).update(summary="y")
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    # Below the ORM, the database refuses as well.
    with pytest.raises(Exception, match="append-only"), connection.cursor() as cursor:
        cursor.execute("UPDATE accounts_auditentry SET summary = 'y'")
