"""A world of cases built the way production builds it, for tests that look at pages.

Reports come in through the intake service on every channel; cases are resolved by the real
resolver against the local DNS and RDAP peers (recorded registry answers); analysts, an analyst in
training and a senior analyst give verdicts and second opinions; notices are planned and sent to the
local SMTP peer; a provider replies and answers through its link; availability checks run against
the local HTTP peer until content is removed, moves or comes back. Nothing is written by hand.

Every shape of case the pages must show is in it (`World.cases` by name): resolved through a CNAME
chain, IPv6 only, an IP literal, behind a CDN with a known origin, unresolvable (NXDOMAIN), an onion
address, a registrar lookup that failed, a recipient without an abuse address, police first, a
partner hotline's referral, removed, moved (and the case it opened), reappeared, disputed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

from accounts.models import StaffProfile
from devnet.cymru import load_recorded_cymru
from devnet.demo import demo_domains
from devnet.dns import FakeDNS
from devnet.http import FakeHTTP
from devnet.rdap import FakeRDAP
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from reports.cases.services import Actor
from reports.models import Case, Channel, Review
from reports.reviews import review_decide
from reports.services import report_create
from routing.checks.tracking import case_mark_removed, cases_check
from routing.models import DeadlineRule, DomainRule, Notice, NoticeCase, NoticeState, PartnerHotline, Provider
from routing.notices.planning import cases_plan_notices
from routing.notices.replies import notice_message_file
from routing.notices.responses import notice_respond
from routing.notices.sending import notices_send_due
from routing.resolution.cases import cases_resolve
from routing.resolution.confirmation import contact_confirm
from tests import factories

HOME = "GB"  # the hotline's country in this world: BT's addresses are at home
POLICE = "reports@police.example"

ILLEGAL = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}

# The zone: hosts on the recorded registry addresses (devnet/fixtures/registry).
ZONE: dict[str, dict[str, list[str]]] = {
    "example.com": {"A": ["74.125.225.229"], "AAAA": ["2001:4860:4860::8888"]},
    "www.example.com": {"CNAME": ["example.com."]},
    "www.example.org": {"CNAME": ["cdn.example.net."]},
    "cdn.example.net": {"CNAME": ["edge.cdn.example.net."]},
    "edge.cdn.example.net": {"A": ["62.239.237.1"], "AAAA": ["2a00:2381:ffff::1"]},
    "static.example.org": {"A": ["200.57.141.161"]},
    "v6only.example.org": {"AAAA": ["2001:240:10c:1::ca20:9d1d"]},
    "ix.example.net": {"AAAA": ["2001:43f8:7b0::"]},
    "unrouted.example.org": {"AAAA": ["2801:10:c000::"]},
    "mail.example.net": {"A": ["210.107.73.73"]},
    "shop.example.info": {"A": ["196.11.240.215"]},  # no RDAP service for .info: registrar fails
    "quiet.example.net": {"A": ["62.239.237.1"]},
    # Tracked by availability checks: resolved on BT's address, later served by the local HTTP peer.
    "removed.example.net": {"A": ["62.239.237.1"]},
    "moved.example.net": {"A": ["62.239.237.1"]},
    "back.example.net": {"A": ["62.239.237.1"]},
}
TRACKED = ("removed.example.net", "moved.example.net", "back.example.net", "elsewhere.example.net")


@dataclass
class World:
    users: dict[str, Any]  # by role: analyst, senior, admin, trainee
    cases: dict[str, Case]  # by shape
    notices: list[Notice] = field(default_factory=list)
    reviews: list[Review] = field(default_factory=list)

    def case(self, name: str) -> Case:
        return Case.objects.get(pk=self.cases[name].pk)


def world_settings(settings: Any, *, smtp: FakeSMTP) -> None:
    """The settings the world needs: the home country, a police address, mail to the SMTP peer,
    checks allowed to reach the local HTTP peer, removal after two gone checks."""
    settings.SCART_HOTLINE_COUNTRY = HOME
    settings.SCART_POLICE_EMAIL = POLICE
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = smtp.host
    settings.EMAIL_PORT = smtp.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.DEFAULT_FROM_EMAIL = "scart@hotline.example"
    settings.SCART_NOTICE_REPLY_TO = "notices@hotline.example"
    settings.SCART_CHECK_ALLOW_NETWORKS = ["127.0.0.1/32"]
    settings.SCART_REMOVAL_CHECKS = 2
    settings.SCART_REMOVAL_SPACING_MINUTES = 0


def _report(url: str, channel: str = Channel.API, **fields: Any) -> Case:
    result = report_create(channel=channel, urls=[url], **fields)
    return Case.objects.get(pk=result.accepted[0].case_id)


def build_world(*, fake_dns: FakeDNS, fake_rdap: FakeRDAP, web: FakeHTTP, smtp: FakeSMTP) -> World:
    """Build the world (see the module's docstring); `world_settings` must be in force."""
    fake_rdap.load_recorded()
    load_recorded_cymru(fake_dns)
    for domain in demo_domains():
        fake_rdap.add_domain(domain)
    fake_dns.load(ZONE)

    users = {
        "analyst": factories.staff_user("ana", "analyst"),
        "senior": factories.staff_user("sen", "senior"),
        "admin": factories.staff_user("adm", "admin"),
        "trainee": factories.staff_user("tra", "analyst"),
    }
    StaffProfile.objects.create(user=users["trainee"], in_training=True)
    partner, _ = factories.partner_with_key("Partner Hotline API")
    PartnerHotline.objects.update_or_create(
        country="US", defaults={"name": "US Partner Hotline", "email": "referrals@partner.example", "active": True}
    )
    Provider.objects.create(
        name="Example CDN", is_cdn=True, asns=[19373], abuse_emails=["abuse@cdn.example"], verified=True
    )
    quiet = Provider.objects.create(name="Quiet Hosting", country=HOME, abuse_emails=[])
    DomainRule.objects.create(suffix="static.example.org", origin_host="www.example.org", provider=None)
    DomainRule.objects.create(suffix="quiet.example.net", provider=quiet)
    # Deadlines a senior set: an agreed day from the first notice, the regulator's hour for home cases.
    DeadlineRule.objects.create(name="Agreed removal (24 h)", hours=24, starts_at="notice")
    DeadlineRule.objects.create(name="Regulator's removal order (1 h)", hours=1, starts_at="verdict", country=HOME)

    port = web.port
    cases = {
        "cname": _report("https://www.example.com/gallery/1", partner=partner),
        "chain": _report("https://www.example.org/a.jpg", Channel.WEB_FORM, reporter_email="someone@example.com"),
        "cdn": _report("http://static.example.org/img/2.jpg", Channel.BULK_IMPORT, source="bulk.csv"),
        "ipv6": _report("http://v6only.example.org/x"),
        "ipv6_africa": _report("http://ix.example.net/y"),
        "unrouted": _report("http://unrouted.example.org/z"),
        "korea": _report("http://mail.example.net/k"),
        "registrar_failed": _report("http://shop.example.info/item"),
        "no_address": _report("http://quiet.example.net/q"),
        "ip_literal": _report("http://62.239.237.1/raw"),
        "ipv6_literal": _report("http://[2001:4860:4860::8888]/raw6"),
        "unresolvable": _report("http://gone.example.com/nothing"),
        "onion": _report("http://abcdefghijklmnop.onion/hidden"),
        "police_first": _report("https://www.example.org/police"),
        "partner_hotline": _report("https://www.example.com/referral"),
        "disputed": _report("https://www.example.org/disputed"),
        "awaiting": _report("https://www.example.com/waiting", Channel.MAILBOX, reporter_email="tip@example.com"),
        "not_illegal": _report("https://www.example.com/adult"),
        "trainee_illegal": _report("http://mail.example.net/trainee"),
        "removed": _report(f"http://removed.example.net:{port}/item"),
        # The host redirects elsewhere: the check records a move and opens a linked case.
        "moved": _report(f"http://moved.example.net:{port}/to?location=http://elsewhere.example.net:{port}/item"),
        "reappeared": _report(f"http://back.example.net:{port}/item"),
        "marked_removed": _report("http://ix.example.net/by-hand"),
    }
    cases_resolve(case_ids=[c.pk for c in cases.values()], force=True)
    for case in cases.values():
        case.refresh_from_db()

    analyst, senior, trainee = users["analyst"], users["senior"], users["trainee"]

    def assess(name: str, user: Any = None, **fields: Any) -> None:
        case_assess(case=Case.objects.get(pk=cases[name].pk), user=user, classification=Classification(**fields))

    illegal = [
        "cname",
        "chain",
        "cdn",
        "ipv6",
        "ipv6_africa",
        "unrouted",
        "korea",
        "registrar_failed",
        "no_address",
        "ip_literal",
        "ipv6_literal",
        "unresolvable",
        "onion",
        "partner_hotline",
        "disputed",
        "removed",
        "moved",
        "reappeared",
        "marked_removed",
    ]
    for name in illegal:
        assess(name, analyst, **ILLEGAL)
    assess("police_first", analyst, **ILLEGAL, police_first=True, police_reason="victim_identifiable")
    assess("not_illegal", trainee, verdict="not_illegal", not_illegal_reason="adult")
    assess("trainee_illegal", trainee, **ILLEGAL)
    # Second opinions on the trainee's verdicts: a senior agrees with one, the other waits.
    review_decide(review=Review.objects.get(case_id=cases["not_illegal"].pk), user=senior)

    # A senior confirms one low-confidence contact (the contact-check queue keeps the others).
    flagged = Provider.objects.filter(cases__contact_check=True).distinct().first()
    assert flagged is not None, "no contact waits for a check: the world lost its low-confidence cases"
    contact_confirm(
        provider=flagged, emails=list(flagged.abuse_emails or ["abuse@example.net"]), actor=Actor.staff(senior)
    )

    illegal_ids = list(Case.objects.filter(verdict="illegal").values_list("pk", flat=True))
    cases_plan_notices(case_ids=illegal_ids)
    notices_send_due(flush=True, reresolve=False)
    notices = list(Notice.objects.filter(state=NoticeState.SENT).order_by("pk"))

    # The provider answers: a reply by mail, "removed" for one URL and a dispute for another.
    replied = Notice.objects.filter(items__case_id=cases["cname"].pk, state=NoticeState.SENT).first()
    assert replied is not None, "the notice about the first case was not sent"
    assert notice_message_file(_reply(replied), authenticated=True) is not None
    for name, answer in (("chain", ("removed", "")), ("disputed", ("disputed", "it is a drawing"))):
        row = NoticeCase.objects.filter(case_id=cases[name].pk, notice__state=NoticeState.SENT).first()
        assert row is not None, f"no notice about the {name} case was sent"
        assert notice_respond(notice=row.notice, answers={row.pk: answer})

    # Availability: the tracked hosts are now served by the local HTTP peer.
    for host in TRACKED:
        fake_dns.remove(host)
        fake_dns.add(host, "A", "127.0.0.1")
    web.aliases["/item"] = "/status/200"
    cases_check(case_ids=[cases[n].pk for n in ("removed", "reappeared")], force=True)
    web.aliases["/item"] = "/status/404"
    cases_check(case_ids=[cases["removed"].pk, cases["reappeared"].pk], force=True)
    cases_check(case_ids=[cases["removed"].pk, cases["reappeared"].pk], force=True)
    web.aliases["/item"] = "/status/200"
    cases_check(case_ids=[cases["reappeared"].pk], force=True)
    cases_check(case_ids=[cases["moved"].pk], force=True)
    cases["moved_to"] = Case.objects.get(moved_from_id=cases["moved"].pk)
    case_mark_removed(case=Case.objects.get(pk=cases["marked_removed"].pk), user=analyst)

    for name, case in cases.items():
        cases[name] = Case.objects.get(pk=case.pk)
    return World(users=users, cases=cases, notices=notices, reviews=list(Review.objects.order_by("pk")))


def _reply(notice: Notice) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Jane at Hosting <jane@hosting.example>"
    message["To"] = "notices@hotline.example"
    message["Subject"] = f"RE: [{notice.reference}] Notice"
    message["Message-ID"] = f"<reply-{notice.pk}@hosting.example>"
    message["In-Reply-To"] = notice.message_id
    message.set_content("Hello,\n\nwe have removed the file.\n")
    return message
