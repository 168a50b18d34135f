"""Notice states: one table lists every state and where it may go; one function moves them."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from routing.models import Notice, NoticeState, Provider
from routing.models.notices import NOTICE_TRANSITIONS
from routing.notices.planning import cases_plan_notices
from routing.notices.states import IllegalNoticeTransition, notice_transition
from tests.routing.test_notices import illegal

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]


def queued_notice() -> Notice:
    host = Provider.objects.create(name="Host", abuse_emails=["abuse@host.example"])
    case = illegal("https://example.com/states", hosting_country="NL", provider=host)
    cases_plan_notices(case_ids=[case.pk])
    return Notice.objects.get()


def test_the_table_lists_every_state_and_leads_only_to_states():
    assert set(NOTICE_TRANSITIONS) == set(NoticeState)
    for targets in NOTICE_TRANSITIONS.values():
        assert targets <= set(NoticeState)
    assert NOTICE_TRANSITIONS[NoticeState.CANCELLED] == frozenset(), "cancelled is the end"


def test_it_refuses_a_move_the_table_does_not_allow(settings):
    settings.SCART_HOTLINE_COUNTRY = "NL"
    notice = queued_notice()
    with pytest.raises(IllegalNoticeTransition):
        notice_transition(notice=notice, to=NoticeState.SENT, expected_from=[NoticeState.QUEUED])
    assert notice_transition(notice=notice, to=NoticeState.CANCELLED, reason="no cases left")
    # Cancelled goes nowhere: asked without a expected state, the move changes no row.
    assert not notice_transition(notice=notice, to=NoticeState.QUEUED)
    notice.refresh_from_db()
    assert (notice.state, notice.last_error) == (NoticeState.CANCELLED, "no cases left")


def test_it_moves_a_claimed_notice_only_for_the_sender_holding_it(settings):
    settings.SCART_HOTLINE_COUNTRY = "NL"
    notice = queued_notice()
    Notice.objects.filter(pk=notice.pk).update(claim_token="mine")
    assert not notice_transition(notice=notice, to=NoticeState.SENDING, claim_token="theirs")
    assert notice_transition(notice=notice, to=NoticeState.SENDING, claim_token="mine", attempts=1)
    notice.refresh_from_db()
    assert (notice.state, notice.attempts) == (NoticeState.SENDING, 1)


def test_no_code_outside_the_transition_function_writes_a_notice_state():
    writes = re.compile(r"\.update\([^()]*?\bstate=NoticeState\.", re.S)
    found = [
        str(path.relative_to(ROOT))
        for folder in ("routing", "workspace", "reports", "stats")
        for path in (ROOT / folder).rglob("*.py")
        if "migrations" not in path.parts and writes.search(path.read_text())
    ]
    assert found == []
