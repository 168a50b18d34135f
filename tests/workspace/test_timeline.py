"""The case page's timeline in sentences: every event kind has one, the world's cases read without
codes or raw data, notices name their recipient, provider and language, checks say what they found,
and who reported stays hidden from analysts."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.models import Case, Event, EventKind
from routing.models import Notice
from tests.conftest import staff_login
from tests.world import World, build_world, world_settings
from workspace.sentences import SENTENCES, Facts, unknown_sentence
from workspace.timeline import case_timeline

pytestmark = pytest.mark.django_db

# Raw data or a code: a dict or list, a snake_case word, an ISO timestamp.
RAW = re.compile(r"\{'|\['|\b[a-z]+_[a-z_]+\b|\d{4}-\d\d-\d\dT\d\d")

# The data of the kinds the world does not produce, in the shapes their writers use.
SHAPES: dict[str, dict[str, Any]] = {
    EventKind.ASSIGNED: {"to": "ana", "to_id": 7},
    EventKind.DEADLINE_SET: {"deadline": 1, "name": "Removal order", "due_at": "2026-12-05T13:00:00+00:00"},
    EventKind.DEADLINE_BREACHED: {
        "deadline": 1,
        "name": "Removal order",
        "due_at": "2026-12-05T13:00:00+00:00",
        "notice": "SCART-20261205-000001",
    },
    EventKind.RESOLUTION_FAILED: {"outcome": "servfail", "errors": ["timeout"], "attempt": 1},
    EventKind.PROVIDER_CHANGED: {"from": 1, "to": 2, "to_name": "Other Hosting", "rule": "asn:64500"},
    EventKind.CONTACT_CHECKED: {"provider_id": 3, "abuse_emails": ["abuse@example.net"]},
    EventKind.RELEASED: {"assessment": 4, "hold": "police_first"},
    EventKind.NOTICE_DROPPED: {"notice": "SCART-20261205-000001", "reason": "the case is closed"},
    EventKind.NOTICE_FAILED: {
        "notice": "SCART-20261205-000001",
        "kind": "provider",
        "recipient": "Hosting",
        "error": "550 no such user",
    },
    EventKind.NOTICE_BOUNCED: {"notice": "SCART-20261205-000001", "failed_recipients": ["abuse@example.net"]},
    EventKind.DISPUTE_HANDLED: {"notices": ["SCART-20261205-000001"], "decision": "upheld", "note": "Still a child."},
    EventKind.MOVED: {"target": "http://elsewhere.example.net/item", "case": 7, "new": True},
}


@pytest.fixture
def world(settings, fake_dns, fake_rdap) -> Iterator[World]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        yield build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp)


def test_every_event_kind_has_a_sentence():
    missing = set(EventKind.values) - set(SENTENCES)
    assert not missing, f"event kinds without a sentence on the timeline: {sorted(missing)}"


@pytest.mark.parametrize("kind", EventKind.values)
def test_each_kind_reads_as_a_sentence_without_codes(world, kind):
    event = Event.objects.filter(kind=kind).first()
    data = event.data if event is not None else SHAPES.get(kind)
    assert data is not None, f"no {kind} event in the world and no shape for it here"
    facts = Facts(notices={n.reference: n for n in Notice.objects.all()})
    sentence, details = SENTENCES[kind](data, facts)
    assert sentence and sentence != unknown_sentence(data, facts)[0]
    for text in (sentence, *details):
        assert not RAW.search(text.replace(data.get("target", "") if isinstance(data, dict) else "", "")), (
            f"{kind}: {text!r}"
        )


def test_the_world_s_timelines_have_no_codes_or_raw_data(world):
    for case in Case.objects.all():
        for entry in case_timeline(case, see_reporters=True):
            for text in (entry.sentence, *entry.details):
                found = RAW.search(text.replace(case.canonical_url, ""))
                assert found is None, f"case {case.pk}: {text!r}"


def test_a_notice_sent_names_its_address_provider_and_language(world):
    notice = Notice.objects.filter(state="sent", kind="provider", provider__isnull=False).first()
    assert notice is not None
    case = notice.items.order_by("pk")[0].case
    sentences = [e.sentence for e in case_timeline(case, see_reporters=False)]
    expected = f"Notice {notice.reference} sent to {', '.join(notice.emails)} ({notice.recipient_name}, English)"
    assert expected in sentences, sentences
    assert any(s.startswith("Verdict: illegal (A1: prepubescent, sexual activity") for s in sentences)
    assert any(s.startswith("Routed: hosted in the hotline's own country") for s in sentences), sentences
    referral = [e.sentence for e in case_timeline(world.case("cname"), see_reporters=False)]
    assert any(s.startswith("Referral SCART-") and "(US Partner Hotline, English)" in s for s in referral), referral


def test_checks_say_what_they_found_in_runs(world):
    sentences = [e.sentence for e in case_timeline(world.case("reappeared"), see_reporters=False)]
    assert "Checked: online (HTTP 200)" in sentences
    assert any(s.startswith("Checked 2 times until ") and s.endswith(": gone (HTTP 404)") for s in sentences)
    assert "Checked: online (HTTP 200)" in sentences[sentences.index(next(s for s in sentences if "gone" in s)) :]
    assert any(s.startswith("Content back online") for s in sentences)
    removed = [e.sentence for e in case_timeline(world.case("removed"), see_reporters=False)]
    assert any(s.startswith("Content removed: removed (checks found it gone)") for s in removed)


def test_analysts_read_a_partner_and_seniors_its_name(world):
    case = world.case("cname")
    analyst = staff_login(Client(), world.users["analyst"])
    senior = staff_login(Client(), world.users["senior"])
    as_analyst = analyst.get(reverse("workspace-case", args=[case.pk])).content.decode()
    as_senior = senior.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert "Partner Hotline API" not in _timeline(as_analyst) and "a partner" in _timeline(as_analyst)
    assert "Partner Hotline API" in _timeline(as_senior)
    assert "Reported through API (report " in _timeline(as_senior)


def _timeline(html: str) -> str:
    return html.split('<ol class="timeline">', 1)[1].split("</ol>", 1)[0]
