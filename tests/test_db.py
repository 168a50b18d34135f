"""scart.db: inserting rows with COPY on PostgreSQL (bulk_create elsewhere); work queued after commit."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import kombu.exceptions
import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from reports.models import ActorType, Event, EventKind
from scart.db import commit_without_waiting_for_disk, enqueue_on_commit, rows_insert
from tests import factories

pytestmark = pytest.mark.django_db

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def test_rows_insert_writes_every_column_as_given():
    case = factories.awaiting_case("https://example.com/a")
    other = factories.awaiting_case("https://example.com/b")
    user = factories.staff_user("ana")
    # What COPY's text format must escape: tabs, newlines, backslashes, quotes, and text beyond ASCII.
    awkward = {"reason": 'tab\there\nnew line \\ back "quoted" \u00e9\u00e8 \U0001f600', "n": [1, None, True]}
    before = Event.objects.count()
    written = rows_insert(
        [
            Event(case=case, kind=EventKind.NOTICE_SENT, at=AT, data=awkward, actor_type=ActorType.SYSTEM),
            Event(case=other, kind=EventKind.STATE_CHANGED, at=AT, data={}, actor_type=ActorType.USER, actor_user=user),
        ]
    )
    assert written == 2
    assert Event.objects.count() == before + 2
    first = Event.objects.get(case=case, kind=EventKind.NOTICE_SENT)
    assert (first.at, first.data, first.actor_type, first.actor_user_id) == (AT, awkward, ActorType.SYSTEM, None)
    second = Event.objects.get(case=other, kind=EventKind.STATE_CHANGED)
    assert (second.data, second.actor_user_id) == ({}, user.pk)
    # The ids come from the sequence, as with any insert: a later row gets a larger one.
    later = Event.objects.create(case=case, kind=EventKind.ROUTED, at=AT, actor_type=ActorType.SYSTEM)
    assert later.pk > max(first.pk, second.pk)


def test_rows_insert_of_nothing_writes_nothing():
    assert rows_insert([]) == 0


@pytest.mark.django_db(transaction=True)
def test_only_the_outermost_transaction_stops_waiting_for_the_disk():
    """Inside a caller's transaction the setting would outlive the helper's block and cover the
    caller's writes too: it is left alone there."""

    def synchronous_commit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW synchronous_commit")
            return str(cursor.fetchone()[0])

    if connection.vendor != "postgresql":
        with CaptureQueriesContext(connection) as captured, transaction.atomic():
            commit_without_waiting_for_disk()
        assert not [q for q in captured.captured_queries if "synchronous_commit" in q["sql"]]
        return
    with transaction.atomic():
        commit_without_waiting_for_disk()
        assert synchronous_commit() == "off"
    assert synchronous_commit() == "on"
    with transaction.atomic():
        with transaction.atomic():
            commit_without_waiting_for_disk()
            assert synchronous_commit() == "on"
        assert synchronous_commit() == "on"


def broken_send(exc: BaseException) -> Callable[[], None]:
    def send() -> None:
        raise exc

    return send


def test_a_broker_that_is_down_after_commit_is_logged_not_raised(django_capture_on_commit_callbacks, caplog):
    with django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(broken_send(kombu.exceptions.OperationalError("Connection refused")), what="resolve 1")
    assert "resolve 1 not queued after commit" in caplog.text


def test_a_bug_in_what_is_queued_after_commit_is_raised_not_logged_away(django_capture_on_commit_callbacks):
    # Waiting for the sweep would not help: it would send the same broken call again, for ever.
    with pytest.raises(TypeError), django_capture_on_commit_callbacks(execute=True):
        enqueue_on_commit(broken_send(TypeError("resolve_cases() takes 1 positional argument")), what="resolve 1")
