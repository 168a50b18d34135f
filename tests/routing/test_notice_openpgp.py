"""Signed and encrypted notices (PGP/MIME, RFC 3156), checked by an independent implementation:
GnuPG's ``gpg``, in a keyring of its own, verifies the signature over the bytes the local mail
server received and decrypts with a recipient key it generated itself. scart signs and encrypts
with Sequoia; nothing here uses Sequoia to check what Sequoia made.

Without ``gpg`` these tests fail (they do not skip): install GnuPG (``apt-get install gnupg``).
"""

from __future__ import annotations

import email
import email.policy
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.core import mail
from django.core.management import CommandError, call_command
from django.db import connection
from django.utils import timezone

from accounts.models import AuditAction, AuditEntry
from devnet.smtp import FakeSMTP
from reports.assessment import Classification, case_assess
from routing.models import Notice, NoticeState, PartnerHotline, Provider, SigningKey
from routing.notices.openpgp import message_seal, signing_key_generate
from routing.notices.planning import cases_plan_notices
from routing.notices.preview import message_preview, notice_preview
from routing.notices.sending import notices_send_due
from routing.notices.signing_keys import SigningKeyMissing
from tests import factories

pytestmark = pytest.mark.django_db

ILLEGAL: dict[str, Any] = {"verdict": "illegal", "legal_basis": "baseline", "category": "A1", "media_type": "image"}
GPG = shutil.which("gpg")
# No prompts, no terminal, gpg's machine-readable status lines on stderr.
GPG_OPTIONS = ("--batch", "--no-tty", "--pinentry-mode", "loopback", "--status-fd", "2")


@dataclass
class Gpg:
    """GnuPG in a home directory of its own (no agent or keyring of the machine's user)."""

    home: str

    def run(self, *args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
        assert GPG is not None
        return subprocess.run(
            [GPG, "--homedir", self.home, *GPG_OPTIONS, *args],
            input=data,
            capture_output=True,
            timeout=60,
            check=False,
        )

    def import_key(self, text: str) -> None:
        result = self.run("--import", data=text.encode())
        assert result.returncode == 0, result.stderr.decode(errors="replace")

    def generate(self, user_id: str, expire: str = "1y") -> str:
        """A new key (Ed25519 signing, Curve25519 encryption) without a passphrase; its fingerprint."""
        made = self.run("--passphrase", "", "--quick-gen-key", user_id, "ed25519", "sign,cert", expire)
        assert made.returncode == 0, made.stderr.decode(errors="replace")
        fingerprint = re.search(rb"KEY_CREATED \w+ ([0-9A-F]{40})", made.stderr)
        assert fingerprint is not None
        fpr = fingerprint.group(1).decode()
        sub = self.run("--passphrase", "", "--quick-add-key", fpr, "cv25519", "encr", expire)
        assert sub.returncode == 0, sub.stderr.decode(errors="replace")
        return fpr

    def export(self, fingerprint: str, *, secret: bool = False) -> str:
        what = "--export-secret-keys" if secret else "--export"
        return self.run("--passphrase", "", "--armor", what, fingerprint).stdout.decode()

    def verify(self, signature: bytes, signed: bytes) -> str:
        """gpg's status lines for the detached ``signature`` over ``signed``."""
        with tempfile.TemporaryDirectory(dir=self.home) as work:
            (Path(work) / "sig.asc").write_bytes(signature)
            (Path(work) / "data").write_bytes(signed)
            return self.run("--verify", f"{work}/sig.asc", f"{work}/data").stderr.decode(errors="replace")

    def decrypt(self, ciphertext: bytes) -> bytes:
        result = self.run("--decrypt", data=ciphertext)
        assert result.returncode == 0, result.stderr.decode(errors="replace")
        return result.stdout


@pytest.fixture
def gpg() -> Iterator[Gpg]:
    if GPG is None:
        pytest.fail(
            "gpg (GnuPG) is not installed: these tests check scart's signatures with an independent OpenPGP "
            "implementation. Install it with `apt-get install gnupg`."
        )
    # Short: gpg-agent's socket lives in the home directory and its path must fit in 108 bytes.
    home = tempfile.mkdtemp(prefix="gpg-")
    os.chmod(home, 0o700)
    yield Gpg(home)
    subprocess.run(["gpgconf", "--homedir", home, "--kill", "all"], capture_output=True, check=False)
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture
def smtp(settings) -> Iterator[FakeSMTP]:
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST, settings.EMAIL_PORT = server.host, server.port
        settings.SCART_HOTLINE_COUNTRY = "NL"
        settings.SCART_HOTLINE_NAME = "Test Hotline"
        settings.SCART_NOTICE_REPLY_TO = "notices@hotline.example"
        settings.SCART_NOTICE_WORKING_HOURS = ""
        settings.SCART_NOTICE_SIGN = True
        yield server


@pytest.fixture
def hotline_key(client, gpg) -> str:
    """The hotline's key, made as an operator makes it, and its public half as a provider gets it:
    from /openpgp-key.asc, into gpg's keyring. Its fingerprint."""
    call_command("pgp_key", "--generate", stdout=open(os.devnull, "w"))  # noqa: SIM115
    published = client.get("/openpgp-key.asc")
    assert published.status_code == 200 and published["Content-Type"] == "application/pgp-keys"
    gpg.import_key(published.content.decode())
    return SigningKey.objects.get(active=True).fingerprint


def notice_to(name: str, email_address: str, url: str, **provider_fields: Any) -> Notice:
    host = Provider.objects.create(name=name, abuse_emails=[email_address], **provider_fields)
    case = factories.awaiting_case(url, hosting_country="NL", provider=host)
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    cases_plan_notices(case_ids=[case.pk])
    return Notice.objects.get(provider=host)


def send_all() -> Any:
    return notices_send_due(flush=True, reresolve=False)


def crlf(raw: bytes) -> bytes:
    """Line ends as RFC 3156 verifies them (a mail store may have kept LF)."""
    return re.sub(rb"(?<!\r)\n", b"\r\n", raw)


def signed_part(raw: bytes) -> tuple[bytes, bytes]:
    """The first part of a ``multipart/signed`` message as the bytes between its delimiters (the
    CRLF before a delimiter belongs to the delimiter), and the signature of the second part."""
    raw = crlf(raw)
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message.get_content_type() == "multipart/signed"
    boundary = message.get_boundary()
    assert boundary is not None
    body = raw.split(b"\r\n\r\n", 1)[1]
    opening = b"--" + boundary.encode() + b"\r\n"
    start = body.index(opening) + len(opening)
    end = body.index(b"\r\n--" + boundary.encode(), start)
    signature = list(message.iter_parts())[1]
    assert signature.get_content_type() == "application/pgp-signature"
    payload = signature.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return body[start:end], payload


def text_of(signed: bytes) -> str:
    """The notice's text in a signed part, as a mail client shows it."""
    body = email.message_from_bytes(signed, policy=email.policy.default).get_body(preferencelist=("plain",))
    assert body is not None
    return str(body.get_content()).replace("\r\n", "\n")


def good_signature(status: str, fingerprint: str) -> bool:
    valid = re.search(r"\[GNUPG:\] VALIDSIG \S+ .* ([0-9A-F]{40})$", status, flags=re.MULTILINE)
    return "[GNUPG:] GOODSIG" in status and valid is not None and valid.group(1) == fingerprint


# gpg's numbers for hashes (RFC 4880 9.4), against the names micalg uses.
HASHES = {"8": "pgp-sha256", "9": "pgp-sha384", "10": "pgp-sha512", "11": "pgp-sha224"}


def test_a_signed_notice_verifies_with_gpg_over_the_bytes_the_mail_server_received(smtp, gpg, hotline_key):
    notice = notice_to("Host", "abuse@host.example", "https://example.com/signed?a=1")
    assert send_all().sent == 1
    received = smtp.wait_for(1)[0]
    message = received.message
    assert message.get_content_type() == "multipart/signed"
    assert message.get_param("protocol") == "application/pgp-signature"
    # The headers mail systems and ticket intake read stay outside the signature.
    assert message["X-Scart-Reference"] == notice.reference and message["Subject"].startswith(f"[{notice.reference}]")

    signed, signature = signed_part(received.raw)
    status = gpg.verify(signature, signed)
    assert good_signature(status, hotline_key), status
    algorithm = re.search(r"VALIDSIG \S+ \S+ \S+ \S+ \S+ \S+ \S+ (\d+) ", status)
    assert algorithm is not None and message.get_param("micalg") == HASHES[algorithm.group(1)]

    # What was signed is the whole notice: its text, the CSV and the X-ARF reports, all 7-bit.
    assert "https://example.com/signed?a=1" in text_of(signed)
    content = email.message_from_bytes(signed, policy=email.policy.default)
    names = sorted(str(part.get_filename()) for part in content.iter_attachments())
    assert names == [f"{notice.reference}-001.xarf.json", f"{notice.reference}.csv"]
    assert all(byte < 128 for byte in signed)
    # The notice page shows the message the mail server received as it shows an unsigned one.
    shown = message_preview(message)
    assert "https://example.com/signed?a=1" in shown.body and len(shown.attachments) == 2
    # Any change to those bytes fails the check.
    tampered = signed.replace(b"example.com/signed", b"example.com/signeD", 1)
    assert not good_signature(gpg.verify(signature, tampered), hotline_key)


def test_each_message_of_the_one_report_per_message_channel_is_signed(smtp, gpg, hotline_key):
    notice = notice_to(
        "Host", "abuse@host.example", "https://example.com/one-report", delivery_channel="xarf_per_message"
    )
    assert notice.channel == "xarf_per_message"
    assert send_all().sent == 1
    received = smtp.wait_for(1)[0]
    assert received.message.get_content_type() == "multipart/signed"
    signed, signature = signed_part(received.raw)
    assert good_signature(gpg.verify(signature, signed), hotline_key)
    inner = email.message_from_bytes(signed, policy=email.policy.default)
    assert inner.get_content_type() == "multipart/report" and inner.get_param("report-type") == "feedback-report"
    assert "https://example.com/one-report" in text_of(signed)


def test_a_notice_to_a_provider_with_a_key_is_encrypted_and_gpg_decrypts_and_verifies_it(smtp, gpg, hotline_key):
    provider_fpr = gpg.generate("Key Host Abuse <abuse@keyhost.example>")
    notice = notice_to(
        "Key Host", "abuse@keyhost.example", "https://example.org/secret-path", openpgp_key=gpg.export(provider_fpr)
    )
    assert send_all().sent == 1
    received = smtp.wait_for(1)[0]
    message = received.message
    assert message.get_content_type() == "multipart/encrypted"
    assert message.get_param("protocol") == "application/pgp-encrypted"
    control, data = message.get_payload()
    assert control.get_content_type() == "application/pgp-encrypted"
    assert control.get_payload(decode=True).strip() == b"Version: 1"
    assert b"secret-path" not in received.raw and message["X-Scart-Reference"] == notice.reference

    assert data.get_content_type() == "application/octet-stream"
    plaintext = gpg.decrypt(data.get_payload(decode=True))
    # Signed, then encrypted: inside is the signed notice, and its signature holds.
    signed, signature = signed_part(plaintext)
    assert good_signature(gpg.verify(signature, signed), hotline_key)
    assert "https://example.org/secret-path" in text_of(signed)


def test_an_expired_recipient_key_leaves_the_notice_signed_but_not_encrypted(smtp, gpg, hotline_key):
    provider_fpr = gpg.generate("Old Host <abuse@old.example>", expire="1d")
    notice_to("Old Host", "abuse@old.example", "https://example.net/late", openpgp_key=gpg.export(provider_fpr))
    with time_machine.travel(timezone.now() + timedelta(days=2)):
        assert send_all().sent == 1
    received = smtp.wait_for(1)[0]
    assert received.message.get_content_type() == "multipart/signed"
    assert good_signature(gpg.verify(*reversed(signed_part(received.raw))), hotline_key)


def test_a_key_imported_from_gpg_signs_and_gpg_checks_it(smtp, gpg):
    fingerprint = gpg.generate("Test Hotline <notices@hotline.example>")
    exported = Path(gpg.home) / "hotline-secret.asc"
    exported.write_text(gpg.export(fingerprint, secret=True))
    call_command("pgp_key", "--import", str(exported), stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert SigningKey.objects.get(active=True).fingerprint == fingerprint
    notice_to("Host", "abuse@host.example", "https://example.com/imported")
    send_all()
    signed, signature = signed_part(smtp.wait_for(1)[0].raw)
    assert good_signature(gpg.verify(signature, signed), fingerprint)


def test_text_that_mail_servers_change_is_encoded_so_the_signature_survives(gpg):
    key = signing_key_generate("Hotline <h@hotline.example>", valid_for=None)
    gpg.import_key(str(key.extract_certificate()))
    body = "From the hotline: trailing blanks   \nZürich\tand tabs\t\n.\nlast line"
    original = mail.EmailMessage(
        subject="Notificatie: Zürich", body=body, from_email="Meldpunt Ü <h@hotline.example>", to=["a@b.example"]
    )
    original.attach("list.csv", "url\r\nhttps://example.com/ä\r\n", "text/csv")
    raw = message_seal(original, sign_key=key).message().as_bytes(linesep="\r\n")  # type: ignore[call-arg]
    signed, signature = signed_part(raw)
    assert good_signature(gpg.verify(signature, signed), str(key.extract_certificate().fingerprint).upper())
    assert b"\nFrom " not in signed and all(byte < 128 for byte in signed)
    assert text_of(signed) == body
    headers = email.message_from_bytes(raw, policy=email.policy.default)
    assert headers["Subject"] == "Notificatie: Zürich" and headers["From"].addresses[0].display_name == "Meldpunt Ü"


def test_with_signing_on_and_no_key_nothing_goes_out_unsigned(smtp):
    notice = notice_to("Host", "abuse@host.example", "https://example.com/waits")
    with pytest.raises(SigningKeyMissing, match="pgp_key --generate"):
        send_all()
    notice.refresh_from_db()
    assert notice.state == NoticeState.QUEUED and smtp.messages == []
    # The notice page's preview shows what would be signed.
    assert "https://example.com/waits" in notice_preview(notice).body


def test_the_private_key_is_sealed_at_rest_and_never_shown(admin_client):
    assert admin_client.get("/openpgp-key.asc").status_code == 404
    response = admin_client.post(
        "/admin/routing/signingkey/add/", {"generate_for": "Test Hotline <notices@hotline.example>", "valid_days": 30}
    )
    assert response.status_code == 302
    key = SigningKey.objects.get()
    assert key.active and key.expires_at is not None and "PRIVATE KEY" in key.secret_key
    with connection.cursor() as cursor:
        cursor.execute("SELECT secret_key FROM routing_signingkey")
        stored = cursor.fetchone()[0]
    assert stored.startswith("sealed:") and "PRIVATE" not in stored
    page = admin_client.get(f"/admin/routing/signingkey/{key.pk}/change/").content.decode()
    assert key.fingerprint in page and "PUBLIC KEY BLOCK" in page and "PRIVATE KEY" not in page
    published = admin_client.get("/openpgp-key.asc").content.decode()
    assert "PUBLIC KEY BLOCK" in published and "PRIVATE" not in published


def test_a_second_key_takes_over_signing_and_the_first_stays_published(client):
    call_command("pgp_key", "--generate", stdout=open(os.devnull, "w"))  # noqa: SIM115
    first = SigningKey.objects.get()
    call_command("pgp_key", "--generate", "--user-id", "New <new@hotline.example>", stdout=open(os.devnull, "w"))  # noqa: SIM115
    assert SigningKey.objects.get(active=True).user_id == "New <new@hotline.example>"
    assert client.get("/openpgp-key.asc").content.decode().count("BEGIN PGP PUBLIC KEY BLOCK") == 2
    assert SigningKey.objects.filter(pk=first.pk, active=False).exists()


def test_a_public_key_is_no_signing_key(gpg, tmp_path):
    public = tmp_path / "public.asc"
    public.write_text(gpg.export(gpg.generate("Someone <s@example.org>")))
    with pytest.raises(CommandError, match="public key"):
        call_command("pgp_key", "--import", str(public))
    assert not SigningKey.objects.exists()


def provider_form(**changes: str) -> dict[str, str]:
    data = {
        "name": "Hoster",
        "country": "NL",
        "language": "en",
        "notes": "",
        "abuse_emails": '["abuse@hoster.example"]',
        "abuse_source": "manual",
        "confidence": "high",
        "escalation_email": "",
        "asns": "[]",
        "cidrs": "[]",
        "rdap_handles": "[]",
        "reminder_interval": "",
        "source": "manual",
        "delivery_channel": "batched_mail",
    }
    data.update(changes)
    return data


def test_a_providers_key_is_checked_and_its_fingerprint_shown(admin_client, gpg):
    fingerprint = gpg.generate("Hoster <abuse@hoster.example>")
    refused = admin_client.post(
        "/admin/routing/provider/add/", provider_form(openpgp_key=gpg.export(fingerprint, secret=True))
    )
    assert refused.status_code == 200 and "This is a private key" in refused.content.decode()
    garbage = admin_client.post("/admin/routing/provider/add/", provider_form(openpgp_key="not a key"))
    assert garbage.status_code == 200 and "Not an OpenPGP public key" in garbage.content.decode()
    assert (
        admin_client.post(
            "/admin/routing/provider/add/", provider_form(openpgp_key=gpg.export(fingerprint))
        ).status_code
        == 302
    )
    provider = Provider.objects.get(name="Hoster")
    page = admin_client.get(f"/admin/routing/provider/{provider.pk}/change/").content.decode()
    spaced = " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4))
    assert spaced in page and "valid until" in page


def test_a_partner_hotlines_key_set_in_the_admin_encrypts_its_referrals(admin_client, smtp, gpg, hotline_key):
    hotline = PartnerHotline.objects.get(country="DE")
    fingerprint = gpg.generate("Partner <referrals@partner.example>")
    form = {
        "country": "DE",
        "name": hotline.name,
        "email": "referrals@partner.example",
        "website": "",
        "language": "de",
        "active": "on",
        "direct_notice_after": "",
        "delivery_channel": "batched_mail",
        "notes": "",
        "openpgp_key": gpg.export(fingerprint),
    }
    assert admin_client.post(f"/admin/routing/partnerhotline/{hotline.pk}/change/", form).status_code == 302
    case = factories.awaiting_case("https://example.de/referred", hosting_country="DE")
    case_assess(case=case, user=None, classification=Classification(**ILLEGAL))
    cases_plan_notices(case_ids=[case.pk])
    assert Notice.objects.get().hotline_id == hotline.pk
    send_all()
    received = smtp.wait_for(1)[0]
    assert received.rcpt_tos == ["referrals@partner.example"]
    assert received.message.get_content_type() == "multipart/encrypted"
    signed, signature = signed_part(gpg.decrypt(received.message.get_payload()[1].get_payload(decode=True)))
    assert good_signature(gpg.verify(signature, signed), hotline_key) and b"example.de/referred" in signed


def test_the_providers_page_names_the_signing_key_and_links_its_public_key(client, smtp):
    call_command("pgp_key", "--generate", stdout=open(os.devnull, "w"))  # noqa: SIM115
    notice_to("Host", "abuse@host.example", "https://example.com/page")
    send_all()
    # A mail client shows the signed notice's text as it shows an unsigned one.
    link = re.search(r"https?://[^\s/]+(/n/[^\s/]+/)", smtp.wait_for(1)[0].text)
    assert link is not None
    page = client.get(link.group(1)).content.decode()
    fingerprint = SigningKey.objects.get().fingerprint
    assert " ".join(fingerprint[i : i + 4] for i in range(0, 40, 4)) in page and 'href="/openpgp-key.asc"' in page


def test_an_earlier_key_can_sign_again_and_the_signing_key_cannot_be_deleted(admin_client):
    call_command("pgp_key", "--generate", stdout=open(os.devnull, "w"))  # noqa: SIM115
    first = SigningKey.objects.get()
    call_command("pgp_key", "--generate", stdout=open(os.devnull, "w"))  # noqa: SIM115
    second = SigningKey.objects.get(active=True)
    assert admin_client.get(f"/admin/routing/signingkey/{second.pk}/delete/").status_code == 403
    response = admin_client.post(
        "/admin/routing/signingkey/", {"action": "make_signing", "_selected_action": [first.pk]}, follow=True
    )
    assert f"Notices are now signed with {first.fingerprint}" in response.content.decode()
    assert SigningKey.objects.get(active=True) == first
    assert AuditEntry.objects.filter(action=AuditAction.SETTING_CHANGED, object_id=str(first.pk)).count() == 2
