"""Which failed mail deliveries are worth trying again, and the Message-ID of what scart sends.

``smtplib.SMTPException`` is an ``OSError``, so ``except OSError`` (or Celery's
``autoretry_for=(OSError,)``) also catches a 5xx answer, which no retry will change. Every
sender sorts its failures here first: retry what can succeed later, record the rest.
"""

from __future__ import annotations

import smtplib
from email.utils import make_msgid

from django.conf import settings


def new_message_id(*, kind: str) -> str:
    """A Message-ID for a message scart sends (``kind``: ``notice``, ``acknowledgement``), on the
    domain of the hotline's sender address, as receivers expect of the sender (not the machine's
    own name, ``@localhost`` on a workstation)."""
    domain = (settings.DEFAULT_FROM_EMAIL.rsplit("@", 1)[-1] or "scart.invalid").strip(">")
    return make_msgid(idstring=kind, domain=domain)


def mail_failure_is_permanent(exc: BaseException) -> bool:
    """True when trying the same message again cannot succeed.

    Permanent: a 5xx answer (to every recipient, when the server refused recipients), an
    extension the server does not offer (AUTH, STARTTLS), or an address Django cannot encode
    (a ``ValueError``). Temporary: 4xx answers, refused or dropped connections, timeouts.
    """
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _reply in exc.recipients.values()]
        return bool(codes) and all(code >= 500 for code in codes)
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    return isinstance(exc, smtplib.SMTPNotSupportedError | ValueError)


def mail_failure_text(exc: BaseException) -> str:
    """The server's answer in one line, for the record (``550 5.1.1 mailbox unavailable``)."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{addr}: {code} {_text(reply)}" for addr, (code, reply) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        return f"{exc.smtp_code} {_text(exc.smtp_error)}"
    return str(exc) or type(exc).__name__


def _text(reply: bytes | str) -> str:
    return reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
