"""The senior analysts' pages of the routing stage: the contact-check queue and the domain rules."""

from __future__ import annotations

import pytest
from django.db.models import ProtectedError
from django.urls import reverse

from accounts.models import AuditEntry
from reports.models import Case, EventKind
from reports.suggestions import suggestions_for
from routing.models import AbuseSource, Confidence, DomainRule, Provider
from routing.resolution.resolve import HostQuery, hosts_resolve
from tests import factories
from tests.conftest import staff_login
from tests.factories import awaiting_case, staff_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def low_provider() -> Provider:
    return Provider.objects.create(
        name="Lowly Hosting",
        key="rdap:apnic:LOWLY",
        source="rdap",
        country="JP",
        rdap_handles=["LOWLY-AP", "IRT-LOWLY-JP"],
        asns=[64500, 64501],
        abuse_emails=["noc@lowly.example"],
        abuse_source=AbuseSource.TECH_ADMIN,
        confidence=Confidence.LOW,
    )


def waiting_case(url: str, provider: Provider | None) -> Case:
    return awaiting_case(url, provider=provider, contact_check=True, contact_confidence=Confidence.LOW)


def rule_data(**changes: object) -> dict[str, object]:
    data: dict[str, object] = {
        "suffix": "shop.example.com",
        "provider": "",
        "origin_host": "",
        "suggest_verdict": "",
        "suggest_legal_basis": "",
        "suggest_category": "",
        "suggest_media_type": "",
        "suggest_not_illegal_reason": "",
        "notes": "",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


# Contact checks ----------------------------------------------------------------------------------


def test_the_queue_shows_each_provider_with_its_contact_and_waiting_cases(client, senior, low_provider):
    first = waiting_case("https://a.lowly.example.com/one", low_provider)
    second = waiting_case("https://b.lowly.example.com/two", low_provider)
    awaiting_case("https://fine.example.com/x", provider=low_provider)  # no contact check: not listed

    page = client.get(reverse("contacts-queue")).content.decode()

    for text in ["Lowly Hosting", "JP", "LOWLY-AP", "IRT-LOWLY-JP", "AS64500", "AS64501", "noc@lowly.example"]:
        assert text in page
    assert "technical or administrative contact" in page and "low" in page
    assert "2 cases waiting" in page
    for case in (first, second):
        assert reverse("workspace-case", args=[case.pk]) in page
        assert f'<span class="url-mid" title="{case.canonical_url}">' in page  # on one line, whole on hover
        assert f'href="{case.canonical_url}' not in page  # a URL is text, never a link
        assert case.first_reported_at.strftime("%Y-%m-%d") in page
    assert "fine.example.com" not in page
    assert reverse("contacts-confirm", args=[low_provider.pk]) in page
    # The form starts with the current addresses.
    assert ">noc@lowly.example</textarea>" in page


def test_the_queue_lists_cases_without_a_provider_with_a_link_to_make_a_rule(client, senior):
    orphan = waiting_case("https://orphan.example.org/page", None)

    page = client.get(reverse("contacts-queue")).content.decode()

    assert "Cases without a provider" in page
    assert f'<span class="url-mid" title="{orphan.canonical_url}">' in page
    assert f"{reverse('rules-new')}?suffix=orphan.example.org" in page


def test_confirming_releases_the_cases_and_records_events_and_an_audit_entry(client, senior, low_provider):
    cases = [waiting_case(f"https://h{n}.lowly.example.com/", low_provider) for n in range(2)]

    response = client.post(
        reverse("contacts-confirm", args=[low_provider.pk]),
        {"emails": " Abuse@Lowly.example \n\nabuse-2@lowly.example, abuse@lowly.example"},
    )

    assert response.status_code == 302 and response["Location"] == reverse("contacts-queue")
    low_provider.refresh_from_db()
    assert low_provider.abuse_emails == ["abuse@lowly.example", "abuse-2@lowly.example"]
    assert low_provider.verified and low_provider.abuse_source == AbuseSource.MANUAL
    for case in cases:
        case.refresh_from_db()
        assert not case.contact_check and case.contact_confidence == Confidence.HIGH
        event = case.events.get(kind=EventKind.CONTACT_CHECKED)
        assert event.actor_user == senior
    entry = AuditEntry.objects.get(action="contact_changed", object_id=str(low_provider.pk), actor=senior)
    assert entry.data["before"]["abuse_emails"] == ["noc@lowly.example"]
    assert entry.data["after"]["abuse_emails"] == ["abuse@lowly.example", "abuse-2@lowly.example"]
    page = client.get(response["Location"]).content.decode()
    assert "Confirmed the abuse contact of Lowly Hosting: 2 cases released" in page
    assert "No provider waits for a contact check." in page


@pytest.mark.parametrize(
    ("emails", "message"),
    [
        ("", "Give at least one valid abuse address"),
        ("  \n ", "Give at least one valid abuse address"),
        ("not-an-address", "Not an email address: not-an-address"),
        ("abuse@lowly.example\nabuse@lowly", "Not an email address: abuse@lowly"),
    ],
)
def test_confirming_without_valid_addresses_is_refused(client, senior, low_provider, emails, message):
    case = waiting_case("https://x.lowly.example.com/", low_provider)

    response = client.post(reverse("contacts-confirm", args=[low_provider.pk]), {"emails": emails})

    assert response.status_code == 400
    page = response.content.decode()
    assert message in page
    assert "Lowly Hosting" in page  # the queue again, with what was typed
    low_provider.refresh_from_db()
    assert not low_provider.verified and low_provider.abuse_emails == ["noc@lowly.example"]
    case.refresh_from_db()
    assert case.contact_check
    assert not AuditEntry.objects.filter(action="contact_changed", actor=senior).exists()


def test_a_refused_confirmation_shows_the_provider_even_when_it_is_not_on_the_page(client, senior, low_provider):
    other = Provider.objects.create(name="Busy Hosting", abuse_emails=[], confidence="none")
    for n in range(3):
        waiting_case(f"https://b{n}.busy.example.net/", other)
    waiting_case("https://x.lowly.example.com/", low_provider)

    response = client.post(reverse("contacts-confirm", args=[low_provider.pk]), {"emails": "nonsense"})

    page = response.content.decode()
    assert response.status_code == 400
    assert page.index("Lowly Hosting") < page.index("Busy Hosting")
    assert ">nonsense</textarea>" in page


def test_the_queue_is_paged_by_provider_and_shows_the_oldest_cases_of_each(client, senior, low_provider, monkeypatch):
    monkeypatch.setattr("workspace.views.contacts.PROVIDERS_PER_PAGE", 1)
    monkeypatch.setattr("workspace.views.contacts.CASES_PER_PROVIDER", 2)
    few = Provider.objects.create(name="Few Hosting", abuse_emails=[], confidence="none")
    oldest = [waiting_case(f"https://h{n}.lowly.example.com/", low_provider) for n in range(3)]
    waiting_case("https://one.few.example.net/", few)

    first = client.get(reverse("contacts-queue")).content.decode()
    second = client.get(reverse("contacts-queue"), {"page": 2}).content.decode()

    assert "Lowly Hosting" in first and "Few Hosting" not in first  # most waiting first
    assert oldest[0].canonical_url in first and oldest[1].canonical_url in first
    assert oldest[2].canonical_url not in first and "The 2 oldest of 3 are shown." in first
    assert "Few Hosting" in second and "https://one.few.example.net/" in second
    assert f"{reverse('contacts-queue')}?page=2" in first


def test_confirming_a_registry_mailbox_is_allowed_with_a_warning(client, senior, low_provider):
    waiting_case("https://x.lowly.example.com/", low_provider)

    response = client.post(
        reverse("contacts-confirm", args=[low_provider.pk]), {"emails": "hostmaster@nic.ad.jp"}, follow=True
    )

    page = response.content.decode()
    assert "1 case released" in page
    assert "hostmaster@nic.ad.jp belongs to an internet registry" in page


def test_confirming_a_provider_that_does_not_exist_is_404(client, senior):
    assert client.post(reverse("contacts-confirm", args=[999]), {"emails": "a@b.example"}).status_code == 404


def test_the_confirmation_only_takes_posts(client, senior, low_provider):
    assert client.get(reverse("contacts-confirm", args=[low_provider.pk])).status_code == 405


# Permissions -------------------------------------------------------------------------------------


def _pages(rule: DomainRule, provider: Provider) -> list[tuple[str, str, dict[str, str]]]:
    return [
        ("get", reverse("contacts-queue"), {}),
        ("post", reverse("contacts-confirm", args=[provider.pk]), {"emails": "abuse@lowly.example"}),
        ("get", reverse("rules-list"), {}),
        ("get", reverse("rules-new"), {}),
        ("post", reverse("rules-new"), {"suffix": "new.example.com"}),
        ("get", reverse("rules-edit", args=[rule.pk]), {}),
        ("post", reverse("rules-edit", args=[rule.pk]), {"suffix": "changed.example.com"}),
        ("get", reverse("rules-delete", args=[rule.pk]), {}),
        ("post", reverse("rules-delete", args=[rule.pk]), {}),
    ]


def test_analysts_get_403_on_every_page_and_change_nothing(client, analyst, low_provider):
    rule = DomainRule.objects.create(suffix="kept.example.com")

    for method, url, data in _pages(rule, low_provider):
        assert getattr(client, method)(url, data).status_code == 403, (method, url)

    assert list(DomainRule.objects.values_list("suffix", flat=True)) == ["kept.example.com"]
    low_provider.refresh_from_db()
    assert not low_provider.verified


def test_anonymous_visitors_are_sent_to_the_login(client, low_provider):
    rule = DomainRule.objects.create(suffix="kept.example.com")

    for method, url, data in _pages(rule, low_provider):
        response = getattr(client, method)(url, data)
        assert response.status_code == 302 and response["Location"].startswith("/login/?next="), (method, url)

    assert DomainRule.objects.get().suffix == "kept.example.com"


@pytest.mark.parametrize("role", ["senior", "admin"])
def test_senior_analysts_and_administrators_may_open_every_page(client, low_provider, role):
    staff_login(client, staff_user("boss", role))
    rule = DomainRule.objects.create(suffix="kept.example.com")
    waiting_case("https://x.lowly.example.com/", low_provider)

    for method, url, _data in _pages(rule, low_provider):
        if method == "get":
            assert client.get(url).status_code == 200, url
    response = client.post(reverse("contacts-confirm", args=[low_provider.pk]), {"emails": "abuse@lowly.example"})
    assert response.status_code == 302
    assert client.post(reverse("rules-new"), rule_data(suffix="new.example.com")).status_code == 302
    assert client.post(reverse("rules-delete", args=[rule.pk])).status_code == 302


# Domain rules ------------------------------------------------------------------------------------


def test_a_new_rule_is_saved_normalised_with_its_author_and_audited(client, senior, low_provider):
    response = client.post(
        reverse("rules-new"),
        rule_data(suffix="  .Shop.Example.COM. ", provider=low_provider.pk, origin_host=" Origin.Example.NET. "),
    )

    assert response.status_code == 302
    rule = DomainRule.objects.get()
    assert rule.suffix == "shop.example.com" and rule.origin_host == "origin.example.net"
    assert rule.provider == low_provider and rule.created_by == senior
    entry = AuditEntry.objects.get(action="rule_changed", actor=senior)
    assert entry.object_id == str(rule.pk)
    assert entry.data["before"] is None and entry.data["after"]["suffix"] == "shop.example.com"
    assert "Created the rule for shop.example.com" in client.get(response["Location"]).content.decode()


def test_a_unicode_suffix_is_stored_as_the_ascii_form_reported_hosts_have(client, senior):
    case = awaiting_case("https://www.BÜCHER.example.com/x")

    assert client.post(reverse("rules-new"), rule_data(suffix="Bücher.Example.com")).status_code == 302

    rule = DomainRule.objects.get()
    assert rule.suffix == "xn--bcher-kva.example.com" and case.host.endswith("." + rule.suffix)
    listing = client.get(reverse("rules-list")).content.decode()
    assert "xn--bcher-kva.example.com" in listing and "bücher.example.com" in listing


@pytest.mark.parametrize(
    ("suffix", "message"),
    [
        ("https://example.com/", "not a URL"),
        ("example.com/path", "Enter a host name only"),
        ("example.com:8080", "Enter a host name only"),
        ("abuse@example.com", "Enter a host name only"),
        ("*.example.com", "leave out"),
        ("exa mple.com", "no spaces"),
        ("a..example.com", "empty label"),
        ("ex!ample.com", "not allowed in host names"),
        ("192.0.2.1", "IP address"),
        ("xn--zz.example.com", "not valid Punycode"),
        ("", "This field is required"),
    ],
)
def test_a_suffix_that_is_not_a_host_name_is_refused(client, senior, suffix, message):
    response = client.post(reverse("rules-new"), rule_data(suffix=suffix))

    assert response.status_code == 400
    page = response.content.decode()
    assert "The rule was not saved" in page and message in page
    assert not DomainRule.objects.exists()


def test_an_origin_that_is_not_a_host_is_refused(client, senior):
    response = client.post(reverse("rules-new"), rule_data(origin_host="http://origin.example.net/"))

    assert response.status_code == 400
    assert "no scheme, path or spaces" in response.content.decode()


def test_a_suffix_is_unique(client, senior):
    DomainRule.objects.create(suffix="shop.example.com")

    response = client.post(reverse("rules-new"), rule_data(suffix="SHOP.example.com."))

    assert response.status_code == 400 and "already exists" in response.content.decode()


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        # Auto-accept needs a complete verdict: for illegal, the category (and media) too.
        (
            {"suggest_verdict": "illegal", "suggest_legal_basis": "baseline", "auto_accept": "on"},
            "required for this verdict",
        ),
        ({"auto_accept": "on"}, "a rule can only auto-accept a verdict it suggests"),
        ({"suggest_category": "A1"}, "choose the verdict these fields belong to"),
        ({"suggest_not_illegal_reason": "adult"}, "choose the verdict these fields belong to"),
        ({"suggest_verdict": "not_illegal", "suggest_category": "A1"}, "only for a verdict of illegal"),
    ],
)
def test_an_incomplete_or_contradictory_suggestion_is_refused(client, senior, changes, field_error):
    response = client.post(reverse("rules-new"), rule_data(**changes))

    assert response.status_code == 400
    assert field_error in response.content.decode()
    assert not DomainRule.objects.exists()


def test_a_rule_may_auto_accept_a_complete_verdict(client, senior):
    complete = {
        "suggest_verdict": "illegal",
        "suggest_legal_basis": "baseline",
        "suggest_category": "A1",
        "suggest_media_type": "image",
        "auto_accept": "on",
    }

    assert client.post(reverse("rules-new"), rule_data(**complete)).status_code == 302

    rule = DomainRule.objects.get()
    assert rule.auto_accept and rule.suggestion() == {
        "verdict": "illegal",
        "legal_basis": "baseline",
        "category": "A1",
        "media_type": "image",
    }


def test_the_new_rule_form_starts_with_the_suffix_from_the_queue(client, senior):
    page = client.get(reverse("rules-new"), {"suffix": "Orphan.Example.org"}).content.decode()

    assert 'value="orphan.example.org"' in page


def test_editing_a_rule_keeps_its_author_and_audits_what_changed(client, senior, low_provider):
    author = staff_user("ada", "senior")
    rule = DomainRule.objects.create(suffix="shop.example.com", notes="old", created_by=author)

    page = client.get(reverse("rules-edit", args=[rule.pk])).content.decode()
    assert 'value="shop.example.com"' in page and "by ada" in page
    response = client.post(
        reverse("rules-edit", args=[rule.pk]), rule_data(provider=low_provider.pk, notes="moved to Lowly")
    )

    assert response.status_code == 302
    rule.refresh_from_db()
    assert rule.provider == low_provider and rule.notes == "moved to Lowly" and rule.created_by == author
    entry = AuditEntry.objects.get(action="rule_changed", actor=senior)
    assert entry.object_id == str(rule.pk)
    assert {k: entry.data[k] for k in ("before", "after")} == {
        "before": {"notes": "old", "provider": None},
        "after": {"notes": "moved to Lowly", "provider": low_provider.pk},
    }


def test_an_invalid_edit_changes_nothing(client, senior):
    rule = DomainRule.objects.create(suffix="shop.example.com")

    response = client.post(reverse("rules-edit", args=[rule.pk]), rule_data(suffix="http://shop.example.com"))

    assert response.status_code == 400
    rule.refresh_from_db()
    assert rule.suffix == "shop.example.com"


def test_an_unknown_rule_is_404(client, senior):
    assert client.get(reverse("rules-edit", args=[999])).status_code == 404
    assert client.post(reverse("rules-delete", args=[999])).status_code == 404


def test_deleting_asks_first_then_deletes_and_audits(client, senior, low_provider):
    rule = DomainRule.objects.create(suffix="shop.example.com", provider=low_provider)

    confirm = client.get(reverse("rules-delete", args=[rule.pk]))
    assert (
        confirm.status_code == 200 and "Delete the rule for <code>shop.example.com</code>?" in confirm.content.decode()
    )
    assert DomainRule.objects.filter(pk=rule.pk).exists()

    response = client.post(reverse("rules-delete", args=[rule.pk]))

    assert response.status_code == 302 and response["Location"] == reverse("rules-list")
    assert not DomainRule.objects.exists()
    assert Provider.objects.filter(pk=low_provider.pk).exists()
    entry = AuditEntry.objects.get(action="rule_changed", actor=senior)
    assert entry.object_id == str(rule.pk) and entry.data["after"] is None
    assert entry.data["before"]["suffix"] == "shop.example.com"
    assert "Deleted the rule for shop.example.com" in client.get(response["Location"]).content.decode()


def test_a_rule_that_cannot_be_deleted_gives_a_message_not_an_error_page(client, senior, monkeypatch):
    rule = DomainRule.objects.create(suffix="shop.example.com")

    # Nothing refers to a rule with PROTECT today; this stands in for a future reference.
    def protected(self, *args, **kwargs):
        raise ProtectedError("referenced", set())

    monkeypatch.setattr(DomainRule, "delete", protected)
    response = client.post(reverse("rules-delete", args=[rule.pk]), follow=True)

    assert response.status_code == 200
    assert "could not be deleted" in response.content.decode()
    assert DomainRule.objects.filter(pk=rule.pk).exists()


def test_the_rules_can_be_searched_by_suffix(client, senior):
    for suffix in ["shop.example.com", "cdn.example.net", "xn--bcher-kva.example.org"]:
        DomainRule.objects.create(suffix=suffix)

    def found(q: str) -> list[str]:
        page = client.get(reverse("rules-list"), {"q": q}).content.decode()
        return [s for s in ["shop.example.com", "cdn.example.net", "xn--bcher-kva.example.org"] if s in page]

    assert found("") == ["shop.example.com", "cdn.example.net", "xn--bcher-kva.example.org"]
    assert found("example.net") == ["cdn.example.net"]
    assert found("SHOP") == ["shop.example.com"]
    assert found("Bücher") == ["xn--bcher-kva.example.org"]
    assert found("nothing-like-it") == []


# What routing reads ------------------------------------------------------------------------------


def test_resolution_and_suggestions_follow_rule_changes_at_once(client, senior, fake_dns, recorded_registry):
    """Rules are read afresh for every batch (`RuleIndex`) and every suggestion lookup: a change
    made on these pages is what the next resolution uses, with no cache to go stale."""
    fake_dns.add("www.shop.example.com", "A", "74.125.225.229")
    forced = Provider.objects.create(name="Forced", abuse_emails=["forced@example.net"], country="NL")
    query = [HostQuery("www.shop.example.com", registered_domain="example.com")]
    assert not hosts_resolve(query)["www.shop.example.com"].match.rule.startswith("domain:")
    case = awaiting_case("https://www.shop.example.com/x")

    client.post(
        reverse("rules-new"),
        rule_data(provider=forced.pk, suggest_verdict="not_illegal", suggest_not_illegal_reason="adult"),
    )
    rule = DomainRule.objects.get()
    resolution = hosts_resolve(query)["www.shop.example.com"]
    assert resolution.provider == forced and resolution.match.rule == "domain:shop.example.com"
    assert [s.fields for s in suggestions_for([case])[case.pk]] == [
        {"verdict": "not_illegal", "not_illegal_reason": "adult"}
    ]

    client.post(reverse("rules-edit", args=[rule.pk]), rule_data(suffix="example.com", provider=forced.pk))
    assert hosts_resolve(query)["www.shop.example.com"].match.rule == "domain:example.com"
    assert suggestions_for([case])[case.pk] == []

    client.post(reverse("rules-delete", args=[rule.pk]))
    assert not hosts_resolve(query)["www.shop.example.com"].match.rule.startswith("domain:")


def test_a_new_rule_reaches_open_cases_under_it_at_once(
    client, senior, django_capture_on_commit_callbacks, monkeypatch, fake_dns, recorded_registry
):
    """Saving a rule makes the resolution of the open cases under it due and queues it (the queued
    task runs in this process here): an auto-accepting rule assesses a case already in the queue."""
    from reports.models import Assessment, AssessmentSource, CaseState
    from routing.tasks import resolve_cases

    sent: list[list[int]] = []

    def run_here(ids: list[int]) -> None:
        sent.append(ids)
        resolve_cases.run(ids)

    monkeypatch.setattr(resolve_cases, "delay", run_here)
    fake_dns.add("img.example.com", "A", "62.239.237.1")
    under = factories.awaiting_case("https://img.example.com/a")
    other = factories.awaiting_case("https://example.net/b")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        response = client.post(
            "/rules/new/",
            {
                "suffix": "example.com",
                "suggest_verdict": "illegal",
                "suggest_legal_basis": "baseline",
                "suggest_category": "A2",
                "suggest_media_type": "image",
                "auto_accept": "on",
                "notes": "",
            },
        )
    assert response.status_code == 302 and callbacks
    assert sent == [[under.pk]]
    under.refresh_from_db()
    other.refresh_from_db()
    assert under.state == CaseState.ILLEGAL
    assert Assessment.objects.get(case=under).source == AssessmentSource.AUTOMATIC
    assert other.state == CaseState.AWAITING_ASSESSMENT and other.resolve_due_at is None


def test_the_queue_says_why_in_words_and_names_each_handle_once(client, senior, fake_dns, recorded_registry):
    # AFRINIC's record of this network: no roles, the organisation is its own abuse contact.
    fake_dns.add("ke.example.net", "AAAA", "2001:43f8:7b0::")
    provider = hosts_resolve([HostQuery("ke.example.net", registered_domain="example.net")])["ke.example.net"].provider
    assert provider is not None
    waiting_case("https://ke.example.net/x", provider)

    page = client.get(reverse("contacts-queue")).content.decode()

    assert "<dt>RDAP handles</dt><dd><code>ORG-TA38-AFRINIC</code></dd>" in page
    assert "the record names no roles: the first group, organisation or person with an address" in page
    assert "no_roles" not in page


def test_handles_stored_twice_are_shown_once_and_rule_codes_never(client, senior, low_provider):
    Provider.objects.filter(pk=low_provider.pk).update(
        rdap_handles=["LOWLY-AP", "LOWLY-AP"], abuse_rule="tech_admin", asns=[64500, 64500]
    )
    waiting_case("https://a.lowly.example.com/one", low_provider)

    page = client.get(reverse("contacts-queue")).content.decode()

    assert "<dd><code>LOWLY-AP</code></dd>" in page and "<dd>AS64500</dd>" in page
    assert "no abuse contact: the technical or administrative contact" in page and "tech_admin" not in page
