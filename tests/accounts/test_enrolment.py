"""Second factors: enrolled only through a one-time link an administrator issues (no trust on
first use), sealed at rest, never shown by the admin, and re-sealed by key rotation."""

from __future__ import annotations

from datetime import timedelta

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.devices import EnrolmentLink, StaffDevice
from accounts.models import AuditAction, AuditEntry
from accounts.otp import enrolment_link_issue
from accounts.services import AuditContext
from tests import factories

pytestmark = pytest.mark.django_db

PASSWORD = "a long enough password 1"


def code(device: StaffDevice) -> str:
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def password_step(client, username: str):
    return client.post("/login/", {"username": username, "password": PASSWORD, "next": "/"})


def link_for(user) -> str:
    return enrolment_link_issue(user, audit=AuditContext(), base_url="")


def enrol(client, user) -> StaffDevice:
    client.get(link_for(user))
    assert password_step(client, user.username)["Location"].startswith("/login/enrol/")
    client.get("/login/enrol/")
    device = StaffDevice.objects.get(user=user, confirmed=False)
    assert client.post("/login/enrol/", {"code": code(device), "next": "/"})["Location"] == "/"
    return device


def test_a_password_alone_does_not_enrol_a_second_factor(client):
    user = factories.staff_user("ann")
    refused = password_step(client, "ann")
    assert refused.status_code == 200 and b"Ask an administrator for an enrolment link" in refused.content
    assert not StaffDevice.objects.filter(user=user).exists()
    # Not logged in, and the enrolment page does not help either.
    assert client.get("/")["Location"].startswith("/login/")
    assert client.get("/login/enrol/")["Location"].startswith("/login/")
    assert not StaffDevice.objects.exists()
    assert AuditEntry.objects.filter(action=AuditAction.LOGIN_FAILED, object_id=str(user.pk)).exists()


def test_a_link_is_for_one_person_used_once_and_expires(client, settings):
    ann, bob = factories.staff_user("ann"), factories.staff_user("bob")
    link = link_for(ann)
    client.get(link)
    # Bob's password with Ann's link in the browser: Bob still has no way to enrol.
    assert password_step(client, "bob").status_code == 200
    assert not StaffDevice.objects.filter(user=bob).exists()
    client.get(link)
    password_step(client, "ann")
    client.get("/login/enrol/")
    device = StaffDevice.objects.get(user=ann, confirmed=False)
    client.post("/login/enrol/", {"code": code(device), "next": "/"})
    assert EnrolmentLink.objects.get(user=ann).used_at is not None
    client.post("/logout/")
    again = client.get(link)
    assert again.status_code == 404 and b"not valid" in again.content

    late = link_for(bob)
    with time_machine.travel(timezone.now() + timedelta(hours=settings.SCART_ENROLMENT_LINK_HOURS, minutes=1)):
        assert client.get(late).status_code == 404
    # A newer link replaces an older unused one.
    first, second = link_for(bob), link_for(bob)
    assert client.get(first).status_code == 404
    assert client.get(second).status_code == 302


def test_a_link_replaces_a_lost_authenticator(client):
    user = factories.staff_user("cat")
    lost = enrol(client, user)
    client.post("/logout/")
    # With a confirmed device and no link, the password leads to the code, not to enrolment.
    assert password_step(client, "cat")["Location"].startswith("/login/verify/")
    client.post("/logout/")
    new = enrol(client, user)
    assert new.pk != lost.pk
    assert list(StaffDevice.objects.filter(user=user).values_list("pk", flat=True)) == [new.pk]


def test_the_secret_is_sealed_in_the_database():
    user = factories.staff_user("dan")
    device = StaffDevice.objects.create(user=user, name="app", confirmed=True)
    hex_key = device.key
    with connection.cursor() as cursor:
        cursor.execute("SELECT key FROM accounts_staffdevice WHERE id = %s", [device.pk])
        (stored,) = cursor.fetchone()
    assert stored.startswith("sealed:") and hex_key not in stored
    assert StaffDevice.objects.get(pk=device.pk).key == hex_key


def test_rotation_seals_every_secret_under_the_new_key_and_codes_still_work(client):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    user = factories.staff_user("eve")
    with override_settings(SCART_FIELD_KEYS=[old]):
        device = StaffDevice.objects.create(user=user, name="app", confirmed=True)
        hex_key = device.key
    with override_settings(SCART_FIELD_KEYS=[new, old]):
        call_command("seal_rotate")
    with override_settings(SCART_FIELD_KEYS=[new]):
        assert StaffDevice.objects.get(pk=device.pk).key == hex_key
        client.post("/login/", {"username": "eve", "password": PASSWORD, "next": "/"})
        assert client.post("/login/verify/", {"code": code(device), "next": "/"})["Location"] == "/"


def test_the_admin_never_shows_a_secret_and_issues_links_once(admin_client):
    user = factories.staff_user("fay")
    device = StaffDevice.objects.create(user=user, name="app", confirmed=True)
    page = admin_client.get(f"/admin/accounts/staffdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key.encode() not in page.content and b"sealed:" not in page.content
    # django-otp's own device admin, which shows secrets, is gone.
    assert admin_client.get("/admin/otp_totp/totpdevice/").status_code == 404
    issued = admin_client.post(
        "/admin/auth/user/", {"action": "issue_enrolment_link", "_selected_action": [user.pk]}, follow=True
    )
    assert b"/login/enrol/" in issued.content
    link = EnrolmentLink.objects.get(user=user)
    assert link.key_hash.encode() not in issued.content
    links = admin_client.get(f"/admin/accounts/enrolmentlink/{link.pk}/change/")
    assert link.key_hash.encode() not in links.content
    assert AuditEntry.objects.filter(action=AuditAction.ENROLMENT_LINK_ISSUED, object_id=str(user.pk)).exists()


def test_the_first_administrator_gets_a_link_to_enrol(capsys):
    call_command("ensure_admin", "--url", "http://127.0.0.1:8123")
    out = capsys.readouterr().out
    assert "http://127.0.0.1:8123/login/enrol/" in out
    admin = get_user_model().objects.get(username="admin")
    assert EnrolmentLink.objects.get(user=admin).usable
    assert not TOTPDevice.objects.exists()
