"""The interface in English and Dutch: the Dutch catalogue is complete and up to date with the
source, and each staff member reads the pages in the language they chose (the browser's
otherwise)."""

from __future__ import annotations

import shutil
from datetime import datetime
from pathlib import Path

import polib  # type: ignore[import-untyped]  # no type information
import pytest
from django.core.management import call_command
from django.template import Context, Template
from django.test import Client
from django.urls import reverse
from django.utils import translation

from accounts.models import StaffProfile
from scart.catalogue import LOCALE_DIR, SOURCE_DIRS, catalogue_compile
from tests import factories
from tests.conftest import staff_login

DUTCH = LOCALE_DIR / "nl" / "LC_MESSAGES" / "django.po"


def _msgids(catalogue: polib.POFile) -> set[tuple[str, str, str]]:
    return {(e.msgctxt or "", e.msgid, e.msgid_plural or "") for e in catalogue if not e.obsolete}


def test_every_string_of_the_dutch_catalogue_is_translated():
    catalogue = polib.pofile(str(DUTCH))
    untranslated = [e.msgid for e in catalogue.untranslated_entries()]
    fuzzy = [e.msgid for e in catalogue.fuzzy_entries()]
    assert len(catalogue) > 900
    assert untranslated == [], f"not translated into Dutch: {untranslated[:20]}"
    assert fuzzy == [], f"fuzzy (to be checked, left out of the compiled catalogue): {fuzzy[:20]}"
    assert not catalogue.metadata_is_fuzzy
    assert catalogue.metadata["Plural-Forms"] == "nplurals=2; plural=(n != 1);"


# makemessages drives GNU gettext's xgettext; a machine without it can still run and compile the
# catalogue (scart.catalogue), it only cannot check it against the source.
@pytest.mark.skipif(shutil.which("xgettext") is None, reason="GNU gettext's xgettext is not installed")
def test_the_dutch_catalogue_holds_every_string_of_the_source_and_no_other(tmp_path, monkeypatch, settings):
    # makemessages writes a fresh catalogue for the sources it finds under the current directory:
    # here the product's own directories (linked), not the tests', devnet's or the virtualenv's.
    for name in SOURCE_DIRS:
        (tmp_path / name).symlink_to(Path(LOCALE_DIR.parent / name), target_is_directory=True)
    (tmp_path / "locale").mkdir()
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["nl"], symlinks=True, no_location=True, verbosity=0)
    fresh = polib.pofile(str(tmp_path / "locale" / "nl" / "LC_MESSAGES" / "django.po"))
    kept = polib.pofile(str(DUTCH))
    missing = _msgids(fresh) - _msgids(kept)
    stale = _msgids(kept) - _msgids(fresh)
    assert not missing, f"run `make messages` and translate: {sorted(missing)[:20]}"
    assert not stale, f"run `make messages`: no longer in the source: {sorted(stale)[:20]}"


def test_the_compiled_catalogue_leaves_fuzzy_entries_out(tmp_path):
    po_path = tmp_path / "nl" / "LC_MESSAGES" / "django.po"
    po_path.parent.mkdir(parents=True)
    catalogue = polib.POFile()
    catalogue.metadata = {"Content-Type": "text/plain; charset=UTF-8", "Language": "nl"}
    catalogue.append(polib.POEntry(msgid="Queue", msgstr="Wachtrij"))
    catalogue.append(polib.POEntry(msgid="Case", msgstr="Zaak", flags=["fuzzy"]))
    catalogue.save(str(po_path))
    assert catalogue_compile(locale_dir=tmp_path) == [po_path.with_suffix(".mo")]
    compiled = {e.msgid: e.msgstr for e in polib.mofile(str(po_path.with_suffix(".mo")))}
    assert compiled.get("Queue") == "Wachtrij"
    assert "Case" not in compiled
    assert catalogue_compile(locale_dir=tmp_path) == []  # up to date: not compiled again


def _speaking(username: str, language: str) -> tuple[Client, object]:
    user = factories.staff_user(username, "analyst")
    StaffProfile.objects.update_or_create(user=user, defaults={"language": language})
    return staff_login(Client(), user), user


@pytest.mark.django_db
def test_a_dutch_analyst_reads_the_queue_and_the_case_page_in_dutch():
    case = factories.awaiting_case("https://a.example.com/1")
    client, _user = _speaking("anke", "nl")
    queue = client.get(reverse("workspace-queue")).content.decode()
    assert '<html lang="nl">' in queue
    assert "Triagewachtrij" in queue and "Beginnen met beoordelen" in queue
    assert "Triage queue" not in queue and "Start assessing" not in queue
    page = client.get(reverse("workspace-case", args=[case.pk])).content.decode()
    assert f"Zaak {case.pk}" in page and "Beoordeling" in page and "Terug naar de wachtrij" in page
    assert "Back to the queue" not in page
    assert "Wacht op beoordeling" in page  # a choice label: the case's state


@pytest.mark.django_db
def test_an_english_analyst_reads_english_whatever_the_browser_asks():
    case = factories.awaiting_case("https://a.example.com/1")
    client, _user = _speaking("emma", "en")
    queue = client.get(reverse("workspace-queue"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert '<html lang="en">' in queue and "Triage queue" in queue and "Triagewachtrij" not in queue
    page = client.get(reverse("workspace-case", args=[case.pk]), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Back to the queue" in page and "Awaiting assessment" in page


@pytest.mark.django_db
def test_without_a_choice_the_browser_language_applies():
    user = factories.staff_user("bram", "analyst")
    client = staff_login(Client(), user)
    assert "Triagewachtrij" in client.get(reverse("workspace-queue"), HTTP_ACCEPT_LANGUAGE="nl").content.decode()
    assert "Triage queue" in client.get(reverse("workspace-queue"), HTTP_ACCEPT_LANGUAGE="de").content.decode()


@pytest.mark.django_db
def test_the_login_page_follows_the_browser_and_the_language_switch(client):
    assert "Gebruikersnaam" in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="nl-NL,nl;q=0.9").content.decode()
    assert "User name" in client.get(reverse("login"), HTTP_ACCEPT_LANGUAGE="en-GB").content.decode()
    switched = client.post(reverse("set_language"), {"language": "nl", "next": reverse("report-form")})
    assert switched.status_code == 302 and switched["Location"] == reverse("report-form")
    form = client.get(reverse("report-form"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Melding versturen" in form and "Send report" not in form


@pytest.mark.django_db
def test_a_staff_member_chooses_the_language_on_the_settings_page():
    user = factories.staff_user("carla", "analyst")
    client = staff_login(Client(), user)
    page = client.get(reverse("account-settings"))
    assert page.status_code == 200 and b"Language of the workspace" in page.content
    saved = client.post(reverse("account-settings"), {"language": "nl"}, follow=True)
    assert "Je instellingen zijn opgeslagen." in saved.content.decode()
    assert StaffProfile.objects.get(user=user).language == "nl"
    assert "Triagewachtrij" in client.get(reverse("workspace-queue"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    client.post(reverse("account-settings"), {"language": ""})
    assert "Triage queue" in client.get(reverse("workspace-queue"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert client.post(reverse("account-settings"), {"language": "xx"}).status_code == 200  # refused, shown again
    assert StaffProfile.objects.get(user=user).language == ""


def test_dates_and_numbers_follow_the_language():
    moment = datetime(2026, 11, 21, 15, 53)
    template = Template('{{ m|date:"SHORT_DATETIME_FORMAT" }} {{ m|date:"j F Y" }} {{ n|floatformat:1 }}')
    with translation.override("nl"):
        assert template.render(Context({"m": moment, "n": 2.5})) == "21-11-2026 15:53 21 november 2026 2,5"
    with translation.override("en"):
        assert template.render(Context({"m": moment, "n": 2.5})) == "2026-11-21 15:53 21 November 2026 2.5"


@pytest.mark.django_db
def test_a_dutch_reporter_reads_why_an_address_was_refused_in_dutch(client):
    page = client.post(
        reverse("report-form"), {"urls": "ftp://example.com/a\nhttp://localhost/b"}, HTTP_ACCEPT_LANGUAGE="nl"
    ).content.decode()
    assert "Geen van deze adressen kan worden aangenomen" in page
    assert "schema &#x27;ftp&#x27; is niet toegestaan; alleen http en https" in page
    assert "is de lokale machine, geen publieke host" in page
