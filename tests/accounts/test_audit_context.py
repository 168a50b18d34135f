"""Services take an audit context, not a request: the view builds it, the trail reads it."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts.models import AuditAction
from accounts.services import AuditContext, audit_record
from tests import factories

pytestmark = pytest.mark.django_db


def test_it_takes_the_signed_in_user_and_the_client_address_from_the_request():
    user = factories.staff_user("ann")
    request = RequestFactory().post("/", REMOTE_ADDR="192.0.2.7")
    request.user = user
    assert AuditContext.from_request(request) == AuditContext(user=user, ip_address="192.0.2.7")
    request.user = AnonymousUser()
    assert AuditContext.from_request(request) == AuditContext(user=None, ip_address="192.0.2.7")


def test_the_trail_records_the_context_and_an_explicit_actor_wins():
    ann, sam = factories.staff_user("ann"), factories.staff_user("sam", role="senior")
    entry = audit_record(action=AuditAction.EXPORTED, audit=AuditContext(user=ann, ip_address="192.0.2.7"))
    assert (entry.actor, entry.actor_name, entry.ip_address) == (ann, "ann", "192.0.2.7")
    entry = audit_record(action=AuditAction.EXPORTED, actor=sam, audit=AuditContext(user=ann, ip_address="192.0.2.8"))
    assert (entry.actor, entry.ip_address) == (sam, "192.0.2.8")
    entry = audit_record(action=AuditAction.EXPORTED)
    assert (entry.actor, entry.ip_address) == (None, None)
