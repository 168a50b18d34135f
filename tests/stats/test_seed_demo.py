"""``seed_demo``: a synthetic takedown history on reserved example domains, deterministic for a
seed, consistent case by case with what the live code writes, and removable without touching
anything else."""

from __future__ import annotations

import itertools
import re
import statistics
from collections import Counter, defaultdict
from datetime import datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.db.models import Count
from django.utils import timezone

from devnet.history import HOST_SUFFIXES, demo_case_filter, demo_counts
from reports.models import (
    Assessment,
    Case,
    CaseState,
    Channel,
    Event,
    EventKind,
    Partner,
    RemovalKind,
    Report,
    ReportedUrl,
    Verdict,
)
from reports.services import report_create
from reports.urls import normalise_url
from routing.models import (
    AvailabilityCheck,
    Notice,
    NoticeCase,
    NoticeCounter,
    NoticeKind,
    NoticeState,
    PartnerHotline,
    Provider,
)
from routing.notices.batches import new_references
from scart.times import iso

pytestmark = pytest.mark.django_db

NOW = "2026-03-02T00:00:00+01:00"
ANCHOR = datetime.fromisoformat(NOW)
FIRST_NOTICES = (NoticeKind.PROVIDER, NoticeKind.REFERRAL, NoticeKind.POLICE)


def seed(*args: str) -> str:
    out = StringIO()
    call_command("seed_demo", *args, stdout=out)
    return out.getvalue()


@pytest.fixture(autouse=True)
def _settings(settings) -> None:
    settings.SCART_HOTLINE_COUNTRY = "NL"
    settings.SCART_POLICE_EMAIL = ""
    settings.SCART_NOTICE_WORKING_HOURS = ""


@pytest.fixture(autouse=True)
def _partner_hotlines(django_db_blocker) -> None:
    """A migration seeds them; a transactional test elsewhere may have flushed them."""
    with django_db_blocker.unblock():
        for country, name in (("DE", "eco Beschwerdestelle"), ("US", "NCMEC CyberTipline"), ("FR", "Point de Contact")):
            PartnerHotline.objects.get_or_create(country=country, defaults={"name": name})


def snapshot() -> dict[str, Any]:
    """What must come out the same for the same seed: URLs, every timestamp, every notice."""
    cases = {
        c["canonical_url"]: c
        for c in Case.objects.values(
            "canonical_url",
            "state",
            "first_reported_at",
            "assessed_at",
            "verdict",
            "hosting_country",
            "asn",
            "removed_at",
            "removal_kind",
            "last_seen_online_at",
            "cycle_started_at",
            "provider__name",
        )
    }
    events = sorted(Event.objects.values_list("case__canonical_url", "kind", "at"))
    notices = sorted(
        NoticeCase.objects.values_list("case__canonical_url", "notice__kind", "notice__sent_at", "added_at")
    )
    return {"cases": cases, "events": events, "notices": notices}


def test_it_creates_the_history_and_says_what_it_made() -> None:
    out = seed("--cases", "400", "--seed", "7", "--now", NOW)

    assert Case.objects.count() == 400
    assert Report.objects.count() >= 400 / 30
    assert Partner.objects.count() == 4
    assert Provider.objects.filter(key__startswith="seed-demo:").count() >= 12
    assert Assessment.objects.count() <= 400
    assert demo_counts()["cases"] == 400
    # Every case was named by a report, the first of them at the case's first report.
    assert not Case.objects.exclude(reported_urls__isnull=False).exists()
    for case in Case.objects.all():
        first = ReportedUrl.objects.filter(case=case).order_by("report__received_at").first()
        assert first is not None and first.report.received_at == case.first_reported_at
        assert case.report_count == ReportedUrl.objects.filter(case=case).count()
    assert "created 400 cases in" in out
    assert re.search(r"rows: .*cases 400\b", out)
    assert re.search(r"events [\d,]+", out)


def test_it_lays_the_history_out_before_the_anchor() -> None:
    seed("--cases", "300", "--seed", "2", "--now", NOW, "--days", "90")

    first = Case.objects.order_by("first_reported_at").values_list("first_reported_at", flat=True).first()
    assert first is not None and ANCHOR - timedelta(days=91) <= first
    for model, column in (
        (Event, "at"),
        (Case, "last_reported_at"),
        (Assessment, "at"),
        (Notice, "sent_at"),
        (AvailabilityCheck, "at"),
    ):
        assert not model.objects.filter(**{f"{column}__gt": ANCHOR}).exists(), model


def test_it_is_deterministic_for_a_seed() -> None:
    seed("--cases", "300", "--seed", "11", "--now", NOW)
    first = snapshot()
    seed("--cases", "300", "--seed", "11", "--now", NOW, "--replace")
    again = snapshot()
    seed("--cases", "300", "--seed", "12", "--now", NOW, "--replace")
    other = snapshot()

    assert again == first
    assert len(first["events"]) > 300 * 4
    assert set(other["cases"]) != set(first["cases"])


def test_both_writers_make_the_same_history() -> None:
    """On PostgreSQL ``COPY`` writes the rows, `bulk_create` with ``--no-copy`` (and elsewhere)."""
    seed("--cases", "250", "--seed", "13", "--now", NOW)
    copied = snapshot()
    seed("--cases", "250", "--seed", "13", "--now", NOW, "--replace", "--no-copy")

    assert snapshot() == copied


def test_every_url_and_address_is_on_a_reserved_domain() -> None:
    seed("--cases", "300", "--seed", "3", "--now", NOW)

    for case in Case.objects.all():
        assert case.host.endswith(HOST_SUFFIXES), case.host
        assert case.registrable_domain in ("example.com", "example.net", "example.org")
        # Stored as the intake would have stored it.
        norm = normalise_url(case.original_url)
        assert (norm.canonical, norm.sha256, norm.host) == (case.canonical_url, case.url_sha256, case.host)
    addresses = [a for p in Provider.objects.filter(key__startswith="seed-demo:") for a in p.abuse_emails]
    addresses += [a for n in Notice.objects.all() for a in n.emails]
    addresses += list(Partner.objects.values_list("contact_email", flat=True))
    addresses += [r for r in Report.objects.values_list("reporter_email", flat=True) if r]
    assert addresses
    for address in addresses:
        assert address.endswith(".example"), address
    # Private-use AS numbers only.
    for asn in Case.objects.values_list("asn", flat=True).distinct():
        assert asn is not None and (64512 <= asn <= 65534 or 4_200_000_000 <= asn <= 4_294_967_294)


def test_every_illegal_timeline_is_consistent() -> None:
    seed("--cases", "600", "--seed", "5", "--now", NOW)

    sent: dict[int, list[tuple[datetime, str]]] = defaultdict(list)
    for case_id, kind, sent_at, added_at, created_at, state in NoticeCase.objects.values_list(
        "case_id", "notice__kind", "notice__sent_at", "added_at", "notice__created_at", "notice__state"
    ):
        assert state == NoticeState.SENT and sent_at is not None
        assert created_at <= added_at <= sent_at
        sent[case_id].append((sent_at, kind))
    checked: Counter[str] = Counter()
    for case in Case.objects.all():
        events = list(case.events.order_by("at", "id"))
        assert events[0].kind == EventKind.REPORTED and events[0].at == case.first_reported_at
        changes = [e for e in events if e.kind == EventKind.STATE_CHANGED]
        assert changes[-1].data["to"] == case.state
        assert changes[-1].at == case.state_changed_at
        for before, after in itertools.pairwise(changes):
            assert before.data["to"] == after.data["from"]
        assessments = list(case.assessments.order_by("at"))
        if case.state in (CaseState.NEW, CaseState.AWAITING_ASSESSMENT):
            assert not assessments and case.verdict == ""
            continue
        assert case.verdict == assessments[-1].verdict and case.assessed_at == assessments[-1].at
        if case.verdict != Verdict.ILLEGAL:
            assert case.state in (CaseState.NOT_ILLEGAL, CaseState.CANNOT_ASSESS)
            assert case.removed_at is None and not sent[case.pk]
            continue
        checked[case.state] += 1
        verdict_at, cycle, last_online = assessments[0].at, case.cycle_started_at, case.last_seen_online_at
        assert cycle is not None and last_online is not None
        assert case.first_reported_at <= verdict_at <= cycle
        first_notice = min((at for at, kind in sent[case.pk] if kind in FIRST_NOTICES), default=None)
        in_cycle = [at for at, _kind in sent[case.pk] if at >= cycle]
        if first_notice is not None:
            assert verdict_at <= first_notice
        removed = [e for e in events if e.kind == EventKind.REMOVED]
        reappeared = [e for e in events if e.kind == EventKind.REAPPEARED]
        assert len(removed) in (len(reappeared), len(reappeared) + 1)
        if case.state == CaseState.REMOVED:
            checked[case.removal_kind] += 1
            assert case.removed_at is not None and case.removal_kind in RemovalKind.values
            assert removed[-1].data["removed_at"] == iso(case.removed_at)
            assert removed[-1].data["removal_kind"] == case.removal_kind
            assert last_online <= case.removed_at <= removed[-1].at
            assert (case.gone_since, case.gone_count, case.unreachable_since) == (None, 0, None)
            assert case.reappearance_checks <= 3
            if case.removal_kind == RemovalKind.BEFORE_NOTICE:
                assert not [at for at in in_cycle if at <= removed[-1].at]
            elif case.removal_kind == RemovalKind.GONE:
                assert in_cycle and min(in_cycle) <= case.removed_at
                assert first_notice is not None and first_notice <= case.removed_at
        else:
            assert case.state in (CaseState.ILLEGAL, CaseState.NOTIFIED)
            assert case.removed_at is None and case.removal_kind == ""
            assert (case.state == CaseState.NOTIFIED) == bool(in_cycle)
            assert last_online >= cycle
            if case.gone_count:
                assert case.gone_since is not None and case.last_gone_at is not None
                assert last_online < case.gone_since <= case.last_gone_at
        if reappeared:
            checked["reappeared"] += 1
            assert case.urgent and cycle == reappeared[-1].at
            assert removed[0].at < reappeared[0].at
    # The sample holds every path the test checks.
    for path in ("removed", "notified", RemovalKind.GONE, RemovalKind.BEFORE_NOTICE, RemovalKind.UNREACHABLE):
        assert checked[path], (path, checked)


def test_events_carry_the_data_the_live_code_writes() -> None:
    seed("--cases", "400", "--seed", "8", "--now", NOW)

    keys = defaultdict(set)
    for kind, data in Event.objects.values_list("kind", "data"):
        keys[kind].add(tuple(sorted(data)))
    assert keys[EventKind.REPORTED] == {("channel", "new", "report")}
    assert keys[EventKind.NOTICE_SENT] == {("emails", "kind", "notice", "recipient", "recipient_kind", "step")}
    assert keys[EventKind.REMOVED] == {("last_seen_online_at", "removal_kind", "removed_at")}
    assert keys[EventKind.REAPPEARED] <= {("removed_at",)}
    assert {("from", "to"), ("assessment", "from", "to"), ("from", "notice", "to")} <= keys[EventKind.STATE_CHANGED]
    assert all("rule" in k and "recipients" in k for k in keys[EventKind.ROUTED])
    # A provider matched in RDAP is named as live resolution names it: "rdap:<registry>:<handle>".
    rules = {case.resolution["provider"]["rule"] for case in Case.objects.exclude(resolution={})[:200]}
    resolved_rules = {e.data["rule"] for e in Event.objects.filter(kind=EventKind.RESOLVED)[:200]}
    assert rules and resolved_rules
    for rule in rules | resolved_rules:
        assert re.fullmatch(r"rdap:[a-z]+:[A-Za-z0-9-]+", rule), rule
    # An assessed event names its assessment and repeats its classification.
    for event in Event.objects.filter(kind=EventKind.ASSESSED)[:50]:
        assessment = Assessment.objects.get(pk=event.data["assessment"])
        assert assessment.case_id == event.case_id and assessment.at == event.at
        assert event.data["verdict"] == assessment.verdict and event.actor_user_id == assessment.analyst_id
    # A notice_sent event names a notice the case is in, sent at that moment.
    for event in Event.objects.filter(kind=EventKind.NOTICE_SENT)[:200]:
        notice = Notice.objects.get(reference=event.data["notice"])
        assert notice.sent_at == event.at and notice.kind == event.data["kind"]
        assert NoticeCase.objects.filter(notice=notice, case_id=event.case_id).exists()


def test_notice_references_are_unique_and_numbered_like_the_live_ones() -> None:
    seed("--cases", "500", "--seed", "4", "--now", NOW)

    references = list(Notice.objects.values_list("reference", "created_at"))
    assert len(references) > 100
    assert len({r for r, _ in references}) == len(references)
    numbers: dict[str, list[int]] = defaultdict(list)
    for reference, created_at in references:
        match = re.fullmatch(r"SCART-(\d{8})-(\d{6})", reference)
        assert match, reference
        assert match[1] == f"{timezone.localdate(created_at):%Y%m%d}"
        numbers[match[1]].append(int(match[2]))
    for day, used in numbers.items():
        # Numbered from 1 without gaps on a fresh database, and the day's counter knows it.
        assert sorted(used) == list(range(1, len(used) + 1))
        counter = NoticeCounter.objects.get(day=datetime.strptime(day, "%Y%m%d").date())
        assert counter.last == len(used)
    # The live planner, numbering on one of those days, goes on after them.
    busiest = max(numbers, key=lambda d: len(numbers[d]))
    moment = timezone.make_aware(datetime.strptime(busiest + "12", "%Y%m%d%H"))
    assert new_references(1, now=moment) == [f"SCART-{busiest}-{len(numbers[busiest]) + 1:06d}"]


def test_it_draws_realistic_distributions() -> None:
    seed("--cases", "2000", "--seed", "1", "--now", NOW)

    channels = Counter(ReportedUrl.objects.filter(duplicate=False).values_list("report__channel", flat=True))
    assert set(channels) == {Channel.API, Channel.WEB_FORM, Channel.BULK_IMPORT, Channel.MAILBOX}
    verdicts = Counter(Case.objects.values_list("verdict", flat=True))
    assert 0.4 < verdicts[Verdict.ILLEGAL] / 2000 < 0.8
    assert verdicts[Verdict.NOT_ILLEGAL] > 2000 * 0.15
    # A few large providers, a long tail.
    per_provider = sorted(Counter(Case.objects.values_list("provider_id", flat=True)).values(), reverse=True)
    assert per_provider[0] > 10 * statistics.median(per_provider)
    # Mostly hosted at home, some with partner hotlines, some elsewhere; the routes follow.
    countries = Counter(Case.objects.values_list("hosting_country", flat=True))
    assert countries.most_common(1)[0][0] == "NL"
    kinds = Counter(Notice.objects.values_list("kind", flat=True))
    for kind in NoticeKind.values:
        assert kinds[kind], (kind, kinds)
    # Verdicts mostly in office hours, on working days.
    local = [timezone.localtime(a) for a in Assessment.objects.values_list("at", flat=True)]
    office = [t for t in local if t.weekday() < 5 and 8 <= t.hour < 18]
    assert len(office) > 0.7 * len(local)
    # Removal after the first notice: most within days, a tail over weeks, some still online.
    hours = []
    for case in Case.objects.filter(removal_kind=RemovalKind.GONE, urgent=False):
        first = (
            Notice.objects.filter(items__case=case, kind__in=FIRST_NOTICES)
            .order_by("sent_at")
            .values_list("sent_at", flat=True)
            .first()
        )
        assert first is not None and case.removed_at is not None
        hours.append((case.removed_at - first).total_seconds() / 3600)
    assert 18 < statistics.median(hours) < 96
    assert sum(h > 7 * 24 for h in hours) > 0.03 * len(hours)
    assert Case.objects.filter(state=CaseState.NOTIFIED, first_reported_at__lt=ANCHOR - timedelta(days=60)).exists()
    assert Event.objects.filter(kind=EventKind.REAPPEARED).exists()


def test_replace_and_delete_touch_nothing_but_demo_data() -> None:
    seeded_cdns = set(Provider.objects.values_list("pk", flat=True))  # by a migration
    real = report_create(channel=Channel.API, urls=["https://www.example.com/real/1"]).accepted[0].case_id
    provider = Provider.objects.create(
        name="Real Host", key="rdap:ripe:ORG-REAL1-RIPE", abuse_emails=["abuse@real.example"]
    )
    Case.objects.filter(pk=real).update(provider=provider, hosting_country="NL")
    partner = Partner.objects.create(name="Real partner")
    # A partner may send any external reference, even one that looks like the demo's.
    lookalike = report_create(
        channel=Channel.API, partner=partner, urls=["https://www.example.org/real/2"], external_ref="seed-demo-1"
    ).report
    real_notice = Notice.objects.create(
        reference=new_references(1)[0],
        kind=NoticeKind.PROVIDER,
        recipient_kind="provider",
        recipient_name="Real Host",
        batch_key="provider:provider:real",
        due_at=timezone.now(),
        state=NoticeState.SENT,
        open=False,
        message_id="<real@hotline.example>",
    )
    NoticeCase.objects.create(notice=real_notice, case_id=real)

    seed("--cases", "200", "--seed", "9", "--now", NOW)
    # A real report naming a demo URL makes that case real data too.
    named = Case.objects.filter(demo_case_filter()).order_by("pk").first()
    assert named is not None
    kept = report_create(channel=Channel.WEB_FORM, urls=[named.canonical_url])
    seed("--cases", "200", "--seed", "9", "--now", NOW, "--replace")  # the same URLs again

    assert demo_counts()["cases"] == 200 + 1
    out = seed("--delete")

    assert "deleted" in out
    assert set(Case.objects.values_list("pk", flat=True)) == {real, named.pk, lookalike.urls.get().case_id}
    assert Report.objects.filter(pk=kept.report.pk).exists()
    assert Event.objects.filter(case_id=real).exists()
    assert set(Provider.objects.values_list("pk", flat=True)) == {provider.pk, named.provider_id, *seeded_cdns}
    assert Partner.objects.filter(pk=partner.pk).exists()
    assert Report.objects.filter(pk=lookalike.pk).exists()
    assert list(Notice.objects.filter(items__case_id=real)) == [real_notice]
    assert not Notice.objects.exclude(items__isnull=False).exists()


def test_it_refuses_to_seed_over_demo_data_unless_told() -> None:
    seed("--cases", "50", "--seed", "1", "--now", NOW)

    with pytest.raises(CommandError, match=r"demo data exist already.*--replace"):
        seed("--cases", "50", "--seed", "1", "--now", NOW)
    out = seed("--cases", "70", "--if-absent")

    assert "nothing done" in out
    assert Case.objects.count() == 50


def test_it_fills_the_statistics_table() -> None:
    timings = pytest.importorskip("stats.models")
    seed("--cases", "120", "--seed", "6", "--now", NOW)

    assert timings.CaseTiming.objects.count() == 120
    assert timings.CaseTiming.objects.filter(removed_at__isnull=False).exists()


def test_without_refresh_it_leaves_the_statistics_table_alone() -> None:
    timings = pytest.importorskip("stats.models")
    seed("--cases", "60", "--seed", "6", "--now", NOW, "--no-refresh")

    assert not timings.CaseTiming.objects.exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--cases", "0"], "--cases must be between"),
        (["--cases", "-3"], "--cases must be between"),
        (["--cases", "20000000"], "--cases must be between"),
        (["--cases", "many"], "invalid int value"),
        (["--days", "0"], "--days must be between"),
        (["--now", "last tuesday"], "--now must be a date"),
        (["--now", "2999-01-01"], "must not be in the future"),
        (["--replace", "--if-absent"], "not allowed with"),
        (["--delete", "--replace"], "not allowed with"),
    ],
)
def test_bad_arguments_are_refused_cleanly(args: list[str], message: str) -> None:
    with pytest.raises(CommandError, match=message):
        seed(*args)
    assert not Case.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_larger_run_commits_chunk_by_chunk_and_loses_nothing(monkeypatch) -> None:
    """Committed chunks (on PostgreSQL written by a thread while the next chunk is made): cases
    of a later chunk join the batches of an earlier one, and every row arrives."""
    monkeypatch.setattr("devnet.history.CHUNK_CASES", {"postgresql": 200, "sqlite": 200})
    out = seed("--cases", "1200", "--seed", "2", "--now", NOW, "--days", "30", "--no-refresh")

    progress = [int(n.replace(",", "")) for n in re.findall(r"([\d,]+) / 1,200 cases", out)]
    assert len(progress) >= 6 and progress == sorted(progress) and progress[-1] == 1200
    assert Case.objects.count() == 1200
    assert NoticeCase.objects.count() == Event.objects.filter(kind=EventKind.NOTICE_SENT).count()
    # One notice per batch: a chunk never opens a second notice for a batch an earlier one made.
    batches = Counter(Notice.objects.values_list("batch_key", "due_at"))
    assert batches.most_common(1)[0][1] == 1
    assert NoticeCase.objects.values("notice").annotate(n=Count("case")).filter(n__gt=1).exists()
