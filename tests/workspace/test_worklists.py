"""The worklists and the provider pages, on cases built through the services: notices sent to the
local SMTP peer at known moments, removals recorded at known moments, the world of tests/world.py
for the held cases and the roles."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.urls import reverse

from devnet.http import FakeHTTP
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess, case_open
from reports.models import Case
from routing.checks.tracking import case_mark_removed
from routing.jurisdiction import Hold
from routing.models import Notice, NoticeCase, Provider
from routing.notices.ladder import cases_plan_ladder
from routing.notices.planning import cases_plan_notices
from routing.notices.replies import notice_message_file
from routing.notices.responses import notice_respond
from routing.notices.sending import notices_send_due
from stats.measures import StatsQueryError
from stats.params import stats_params
from stats.timings import timings_refresh
from tests import factories
from tests.conftest import staff_login
from tests.world import World, _reply, build_world, world_settings
from workspace.providers import provider_page, providers_list
from workspace.worklists import held_page, mine_page, waiting_cases, waiting_rows

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}
START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
HOURS = timedelta(hours=1)


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_POLICE_EMAIL = "reports@police.example"
        settings.SCART_NOTICE_WORKING_HOURS = ""  # every hour is a working hour: times are exact
        settings.SCART_REMINDER_HOURS = 24
        settings.SCART_REMINDER_MAX = 3
        yield server


def _illegal(url: str, provider: Provider, user: Any = None) -> Case:
    case = factories.awaiting_case(url, provider=provider, hosting_country="NL")
    case_assess(case=case, user=user, classification=Classification(**ILLEGAL))
    return Case.objects.get(pk=case.pk)


def _notify(*cases: Case) -> None:
    cases_plan_notices(case_ids=[c.pk for c in cases])
    notices_send_due(flush=True, reresolve=False)


# Waiting on the provider -------------------------------------------------------------------------


def test_waiting_lists_notified_cases_most_overdue_first_with_the_ladder(smtp, settings):
    fast = Provider.objects.create(name="Fast Hosting", abuse_emails=["abuse@fast.example"], country="NL")
    brisk = Provider.objects.create(
        name="Brisk Hosting", abuse_emails=["abuse@brisk.example"], country="NL", reminder_interval=4 * HOURS
    )
    with time_machine.travel(START, tick=False) as clock:
        a = _illegal("https://a.example.com/1", fast)
        b = _illegal("https://b.example.com/1", brisk)
        gone = _illegal("https://c.example.com/1", fast)
        clock.move_to(START + 2 * HOURS)
        _notify(a, b, gone)  # the first notices leave at +2 h
        clock.move_to(START + 3 * HOURS)
        late = _illegal("https://d.example.com/1", fast)
        clock.move_to(START + 5 * HOURS)
        _notify(late)  # at +5 h
        case_mark_removed(case=Case.objects.get(pk=gone.pk), user=factories.staff_user("ana"))

        clock.move_to(START + 8 * HOURS)
        # Brisk had 4 h: its reminder is due at +6 h and goes out now; the others have 24 h.
        assert cases_plan_ladder().planned == 1
        notices_send_due(flush=True, reresolve=False)
        rows = waiting_rows(list(waiting_cases()))

    assert [r.case_id for r in rows] == [b.pk, a.pk, late.pk]  # the removed case is not waiting
    first_b, first_a, first_late = rows
    assert first_b.overdue and first_b.overdue_text == "overdue by 2 h"
    assert (first_b.reminders_sent, first_b.next_step) == (1, "reminder 2 of 3")
    assert first_b.next_step_at == START + 12 * HOURS  # the reminder at +8 h, then 4 h more
    assert first_b.provider == "Brisk Hosting" and first_b.waited == "6 h"
    assert not first_a.overdue and first_a.overdue_text == "due in 18 h"
    assert (first_a.reminders_sent, first_a.next_step) == (0, "reminder 1 of 3")
    assert first_a.next_step_at == START + 26 * HOURS
    assert first_a.first_notice_at == START + 2 * HOURS
    assert first_late.overdue_text == "due in 21 h"
    # Narrowed to one provider, as its page links to it.
    assert [c.pk for c in waiting_cases(provider=fast.pk)] == [a.pk, late.pk]
    assert provider_page(fast, user=factories.staff_user("sen", "senior")).waiting_count == 2


def test_waiting_names_the_escalation_after_the_last_reminder_and_a_dispute(smtp, settings):
    settings.SCART_REMINDER_MAX = 1
    settings.SCART_ESCALATION_LADDER = ["registrar", "police"]
    host = Provider.objects.create(name="Host", abuse_emails=["abuse@host.example"], country="NL")
    with time_machine.travel(START, tick=False) as clock:
        a = _illegal("https://a.example.com/1", host)
        disputed = _illegal("https://b.example.com/1", host)
        _notify(a, disputed)
        row = NoticeCase.objects.get(case=disputed)
        assert notice_respond(notice=row.notice, answers={row.pk: ("disputed", "not what you say")})
        clock.move_to(START + 25 * HOURS)
        cases_plan_ladder()
        notices_send_due(flush=True, reresolve=False)
        rows = {r.case_id: r for r in waiting_rows(list(waiting_cases()))}

    # No registrar is known for the case: the ladder goes on to the police, as the planner does.
    assert rows[a.pk].reminders_sent == 1
    assert rows[a.pk].next_step.startswith("escalation 2 of 2: police (")
    assert rows[disputed.pk].disputed and rows[disputed.pk].next_step_at is None
    assert rows[disputed.pk].next_step == "paused: the provider disputes it, a senior analyst decides"


# Provider performance and the statistics filter by name ------------------------------------------


@pytest.fixture
def timed(smtp) -> dict[str, Provider]:
    """Fast Hosting removed its three cases 2, 10 and 30 h after the notice; Slow Hosting its one
    after 50 h."""
    fast = Provider.objects.create(name="Fast Hosting", abuse_emails=["abuse@fast.example"], country="NL")
    slow = Provider.objects.create(name="Slow Hosting", abuse_emails=["abuse@slow.example"], country="NL")
    Provider.objects.create(name="Idle Hosting", abuse_emails=["abuse@idle.example"], country="NL")
    analyst = factories.staff_user("ana")
    with time_machine.travel(START, tick=False) as clock:
        cases = [_illegal(f"https://fast{n}.example.com/x", fast) for n in range(3)]
        cases.append(_illegal("https://slow.example.com/x", slow))
        clock.move_to(START + 2 * HOURS)
        _notify(*cases)
        clock.move_to(START + 80 * HOURS)
        for case, after in zip(cases, (2, 10, 30, 50), strict=True):
            case_mark_removed(case=Case.objects.get(pk=case.pk), user=analyst, removed_at=START + (2 + after) * HOURS)
        timings_refresh(case_ids=[c.pk for c in cases])
    return {"fast": fast, "slow": slow}


def test_a_providers_performance_is_the_statistics_hand_checked(timed):
    page = provider_page(timed["fast"], user=factories.staff_user("sen", "senior"))
    # Durations 2, 10, 30 h: the median is 10; the 90th percentile lies 0.8 of the way from 10 to 30.
    assert page.performance.count == 3
    assert page.performance.median_hours == 10.0
    assert page.performance.p90_hours == 26.0
    assert page.performance.within_24h == pytest.approx(2 / 3, abs=1e-4)
    assert [(m.label, m.count, m.median_hours) for m in page.performance.months] == [("2026-03", 3, 10.0)]
    assert page.performance.stats_url == "/stats/?provider=Fast+Hosting"
    assert page.notice_count == 1 and page.notices[0].cases == 3 and page.notices[0].state == "Sent"
    assert page.open_count == 0


def test_the_provider_list_sorts_by_its_figures(timed):
    ours = {"Fast Hosting", "Slow Hosting", "Idle Hosting"}  # the migrations add some CDNs
    by_median = providers_list(sort="median", descending=True)
    assert [r.name for r in by_median if r.name in ours] == ["Slow Hosting", "Fast Hosting", "Idle Hosting"]
    assert [r.name for r in providers_list(sort="median", descending=False) if r.name in ours] == [
        "Fast Hosting",
        "Slow Hosting",
        "Idle Hosting",
    ]
    fast = next(r for r in by_median if r.name == "Fast Hosting")
    assert (fast.removals, fast.median_hours, fast.p90_hours, fast.notices_sent) == (3, 10.0, 26.0, 1)
    assert [r.name for r in providers_list(query="fast host")] == ["Fast Hosting"]


def test_the_statistics_take_a_provider_by_name(timed, client):
    fast = timed["fast"]
    assert stats_params({"provider": "fast hosting"}).filters.provider == fast.pk
    assert stats_params({"provider": str(fast.pk)}).filters.provider == fast.pk
    with pytest.raises(StatsQueryError, match="no provider is called 'Nobody'"):
        stats_params({"provider": "Nobody"})
    Provider.objects.create(name="Fast hosting", abuse_emails=["other@fast.example"])
    with pytest.raises(StatsQueryError, match="several providers are called"):
        stats_params({"provider": "Fast Hosting"})


def test_the_dashboard_filtered_by_name_shows_the_providers_figures(timed):
    client = staff_login(Client(), factories.staff_user("ana2"))
    response = client.get("/stats/", {"provider": "Slow Hosting"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "hosted by" in body and reverse("providers-detail", args=[timed["slow"].pk]) in body
    assert "50.0" in body and "10.0" not in body
    assert client.get("/stats/", {"provider": "Nobody"}).status_code == 400
    page = client.get(reverse("providers-detail", args=[timed["fast"].pk])).content.decode()
    assert 'id="perf-median">10.0 h' in page and 'id="perf-p90">26.0 h' in page and 'id="perf-24h">67 %' in page


# The world: held cases, my work, who sees what ---------------------------------------------------


@pytest.fixture
def world(settings, fake_dns, fake_rdap) -> Iterator[World]:
    with FakeSMTP() as smtp, FakeHTTP() as web:
        world_settings(settings, smtp=smtp)
        yield build_world(fake_dns=fake_dns, fake_rdap=fake_rdap, web=web, smtp=smtp)


def test_held_names_each_hold_and_what_releases_it(world):
    senior, analyst = world.users["senior"], world.users["analyst"]
    page = held_page(user=senior)
    rows = {r.case_id: r for r in page.rows}
    reasons = {case_id: {h.code: h for h in r.reasons} for case_id, r in rows.items()}
    police = world.cases["police_first"].pk
    quiet = world.cases["no_address"].pk
    trainee = world.cases["trainee_illegal"].pk
    assert Hold.POLICE_FIRST in reasons[police]
    release = reasons[police][Hold.POLICE_FIRST].release
    assert release.post and release.url == reverse("cases-release", args=[police])
    assert reasons[police][Hold.POLICE_FIRST].text == "held until a senior analyst releases it (police first)"
    no_address = reasons[quiet][Hold.NO_ADDRESS]
    quiet_hosting = Provider.objects.get(name="Quiet Hosting")
    assert no_address.release.url == reverse("providers-detail", args=[quiet_hosting.pk])
    assert no_address.recipients == ("Quiet Hosting (hosting provider)",)
    review = world.case("trainee_illegal").reviews.get(state="open")
    assert reasons[trainee][Hold.REVIEW].release.url == reverse("reviews-page", args=[review.pk])
    # Sent cases are not held; the oldest verdict comes first.
    assert world.cases["cname"].pk not in rows
    verdicts = [r.verdict_at for r in page.rows if r.verdict_at is not None]
    assert verdicts == sorted(verdicts)
    assert dict((code, n) for code, _w, n in page.counts)[Hold.POLICE_FIRST] >= 1
    # An analyst reads the same holds, and who lifts them, without the buttons.
    as_analyst = {r.case_id: r for r in held_page(user=analyst).rows}
    assert as_analyst[police].reasons[0].release.url == ""
    assert "senior analyst" in as_analyst[police].reasons[0].release.text
    assert {r.case_id for r in held_page(user=senior, reason=Hold.REVIEW).rows} == {trainee}
    # A partner hotline without an address: an administrator adds it in the admin.
    korea = world.cases["korea"].pk
    hotline = reasons[korea][Hold.NO_ADDRESS]
    assert hotline.release.url == "" and "administrator" in hotline.release.text
    as_admin = {r.case_id: {h.code: h for h in r.reasons} for r in held_page(user=world.users["admin"]).rows}
    assert as_admin[korea][Hold.NO_ADDRESS].release.url.startswith("/admin/routing/partnerhotline/")


def test_the_release_button_of_the_held_list_releases_the_case(world):
    client = staff_login(Client(), world.users["senior"])
    page = client.get(reverse("worklist-held")).content.decode()
    police = world.cases["police_first"].pk
    action = reverse("cases-release", args=[police])
    assert f'action="{action}"' in page
    assert client.post(action).status_code == 302
    held = {r.case_id: {h.code for h in r.reasons} for r in held_page(user=world.users["senior"]).rows}
    assert Hold.POLICE_FIRST not in held.get(police, set())


def test_my_work_shows_what_i_hold_asked_and_classified_today(world):
    analyst, trainee, senior = world.users["analyst"], world.users["trainee"], world.users["senior"]
    case_open(case=world.case("awaiting"), user=analyst)
    mine = mine_page(user=analyst)
    assert [c.case_id for c in mine.locked] == [world.cases["awaiting"].pk]
    # The analyst's verdicts in the world: the 19 illegal ones and the police-first one.
    assert mine.classified_today == 20
    theirs = mine_page(user=trainee)
    assert theirs.classified_today == 2
    assert [c.case_id for c in theirs.my_reviews] == [world.cases["trainee_illegal"].pk]
    assert "holds notices" in theirs.my_reviews[0].note and theirs.to_review == ()
    seniors = mine_page(user=senior)
    assert world.cases["trainee_illegal"].pk in [c.case_id for c in seniors.to_review]
    assert seniors.reviewed_today == 1 and seniors.classified_today == 0


def test_classified_today_counts_from_midnight_in_the_hotlines_zone(smtp, settings):
    settings.TIME_ZONE = "Europe/Amsterdam"
    host = Provider.objects.create(name="Host", abuse_emails=["abuse@host.example"], country="NL")
    analyst = factories.staff_user("ana")
    amsterdam = ZoneInfo("Europe/Amsterdam")
    with time_machine.travel(datetime(2026, 3, 2, 23, 30, tzinfo=amsterdam), tick=False) as clock:
        _illegal("https://a.example.com/1", host, user=analyst)  # 22:30 UTC, the day before
        clock.move_to(datetime(2026, 3, 3, 0, 30, tzinfo=amsterdam))
        _illegal("https://b.example.com/1", host, user=analyst)
        assert mine_page(user=analyst).classified_today == 1


def test_analysts_in_training_do_not_read_the_providers_replies(world):
    # The hosting provider replies by mail to its notice, as the mailbox files it.
    notice = Notice.objects.filter(provider__isnull=False, state="sent").order_by("pk").first()
    assert notice is not None and notice.provider is not None
    assert notice_message_file(_reply(notice), authenticated=True) is not None
    provider = notice.provider
    analyst = staff_login(Client(), world.users["analyst"])
    trainee = staff_login(Client(), world.users["trainee"])
    url = reverse("providers-detail", args=[provider.pk])
    seen = analyst.get(url).content.decode()
    assert "jane@hosting.example" in seen
    hidden = trainee.get(url).content.decode()
    assert "jane@hosting.example" not in hidden and "we have removed the file" not in hidden
    assert "Analysts in training see when messages came" in hidden
    assert provider_page(provider, user=world.users["trainee"]).replies >= 1


def test_the_pages_are_staff_only(world, client):
    for name in ("worklist-waiting", "worklist-held", "worklist-mine", "providers-list"):
        response = client.get(reverse(name))
        assert response.status_code in (302, 403), name
    no_role = staff_login(Client(), factories.staff_user("nobody", None))
    assert no_role.get(reverse("providers-list")).status_code == 403
