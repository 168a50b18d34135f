"""`python manage.py pgp_key`: the hotline's OpenPGP key that signs notices.

``--generate`` makes a new key (Ed25519 with a signing and an encryption subkey) and makes it the
signing key; ``--import FILE`` does the same with a private key exported from elsewhere (ASCII
armour, without a passphrase: it is sealed at rest instead). ``--public`` prints the published
public keys; with no option, the keys are listed. The private key is never printed.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts.services import AuditContext
from routing.models import SigningKey
from routing.notices.openpgp import KeyInvalid, signing_key_generate, signing_key_read
from routing.notices.signing_keys import published_keys, signing_key_activate, signing_key_build


class Command(BaseCommand):
    help = "Generate or import the hotline's OpenPGP signing key, print its public key, or list the keys."

    def add_arguments(self, parser: CommandParser) -> None:
        action = parser.add_mutually_exclusive_group()
        action.add_argument("--generate", action="store_true", help="Make a new key and sign notices with it.")
        action.add_argument(
            "--import", dest="import_file", metavar="FILE", help="Sign notices with this private key (ASCII armour)."
        )
        action.add_argument("--public", action="store_true", help="Print the published public keys.")
        parser.add_argument(
            "--user-id",
            default="",
            help="The new key's user id (default: SCART_HOTLINE_NAME <the notices' reply address>).",
        )
        parser.add_argument(
            "--days", type=int, default=3 * 365, help="Days the new key is valid (0: no expiry). Default 1095."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["public"]:
            text = published_keys()
            if not text:
                raise CommandError("The hotline has no OpenPGP key: `manage.py pgp_key --generate` makes one.")
            self.stdout.write(text, ending="")
            return
        if options["generate"]:
            user_id = options["user_id"] or f"{settings.SCART_HOTLINE_NAME} <{settings.SCART_NOTICE_REPLY_TO}>"
            days = options["days"]
            tsk = signing_key_generate(user_id, valid_for=timedelta(days=days) if days > 0 else None)
        elif options["import_file"]:
            path = Path(options["import_file"])
            try:
                tsk = signing_key_read(path.read_text(encoding="utf-8"))
            except OSError as exc:
                raise CommandError(f"{path}: {exc.strerror}") from None
            except (KeyInvalid, UnicodeDecodeError) as exc:
                raise CommandError(f"{path}: {exc}") from None
        else:
            self._list()
            return
        key = signing_key_build(tsk)
        # A key imported again (a rotation undone) becomes the signing key once more.
        key = SigningKey.objects.filter(fingerprint=key.fingerprint).first() or key
        signing_key_activate(key=key, audit=AuditContext())
        expiry = f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "never"
        self.stdout.write(f"Notices are signed with {key.fingerprint} ({key.user_id}), valid until {expiry}.")
        if not settings.SCART_NOTICE_SIGN:
            self.stdout.write("SCART_NOTICE_SIGN is off: set it to 1 to sign notices.")
        self.stdout.write("Its public key: /openpgp-key.asc, or `manage.py pgp_key --public`.")

    def _list(self) -> None:
        keys = list(SigningKey.objects.all())
        if not keys:
            self.stdout.write("No OpenPGP key: `manage.py pgp_key --generate` makes one.")
        for key in keys:
            expiry = f"{key.expires_at:%Y-%m-%d}" if key.expires_at else "never"
            mark = "signs" if key.active else "published"
            self.stdout.write(f"{key.fingerprint}  {mark:<9}  expires {expiry}  {key.user_id}")
