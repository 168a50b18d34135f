"""Handing one message to the mail backend, and sorting its failures into temporary (retry with a
growing delay) and permanent (the notice fails)."""

from __future__ import annotations

import contextlib
import logging
import smtplib
from datetime import timedelta
from typing import Any

from scart.mail import mail_failure_is_permanent, mail_failure_text

log = logging.getLogger(__name__)


def retry_delay(attempt: int) -> timedelta:
    """1, 2, 4, ... minutes, at most 2 hours."""
    return timedelta(minutes=min(2 ** max(attempt - 1, 0), 120))


class PermanentFailure(Exception):
    """It will never succeed: an SMTP 5xx to the message, an API's 4xx. With ``flag`` (the default)
    the recipient's address or account is at fault, and the provider's contact is flagged; without
    it the fault is ours (a notice an API cannot take), and the notice only fails."""

    def __init__(self, message: str = "", *, flag: bool = True) -> None:
        super().__init__(message)
        self.flag = flag


class TemporaryFailure(Exception):
    """It may succeed later: a timeout, an SMTP 4xx, an HTTP 429 or 5xx. ``retry_after`` is the
    delay the other side asked for (HTTP ``Retry-After``): the retry waits at least that long."""

    def __init__(self, message: str = "", *, retry_after: timedelta | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


def message_deliver(connection: Any, message: Any) -> None:
    """Hand one message to the mail backend, sorting failures into temporary and permanent."""
    try:
        connection.open()
    except (OSError, smtplib.SMTPException) as exc:
        # Our own relay refusing us (a 535 login, no STARTTLS) is an operator's fault that a fixed
        # configuration ends: the notices wait, with the growing delay, rather than every due
        # notice failing for a senior to resend by hand. It is logged as an error to be seen.
        if mail_failure_is_permanent(exc):
            reason = mail_failure_text(exc)
            log.error("the mail relay refused the connection (%s): notices wait until it is fixed", reason)
            raise TemporaryFailure(f"the mail server refused the connection: {reason}") from exc
        raise TemporaryFailure(f"cannot reach the mail server: {exc}") from exc
    try:
        sent = connection.send_messages([message])
    except (OSError, smtplib.SMTPException, ValueError) as exc:
        # ValueError: Django refuses an address it cannot encode (a malformed abuse address).
        reason = mail_failure_text(exc)
        if mail_failure_is_permanent(exc):
            raise PermanentFailure(f"the message cannot be sent: {reason}") from exc
        if not isinstance(exc, smtplib.SMTPResponseException | smtplib.SMTPRecipientsRefused):
            # No 250 after DATA: by SMTP's rules the message was not accepted.
            with contextlib.suppress(Exception):
                connection.close()
        raise TemporaryFailure(f"the message was not sent, for now: {reason}") from exc
    if sent == 0:
        raise TemporaryFailure("the mail backend sent nothing")
